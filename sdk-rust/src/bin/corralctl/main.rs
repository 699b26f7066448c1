//! `corralctl`: the command-line client for Corral, built on `corral-client`.
//!
//! Exit statuses are in [`cli::EXIT_HELP`] (and docs/corralctl.md); every error is one
//! line on stderr, `corralctl: <message>`. Nothing here panics on bad input.

mod cli;
mod output;
mod txnfile;

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser};

use corral_client::recipes::{LeaderElection, Mutex};
use corral_client::{
    Client, CreateOptions, DeleteOptions, Error, EventType, GetOptions, ListOptions,
    MemberChangeResponse, OpResult, PutOptions, Session, WatchOptions,
};
use serde_json::{json, Value};

use cli::{Cli, Command, EventKind, Format, LeaseCommand, MemberCommand, SnapshotCommand};
use output::{
    consistency, event_json, event_line, header, human_bytes, members_json, members_table, name,
    node, print_json, stat, stat_fields, status_json, status_table, table,
};

/// The request failed for another reason (a server error).
const EXIT_FAILED: u8 = 1;
/// Usage error or invalid input; clap uses the same for the errors it finds.
const EXIT_USAGE: u8 = 2;
/// Not found.
const EXIT_NOT_FOUND: u8 = 3;
/// Conflict or failed precondition (including a txn whose compares failed).
const EXIT_CONFLICT: u8 = 4;
/// Unavailable: timeout, no member reachable, lost session.
const EXIT_UNAVAILABLE: u8 = 5;

/// Why a command failed.
enum Failure {
    Client(Error),
    /// Bad input found by corralctl itself (a txn file, a command to run).
    Usage(String),
    /// A failure already reported on stderr; only the exit status is left to set.
    Reported(u8),
    /// A failure of corralctl's own work (a file, a child process).
    Other(String),
    Output(io::Error),
    /// Success with another status than 0 (e.g. the status of the command `lock` ran).
    Exit(u8),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Client(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

/// The exit status of a client error; see [`cli::EXIT_HELP`].
fn exit_status(e: &Error) -> u8 {
    match e {
        Error::InvalidEndpoint { .. } | Error::InvalidArgument { .. } => EXIT_USAGE,
        Error::NotFound { .. }
        | Error::ParentNotFound { .. }
        | Error::LeaseNotFound { .. }
        | Error::MemberNotFound { .. }
        | Error::NoLeader { .. } => EXIT_NOT_FOUND,
        Error::AlreadyExists { .. }
        | Error::LeaseExists { .. }
        | Error::VersionMismatch { .. }
        | Error::NotEmpty { .. }
        | Error::EphemeralParent { .. }
        | Error::FailedPrecondition { .. }
        | Error::Membership { .. }
        | Error::NotElectionLeader { .. }
        | Error::EntryGone { .. }
        | Error::RequestTooOld { .. }
        | Error::Compacted { .. } => EXIT_CONFLICT,
        Error::Unavailable { .. }
        | Error::Timeout { .. }
        | Error::Transport { .. }
        | Error::OutcomeUnknown { .. }
        | Error::WaitTimeout { .. }
        | Error::SessionLost { .. } => EXIT_UNAVAILABLE,
        _ => EXIT_FAILED,
    }
}

/// Writes `corralctl: <message>` as one line on stderr.
fn report(message: &str) {
    let line = message.replace(['\n', '\r'], " ");
    // Nothing sensible is left to do if stderr is gone too.
    let _ = writeln!(io::stderr(), "corralctl: {line}");
}

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        report(&format!("internal error (please report it): {info}"));
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::Output)
        .and_then(|runtime| runtime.block_on(run(cli)));
    let (message, code) = match result {
        Ok(()) => return ExitCode::SUCCESS,
        Err(Failure::Exit(code)) | Err(Failure::Reported(code)) => return ExitCode::from(code),
        // The reader went away (`corralctl ls -R / | head`): not an error.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            return ExitCode::SUCCESS
        }
        Err(Failure::Output(e)) => (format!("cannot write output: {e}"), EXIT_FAILED),
        Err(Failure::Client(e)) => (e.to_string(), exit_status(&e)),
        Err(Failure::Usage(message)) => (message, EXIT_USAGE),
        Err(Failure::Other(message)) => (message, EXIT_FAILED),
    };
    report(&message);
    ExitCode::from(code)
}

