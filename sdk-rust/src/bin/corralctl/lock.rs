//! `lock NAME [-- CMD...]`: takes the lock with a session of `--ttl`, runs CMD (with
//! `CORRAL_LOCK_KEY` and `CORRAL_FENCING_TOKEN` in its environment) and exits with its
//! status; without CMD, prints the key and holds the lock until Ctrl-C. If the session
//! is lost while CMD runs, CMD is killed and the exit status is 5.

use corral_client::recipes::{Mutex, MutexGuard};
use corral_client::Session;

use crate::cli::LockArgs;
use crate::failure::{Call, Failure, EXIT_FAILED, EXIT_UNAVAILABLE};
use crate::output::{Printer, Shown};
use crate::{interrupted, report, wire, Ctx};

pub async fn lock(ctx: &Ctx, args: LockArgs) -> Result<(), Failure> {
    let session = Session::new(ctx.client().await?, args.ttl)
        .await
        .map_err(Failure::call(Call::Read))?;
    let mutex = Mutex::new(&session, &args.name);
    let acquired = tokio::select! {
        guard = async {
            match args.wait {
                Some(wait) => mutex.lock_timeout(wait).await,
                None => mutex.lock().await,
            }
        } => guard,
        _ = interrupted() => {
            let _ = session.close().await;
            return Err(Failure::Reported(130));
        }
    };
    let guard = match acquired {
        Ok(guard) => guard,
        Err(e) => {
            let _ = session.close().await;
            return Err(Failure::Client(Box::new(e), Call::Read));
        }
    };
    let result = if args.command.is_empty() {
        hold(ctx.out, &guard, &session).await
    } else {
        run_holding(&args.command, &guard, &session).await
    };
    let _ = guard.unlock().await;
    let _ = session.close().await;
    result
}

/// Prints the key and fencing token, then holds the lock until Ctrl-C.
async fn hold(out: Printer, guard: &MutexGuard, session: &Session) -> Result<(), Failure> {
    let text = format!("{} fencing_token={}\n", guard.key(), guard.fencing_token());
    let held = wire::lock(guard.key(), guard.fencing_token());
    out.print_item(Shown::message(&held, text))?;
    tokio::select! {
        _ = interrupted() => Ok(()),
        lost = session.lost() => Err(Failure::Client(Box::new(lost), Call::Read)),
    }
}

/// Runs `command` while `guard` is held; its exit status becomes corralctl's.
async fn run_holding(
    command: &[String],
    guard: &MutexGuard,
    session: &Session,
) -> Result<(), Failure> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Failure::Usage("no command to run".into()))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("CORRAL_LOCK_KEY", guard.key())
        .env("CORRAL_FENCING_TOKEN", guard.fencing_token().to_string())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Usage(format!("cannot run {program}: {e}")))?;
    let status = tokio::select! {
        status = child.wait() => status.map_err(|e| Failure::Other(format!("waiting for {program}: {e}")))?,
        lost = session.lost() => {
            let _ = child.kill().await;
            report(&format!("{lost}: the lock was lost while {program} ran; it was killed"));
            return Err(Failure::Reported(EXIT_UNAVAILABLE));
        }
    };
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(Failure::Exit(u8::try_from(code).unwrap_or(EXIT_FAILED))),
        None => Err(Failure::Exit(128 + signal_of(&status))),
    }
}

#[cfg(unix)]
fn signal_of(status: &std::process::ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    status
        .signal()
        .and_then(|s| u8::try_from(s).ok())
        .unwrap_or(0)
}

#[cfg(not(unix))]
fn signal_of(_: &std::process::ExitStatus) -> u8 {
    0
}
