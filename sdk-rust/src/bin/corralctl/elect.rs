//! `elect NAME VALUE` (campaign, lead until Ctrl-C, resign) and `elect -l NAME`
//! (print the election's leader now and after each change).

use corral_client::recipes::LeaderElection;
use corral_client::{LeaderKey, Session};

use crate::cli::ElectArgs;
use crate::failure::{Call, Failure};
use crate::output::{printable, Shown};
use crate::{interrupted, wire, Ctx};

/// `KEY CREATE_REVISION VALUE`, or `(no leader)`.
pub fn leader_line(leader: Option<&LeaderKey>) -> String {
    match leader {
        Some(l) => format!("{} {} {}\n", l.key, l.create_revision, printable(&l.value)),
        None => "(no leader)\n".into(),
    }
}

pub async fn elect(ctx: &Ctx, args: ElectArgs) -> Result<(), Failure> {
    if args.listen {
        return listen(ctx, &args.name, args.count).await;
    }
    let session = Session::new(ctx.client().await?, args.ttl)
        .await
        .map_err(Failure::call(Call::Read))?;
    let election = LeaderElection::new(&session, &args.name);
    let leadership = tokio::select! {
        leadership = election.campaign(args.value.unwrap_or_default()) => leadership,
        _ = interrupted() => {
            let _ = session.close().await;
            return Err(Failure::Reported(130));
        }
    };
    let leadership = match leadership {
        Ok(l) => l,
        Err(e) => {
            let _ = session.close().await;
            return Err(Failure::Client(Box::new(e), Call::Read));
        }
    };
    let key = leadership.key();
    ctx.out
        .print_item(Shown::message(&wire::campaign(key), leader_line(Some(key))))?;
    let result = tokio::select! {
        _ = interrupted() => Ok(()),
        lost = session.lost() => Err(Failure::Client(Box::new(lost), Call::Read)),
    };
    let _ = leadership.resign().await;
    let _ = session.close().await;
    result
}

/// `elect -l`: one line (or `corral.v1.LeaderResponse`) per leader seen.
async fn listen(ctx: &Ctx, name: &str, count: Option<u64>) -> Result<(), Failure> {
    let mut observer = ctx
        .client()
        .await?
        .observe(name)
        .await
        .map_err(Failure::call(Call::Read))?;
    let mut printed = 0u64;
    // One listener for the whole loop, polled first (see `watch`).
    let interrupt = interrupted();
    tokio::pin!(interrupt);
    while count.is_none_or(|c| printed < c) {
        let leader = tokio::select! {
            biased;
            _ = &mut interrupt => return Ok(()),
            leader = observer.next() => leader,
        };
        let Some(leader) = leader else {
            return Ok(());
        };
        let leader = leader.map_err(Failure::call(Call::Read))?;
        ctx.out.print_item(Shown::message(
            &wire::leader(leader.as_ref()),
            leader_line(leader.as_ref()),
        ))?;
        printed += 1;
    }
    Ok(())
}