/// Prints clap's answer: `--help` and `--version` in full (exit 0); a usage error as
/// its first line only, with a pointer to `--help` (exit 2).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        report("a command is required (see corralctl --help)");
        return ExitCode::from(EXIT_USAGE);
    }
    // clap's first paragraph says what is wrong (and, for missing arguments, which);
    // its tips and usage follow after a blank line.
    let rendered = e.render().to_string();
    let first: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let first = first.join(" ");
    let first = first.strip_prefix("error: ").unwrap_or(&first);
    report(&format!("{first} (see corralctl --help)"));
    ExitCode::from(EXIT_USAGE)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.output == Format::Json;
    match cli.command {
        // Asks each endpoint itself, so it is not a call on one shared client.
        Command::Status => return status(&cli.endpoints, cli.timeout, json).await,
        Command::Completion { shell } => {
            let mut command = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "corralctl", &mut script);
            let mut out = io::stdout().lock();
            out.write_all(&script)?;
            out.flush()?;
            return Ok(());
        }
        _ => {}
    }
    let client = connect(&cli.endpoints, cli.timeout).await?;
    let mut out = io::stdout().lock();
    match cli.command {
        Command::Get { path, serializable } => {
            let options = GetOptions::new().consistency(consistency(serializable));
            let r = client.get(path, options).await?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "node": node(&r.node, true)}),
                )?;
            } else {
                out.write_all(&r.node.data)?;
                if !r.node.data.ends_with(b"\n") {
                    out.write_all(b"\n")?;
                }
            }
        }
        Command::Put {
            path,
            value,
            expected_version,
            create,
        } => {
            let mut options = PutOptions::new();
            if let Some(v) = expected_version {
                options = options.expected_version(v);
            }
            if create {
                options = options.create_if_missing();
            }
            let r = client.put(path, value, options).await?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "stat": stat(&r.stat)}),
                )?;
            } else {
                writeln!(
                    out,
                    "OK version={} revision={}",
                    r.stat.version, r.header.revision
                )?;
            }
        }
        Command::Create {
            path,
            value,
            sequential,
            parents,
            ephemeral,
            lease,
            ttl,
            container,
        } => {
            let mut options = CreateOptions::new();
            if sequential {
                options = options.sequential();
            }
            if parents {
                options = options.create_parents();
            }
            match (ephemeral, lease) {
                (true, Some(lease)) => options = options.ephemeral(lease),
                (false, Some(_)) => {
                    return Err(Failure::Usage("--lease needs --ephemeral".into()));
                }
                _ => {}
            }
            if let Some(ttl) = ttl {
                options = options.ttl(ttl);
            }
            if container {
                options = options.container();
            }
            let r = client
                .create(path, value.unwrap_or_default(), options)
                .await?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "path": r.path, "stat": stat(&r.stat)}),
                )?;
            } else {
                writeln!(out, "{}", r.path)?;
            }
        }
        Command::Ls {
            path,
            recursive,
            serializable,
        } => {
            let mut options = ListOptions::new().consistency(consistency(serializable));
            if recursive {
                options = options.recursive();
            }
            let r = client.list_all(path, options).await?;
            if json {
                let nodes: Vec<Value> = r.nodes.iter().map(|n| node(n, false)).collect();
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "nodes": nodes}),
                )?;
            } else {
                for n in &r.nodes {
                    let shown = if recursive { &n.path } else { name(&n.path) };
                    writeln!(out, "{shown}")?;
                }
            }
        }
        Command::Tree { path, serializable } => {
            let read = consistency(serializable);
            // The root must exist; an empty listing alone would not say so.
            client
                .get(&path, GetOptions::new().stat_only().consistency(read))
                .await?;
            let r = client
                .list_all(&path, ListOptions::new().recursive().consistency(read))
                .await?;
            if json {
                let nodes: Vec<Value> = r.nodes.iter().map(|n| node(n, false)).collect();
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "path": path, "nodes": nodes}),
                )?;
            } else {
                out.write_all(output::tree(&path, &r.nodes).as_bytes())?;
            }
        }
        Command::Rm {
            path,
            recursive,
            expected_version,
        } => {
            let mut options = DeleteOptions::new();
            if recursive {
                options = options.recursive();
            }
            if let Some(v) = expected_version {
                options = options.expected_version(v);
            }
            let r = client.delete(path, options).await?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "deleted": r.deleted}),
                )?;
            } else {
                writeln!(out, "deleted {}", r.deleted)?;
            }
        }
        Command::Stat { path, serializable } => {
            let options = GetOptions::new()
                .consistency(consistency(serializable))
                .stat_only();
            let r = client.get(path, options).await?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "node": node(&r.node, false)}),
                )?;
            } else {
                writeln!(out, "{:<18}{}", "path", r.node.path)?;
                for (key, value) in stat_fields(&r.node.stat) {
                    let value = value
                        .as_str()
                        .map_or_else(|| value.to_string(), String::from);
                    writeln!(out, "{key:<18}{value}")?;
                }
            }
        }
        Command::Watch {
            path,
            recursive,
            children,
            rev,
            prev,
            exclude,
            count,
        } => {
            drop(out);
            let mut options = WatchOptions::new();
            if recursive {
                options = options.subtree();
            }
            if children {
                options = options.children();
            }
            if let Some(rev) = rev {
                options = options.start_revision(rev);
            }
            if prev {
                options = options.prev_node();
            }
            for kind in exclude {
                options = options.exclude(match kind {
                    EventKind::Created => EventType::Created,
                    EventKind::Updated => EventType::Updated,
                    EventKind::Deleted => EventType::Deleted,
                });
            }
            return watch(&client, path, options, count, json).await;
        }
        Command::Txn { file } => {
            let text = match file {
                Some(file) if file.as_os_str() != "-" => std::fs::read_to_string(&file)
                    .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", file.display())))?,
                _ => {
                    let mut text = String::new();
                    io::stdin()
                        .read_to_string(&mut text)
                        .map_err(|e| Failure::Usage(format!("cannot read stdin: {e}")))?;
                    text
                }
            };
            let txn = txnfile::parse(&text).map_err(Failure::Usage)?;
            let r = client.txn(txn).await?;
            print_txn(&mut out, json, &r)?;
            out.flush()?;
            if !r.succeeded {
                return Err(Failure::Exit(EXIT_CONFLICT));
            }
        }
        Command::Lease(command) => {
            drop(out);
            return lease(&client, command, json).await;
        }
        Command::Lock {
            name,
            ttl,
            wait,
            command,
        } => {
            drop(out);
            return lock(&client, name, ttl, wait, command, json).await;
        }
        Command::Elect {
            name,
            value,
            listen,
            ttl,
            count,
        } => {
            drop(out);
            return elect(&client, name, value, listen, ttl, count, json).await;
        }
        Command::Member(MemberCommand::List) => {
            let r = client.member_list().await?;
            if json {
                print_json(
                    &mut out,
                    json!({
                        "header": header(&r.header),
                        "members": members_json(&r.members),
                        "leader_id": r.leader_id.unwrap_or(0),
                    }),
                )?;
            } else {
                out.write_all(members_table(&r.members, r.leader_id).as_bytes())?;
            }
        }
        Command::Member(MemberCommand::Add { id, peer_addr }) => {
            let r = client.member_add(id, peer_addr).await?;
            print_change(&mut out, json, &r)?;
        }
        Command::Member(MemberCommand::Promote { id }) => {
            let r = client.member_promote(id).await?;
            print_change(&mut out, json, &r)?;
        }
        Command::Member(MemberCommand::Remove { id }) => {
            let r = client.member_remove(id).await?;
            print_change(&mut out, json, &r)?;
        }
        Command::TransferLeader { id } => {
            let r = client.transfer_leader(id).await?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "leader_id": r.leader_id}),
                )?;
            } else {
                writeln!(out, "leader is member {}", r.leader_id)?;
            }
        }
        Command::Snapshot(SnapshotCommand::Save { file }) => {
            let partial = file.with_extension("part");
            let mut writer = tokio::fs::File::create(&partial)
                .await
                .map_err(|e| Failure::Other(format!("cannot create {}: {e}", partial.display())))?;
            let saved = client.snapshot(&mut writer).await;
            drop(writer);
            let info = match saved {
                Ok(info) => info,
                Err(e) => {
                    let _ = std::fs::remove_file(&partial);
                    return Err(match e {
                        Error::Unsupported { message } => Failure::Other(format!(
                            "snapshot: not supported by this server ({message})"
                        )),
                        other => Failure::Client(other),
                    });
                }
            };
            std::fs::rename(&partial, &file)
                .map_err(|e| Failure::Other(format!("cannot rename to {}: {e}", file.display())))?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&info.header), "bytes": info.bytes, "file": file.display().to_string()}),
                )?;
            } else {
                writeln!(
                    out,
                    "saved {} to {}",
                    human_bytes(info.bytes),
                    file.display()
                )?;
            }
        }
        Command::Compact { revision } => {
            let r = client.compact(revision).await?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "compact_revision": r.compact_revision}),
                )?;
            } else {
                writeln!(out, "compacted up to revision {}", r.compact_revision)?;
            }
        }
        Command::Status | Command::Completion { .. } => {
            unreachable!("answered before connecting")
        }
    }
    out.flush()?;
    Ok(())
}

async fn connect(endpoints: &[String], timeout: Duration) -> Result<Client, Error> {
    Client::builder(endpoints)
        .timeout(timeout)
        .connect_timeout(timeout)
        .connect()
        .await
}

/// Resolves on Ctrl-C (or never, if the signal cannot be listened for).
async fn interrupted() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// `corralctl watch`: one line (or JSON object) per event until Ctrl-C or `count`.
async fn watch(
    client: &Client,
    path: String,
    options: WatchOptions,
    count: Option<u64>,
    json: bool,
) -> Result<(), Failure> {
    let mut watcher = client.watch(path, options).await?;
    let mut printed = 0u64;
    loop {
        if count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
        let event = tokio::select! {
            event = watcher.next() => event,
            _ = interrupted() => return Ok(()),
        };
        let event = match event {
            Some(event) => event?,
            None => return Ok(()),
        };
        let mut out = io::stdout().lock();
        if json {
            serde_json::to_writer(&mut out, &event_json(&event)).map_err(io::Error::from)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", event_line(&event))?;
        }
        out.flush()?;
        printed += 1;
    }
}

/// The results of a txn: `SUCCEEDED`/`FAILED` and one line per op, or the JSON shape.
fn print_txn(out: &mut impl Write, json: bool, r: &corral_client::TxnResponse) -> io::Result<()> {
    if json {
        let results: Vec<Value> = r
            .results
            .iter()
            .map(|result| match result {
                OpResult::Create { path, stat: s } => {
                    json!({"create": {"path": path, "stat": stat(s)}})
                }
                OpResult::Put { stat: s, prev_node } => {
                    let mut v = json!({"put": {"stat": stat(s)}});
                    if let Some(prev) = prev_node {
                        v["put"]["prev_node"] = node(prev, true);
                    }
                    v
                }
                OpResult::Delete { deleted } => json!({"delete": {"deleted": deleted}}),
                OpResult::Get { node: n } => {
                    json!({"get": {"node": n.as_ref().map(|n| node(n, true))}})
                }
                OpResult::List { nodes, more } => json!({"list": {
                    "nodes": nodes.iter().map(|n| node(n, true)).collect::<Vec<_>>(),
                    "more": more,
                }}),
                _ => json!({}),
            })
            .collect();
        return print_json(
            out,
            json!({"header": header(&r.header), "succeeded": r.succeeded, "results": results}),
        );
    }
    writeln!(
        out,
        "{} revision={}",
        if r.succeeded { "SUCCEEDED" } else { "FAILED" },
        r.header.revision
    )?;
    for result in &r.results {
        match result {
            OpResult::Create { path, .. } => writeln!(out, "created {path}")?,
            OpResult::Put { stat, .. } => writeln!(out, "put version={}", stat.version)?,
            OpResult::Delete { deleted } => writeln!(out, "deleted {deleted}")?,
            OpResult::Get { node: Some(n) } => {
                writeln!(out, "get {} {}", n.path, output::printable(&n.data))?
            }
            OpResult::Get { node: None } => writeln!(out, "get (absent)")?,
            OpResult::List { nodes, more } => {
                writeln!(
                    out,
                    "list {} znodes{}",
                    nodes.len(),
                    if *more { " (more)" } else { "" }
                )?;
                for n in nodes {
                    writeln!(out, "  {}", n.path)?;
                }
            }
            _ => writeln!(out, "(unknown result)")?,
        }
    }
    Ok(())
}

/// `corralctl lease ...`.
async fn lease(client: &Client, command: LeaseCommand, json: bool) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    match command {
        LeaseCommand::Grant { ttl } => {
            let r = client.lease_grant(ttl).await?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "lease_id": r.lease_id, "ttl_ms": r.ttl.as_millis() as u64}),
                )?;
            } else {
                writeln!(out, "{}", r.lease_id)?;
            }
        }
        LeaseCommand::Keepalive { id, once } => {
            drop(out);
            let mut keeper = client.lease_keep_alive(id);
            loop {
                let ttl = keeper.keep_alive().await?;
                let mut out = io::stdout().lock();
                if json {
                    serde_json::to_writer(
                        &mut out,
                        &json!({"lease_id": id, "ttl_ms": ttl.as_millis() as u64}),
                    )
                    .map_err(io::Error::from)?;
                    writeln!(out)?;
                } else {
                    writeln!(out, "lease {id} kept alive, ttl {}s", ttl.as_secs_f64())?;
                }
                out.flush()?;
                if once {
                    return Ok(());
                }
                tokio::select! {
                    _ = tokio::time::sleep(ttl / 3) => {}
                    _ = interrupted() => return Ok(()),
                }
            }
        }
        LeaseCommand::Revoke { id } => {
            let r = client.lease_revoke(id).await?;
            if json {
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "deleted": r.deleted}),
                )?;
            } else {
                writeln!(out, "revoked lease {id}, deleted {} znodes", r.deleted)?;
            }
        }
        LeaseCommand::Ttl { id, nodes } => {
            let r = client.lease_time_to_live(id, nodes).await?;
            if json {
                print_json(
                    &mut out,
                    json!({
                        "header": header(&r.header),
                        "lease_id": r.lease_id,
                        "ttl_ms": r.ttl.as_millis() as u64,
                        "remaining_ms": r.remaining.as_millis() as u64,
                        "nodes": r.nodes,
                    }),
                )?;
            } else {
                writeln!(
                    out,
                    "lease {} ttl {}s remaining {}s",
                    r.lease_id,
                    r.ttl.as_secs_f64(),
                    r.remaining.as_secs_f64()
                )?;
                for n in &r.nodes {
                    writeln!(out, "  {n}")?;
                }
            }
        }
        LeaseCommand::List => {
            let r = client.lease_list().await?;
            if json {
                let leases: Vec<Value> = r
                    .leases
                    .iter()
                    .map(|l| json!({"lease_id": l.lease_id, "ttl_ms": l.ttl.as_millis() as u64}))
                    .collect();
                print_json(
                    &mut out,
                    json!({"header": header(&r.header), "leases": leases}),
                )?;
            } else {
                let rows: Vec<Vec<String>> = r
                    .leases
                    .iter()
                    .map(|l| vec![l.lease_id.to_string(), format!("{}s", l.ttl.as_secs_f64())])
                    .collect();
                out.write_all(table(&["LEASE", "TTL"], &rows).as_bytes())?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// `corralctl lock NAME [-- CMD...]`: takes the lock with a session of `ttl`, runs CMD
/// (with `CORRAL_LOCK_KEY` and `CORRAL_FENCING_TOKEN` in its environment) and exits
/// with its status; without CMD, holds the lock until Ctrl-C. If the session is lost
/// while CMD runs, CMD is killed and the exit status is 5.
async fn lock(
    client: &Client,
    name: String,
    ttl: Duration,
    wait: Option<Duration>,
    command: Vec<String>,
    json: bool,
) -> Result<(), Failure> {
    let session = Session::new(client, ttl).await?;
    let mutex = Mutex::new(&session, &name);
    let acquired = tokio::select! {
        guard = async {
            match wait {
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
            return Err(e.into());
        }
    };
    let result = if command.is_empty() {
        {
            let mut out = io::stdout().lock();
            if json {
                serde_json::to_writer(
                    &mut out,
                    &json!({"key": guard.key(), "fencing_token": guard.fencing_token()}),
                )
                .map_err(io::Error::from)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{} fencing_token={}",
                    guard.key(),
                    guard.fencing_token()
                )?;
            }
            out.flush()?;
        }
        tokio::select! {
            _ = interrupted() => Ok(()),
            lost = session.lost() => Err(Failure::Client(lost)),
        }
    } else {
        run_holding(&command, &guard, &session).await
    };
    let _ = guard.unlock().await;
    let _ = session.close().await;
    result
}

/// Runs `command` while `guard` is held; its exit status becomes corralctl's.
async fn run_holding(
    command: &[String],
    guard: &corral_client::recipes::MutexGuard,
    session: &Session,
) -> Result<(), Failure> {
    let mut child = tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .env("CORRAL_LOCK_KEY", guard.key())
        .env("CORRAL_FENCING_TOKEN", guard.fencing_token().to_string())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Failure::Usage(format!("cannot run {}: {e}", command[0])))?;
    let status = tokio::select! {
        status = child.wait() => status.map_err(|e| Failure::Other(format!("waiting for {}: {e}", command[0])))?,
        lost = session.lost() => {
            let _ = child.kill().await;
            report(&format!(
                "{lost}: the lock was lost while {} ran; it was killed",
                command[0]
            ));
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

/// `corralctl elect NAME VALUE` (campaign, lead until Ctrl-C) or `elect -l NAME`
/// (print the leaders).
async fn elect(
    client: &Client,
    name: String,
    value: Option<String>,
    listen: bool,
    ttl: Duration,
    count: Option<u64>,
    json: bool,
) -> Result<(), Failure> {
    let print = |leader: &Option<corral_client::LeaderKey>| -> io::Result<()> {
        let mut out = io::stdout().lock();
        match (leader, json) {
            (Some(l), true) => {
                serde_json::to_writer(
                    &mut out,
                    &json!({
                        "name": l.name,
                        "key": l.key,
                        "value": output::printable(&l.value),
                        "create_revision": l.create_revision,
                        "lease_id": l.lease_id,
                    }),
                )?;
                writeln!(out)?;
            }
            (None, true) => writeln!(out, "{}", json!({"name": name, "key": null}))?,
            (Some(l), false) => writeln!(
                out,
                "{} {} {}",
                l.key,
                l.create_revision,
                output::printable(&l.value)
            )?,
            (None, false) => writeln!(out, "(no leader)")?,
        }
        out.flush()
    };
    if listen {
        let mut observer = client.observe(&name).await?;
        let mut printed = 0u64;
        while count.is_none_or(|c| printed < c) {
            let leader = tokio::select! {
                leader = observer.next() => leader,
                _ = interrupted() => return Ok(()),
            };
            match leader {
                Some(leader) => print(&leader?)?,
                None => return Ok(()),
            }
            printed += 1;
        }
        return Ok(());
    }
    let session = Session::new(client, ttl).await?;
    let election = LeaderElection::new(&session, &name);
    let leadership = tokio::select! {
        leadership = election.campaign(value.unwrap_or_default()) => leadership,
        _ = interrupted() => {
            let _ = session.close().await;
            return Err(Failure::Reported(130));
        }
    };
    let leadership = match leadership {
        Ok(l) => l,
        Err(e) => {
            let _ = session.close().await;
            return Err(e.into());
        }
    };
    print(&Some(leadership.key().clone()))?;
    let result = tokio::select! {
        _ = interrupted() => Ok(()),
        lost = session.lost() => Err(Failure::Client(lost)),
    };
    let _ = leadership.resign().await;
    let _ = session.close().await;
    result
}

/// `corralctl status`: one row (or JSON object) per endpoint, each asked on its own
/// connection; an endpoint that fails is reported on stderr and makes the exit status
/// that of its error once the others are printed.
async fn status(endpoints: &[String], timeout: Duration, json: bool) -> Result<(), Failure> {
    // All at once, so a member that does not answer delays the others by one timeout
    // at most, not one each.
    let mut asks = tokio::task::JoinSet::new();
    for (i, endpoint) in endpoints.iter().enumerate() {
        let endpoint = endpoint.clone();
        asks.spawn(async move {
            let answer = async { connect(&[endpoint], timeout).await?.status().await };
            (i, answer.await)
        });
    }
    let mut answers = Vec::new();
    while let Some(joined) = asks.join_next().await {
        answers.push(joined.map_err(|e| Failure::Other(format!("status task failed: {e}")))?);
    }
    answers.sort_by_key(|(i, _)| *i);
    let mut rows = Vec::new();
    let mut failed = None;
    for (i, answer) in answers {
        let endpoint = &endpoints[i];
        match answer {
            Ok(status) => rows.push((endpoint.as_str(), status)),
            Err(e @ Error::InvalidEndpoint { .. }) => return Err(e.into()),
            Err(e) => {
                report(&format!("{endpoint}: {e}"));
                failed = Some(exit_status(&e));
            }
        }
    }
    let mut out = io::stdout().lock();
    if json {
        let statuses: Vec<Value> = rows.iter().map(|(e, s)| status_json(e, s)).collect();
        print_json(&mut out, Value::Array(statuses))?;
    } else if !rows.is_empty() {
        out.write_all(status_table(&rows).as_bytes())?;
    }
    out.flush()?;
    match failed {
        Some(code) => Err(Failure::Reported(code)),
        None => Ok(()),
    }
}

/// The members after a change: the table, or `{header, members}`.
fn print_change(out: &mut impl Write, json: bool, r: &MemberChangeResponse) -> io::Result<()> {
    if json {
        print_json(
            out,
            json!({"header": header(&r.header), "members": members_json(&r.members)}),
        )
    } else {
        out.write_all(members_table(&r.members, None).as_bytes())
    }
}

#[cfg(test)]
mod tests;
