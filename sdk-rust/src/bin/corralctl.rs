//! `corralctl`: a command-line client for Corral built on `corral-client`.
//!
//! Exit status: 0 on success, 1 when the request failed (an error from the server, a
//! timeout, or no connection), 2 on a usage error (including an invalid endpoint).
//! Errors are one line on stderr.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use base64::Engine as _;
use clap::{Parser, Subcommand, ValueEnum};
use corral_client::{
    Client, CreateOptions, DeleteOptions, GetOptions, Header, ListOptions, Member,
    MemberChangeResponse, Node, PutOptions, Stat, Status,
};
use serde_json::{json, Value};

/// Command-line client for Corral.
#[derive(Debug, Parser)]
#[command(
    name = "corralctl",
    version,
    after_help = "Exit status: 0 success, 1 the request failed (server error, timeout or \
                  no connection), 2 usage error (including an invalid endpoint)."
)]
struct Cli {
    /// Members to talk to, comma-separated (host:port or http://host:port).
    #[arg(
        long,
        global = true,
        env = "CORRAL_ENDPOINTS",
        default_value = "127.0.0.1:2479",
        value_delimiter = ','
    )]
    endpoints: Vec<String>,

    /// Time limit per request, e.g. 500ms, 5s, 1m (a bare number is seconds).
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,

    /// Output format: table for people, json (the API's response shape) for scripts.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    output: Format,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a znode's data.
    Get {
        /// Absolute path of the znode.
        path: String,
        /// Read from the member's local state (may be stale) instead of a linearizable read.
        #[arg(long)]
        serializable: bool,
    },
    /// Set a znode's data.
    Put {
        /// Absolute path of the znode.
        path: String,
        /// New data.
        value: String,
        /// Only if the znode is at this version (compare-and-set).
        #[arg(long)]
        expected_version: Option<i64>,
        /// Create the znode if it does not exist.
        #[arg(long)]
        create: bool,
    },
    /// Create a znode and print its path.
    Create {
        /// Absolute path (for --sequential, the prefix the counter is appended to).
        path: String,
        /// Initial data (default empty).
        value: Option<String>,
        /// Append a 10-digit counter to the name.
        #[arg(short, long)]
        sequential: bool,
        /// Create missing parents.
        #[arg(short, long)]
        parents: bool,
    },
    /// List a znode's children (names), or with -R its subtree (full paths).
    Ls {
        /// Absolute path of the znode.
        path: String,
        /// List the whole subtree.
        #[arg(short = 'R', long)]
        recursive: bool,
        /// Read from the member's local state (may be stale).
        #[arg(long)]
        serializable: bool,
    },
    /// Delete a znode.
    Rm {
        /// Absolute path of the znode.
        path: String,
        /// Delete its whole subtree too.
        #[arg(short, long)]
        recursive: bool,
        /// Only if the znode is at this version.
        #[arg(long)]
        expected_version: Option<i64>,
    },
    /// Print a znode's metadata.
    Stat {
        /// Absolute path of the znode.
        path: String,
        /// Read from the member's local state (may be stale).
        #[arg(long)]
        serializable: bool,
    },
    /// List or change the cluster's members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Print the status of each member named in --endpoints (each asked directly).
    Status,
    /// Move leadership to the named voter and print the new leader.
    TransferLeader {
        /// Raft id of the voter to make leader.
        id: u64,
    },
}

#[derive(Debug, Subcommand)]
enum MemberCommand {
    /// List voters and learners, and which one leads.
    List,
    /// Add a learner; start its process first with `corral serve --join`.
    Add {
        /// Raft id of the new member (≥ 1, not in use).
        id: u64,
        /// Its peer (Raft) address, ip:port.
        peer_addr: String,
    },
    /// Make a caught-up learner a voter.
    Promote {
        /// Raft id of the learner.
        id: u64,
    },
    /// Remove a voter or learner.
    Remove {
        /// Raft id of the member.
        id: u64,
    },
}

/// Exit status when the request failed (server error, timeout, no connection).
const EXIT_FAILED: u8 = 1;
/// Exit status of a usage error; clap uses the same for the errors it finds.
const EXIT_USAGE: u8 = 2;

/// Why a command failed.
enum Failure {
    Client(corral_client::Error),
    /// A failure already reported on stderr; only the exit status is left to set.
    Reported,
    /// A bug in corralctl itself.
    Internal(String),
    Output(io::Error),
}

impl From<corral_client::Error> for Failure {
    fn from(e: corral_client::Error) -> Self {
        Failure::Client(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn main() -> ExitCode {
    // Usage errors exit 2 here, --help and --version exit 0.
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Failure::Output)
        .and_then(|runtime| runtime.block_on(run(cli)));
    let (message, code) = match result {
        Ok(()) => return ExitCode::SUCCESS,
        // The reader went away (`corralctl ls -R / | head`): not an error.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
            return ExitCode::SUCCESS
        }
        Err(Failure::Output(e)) => (format!("cannot write output: {e}"), EXIT_FAILED),
        Err(Failure::Client(e @ corral_client::Error::InvalidEndpoint { .. })) => {
            (e.to_string(), EXIT_USAGE)
        }
        Err(Failure::Client(e)) => (e.to_string(), EXIT_FAILED),
        Err(Failure::Reported) => return ExitCode::from(EXIT_FAILED),
        Err(Failure::Internal(message)) => (message, EXIT_FAILED),
    };
    let line = message.replace(['\n', '\r'], " ");
    // Nothing sensible is left to do if stderr is gone too.
    let _ = writeln!(io::stderr(), "corralctl: {line}");
    ExitCode::from(code)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.output == Format::Json;
    if let Command::Status = cli.command {
        // Asks each endpoint itself, so it is not a call on one shared client.
        return status(&cli.endpoints, cli.timeout, json).await;
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
        } => {
            let mut options = CreateOptions::new();
            if sequential {
                options = options.sequential();
            }
            if parents {
                options = options.create_parents();
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
        Command::Status => unreachable!("status is answered before connecting"),
    }
    out.flush()?;
    Ok(())
}

async fn connect(endpoints: &[String], timeout: Duration) -> corral_client::Result<Client> {
    Client::builder(endpoints)
        .timeout(timeout)
        .connect_timeout(timeout)
        .connect()
        .await
}

/// `corralctl status`: one row (or JSON object) per endpoint, each asked on its own
/// connection; an endpoint that fails is reported on stderr and makes the exit status 1
/// once the others are printed.
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
        answers.push(joined.map_err(|e| Failure::Internal(format!("status task failed: {e}")))?);
    }
    answers.sort_by_key(|(i, _)| *i);
    let mut rows = Vec::new();
    let mut failed = false;
    for (i, answer) in answers {
        let endpoint = &endpoints[i];
        match answer {
            Ok(status) => rows.push((endpoint.as_str(), status)),
            Err(e @ corral_client::Error::InvalidEndpoint { .. }) => return Err(e.into()),
            Err(e) => {
                let line = format!("{endpoint}: {e}").replace(['\n', '\r'], " ");
                let _ = writeln!(io::stderr(), "corralctl: {line}");
                failed = true;
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
    if failed {
        return Err(Failure::Reported);
    }
    Ok(())
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

fn members_json(members: &[Member]) -> Vec<Value> {
    members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id,
                "peer_addr": m.peer_addr,
                "is_learner": m.is_learner,
            })
        })
        .collect()
}

/// `ID  PEER ADDR  ROLE` rows; the role is `leader` only when `leader` is known.
fn members_table(members: &[Member], leader: Option<u64>) -> String {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let role = if m.is_learner {
                "learner"
            } else if leader == Some(m.member_id) {
                "leader"
            } else {
                "voter"
            };
            vec![m.member_id.to_string(), m.peer_addr.clone(), role.into()]
        })
        .collect();
    table(&["ID", "PEER ADDR", "ROLE"], &rows)
}

fn status_json(endpoint: &str, s: &Status) -> Value {
    json!({
        "endpoint": endpoint,
        "header": header(&s.header),
        "member_id": s.member_id,
        "leader_id": s.leader_id.unwrap_or(0),
        "raft_term": s.raft_term,
        "commit_index": s.commit_index,
        "applied_index": s.applied_index,
        "revision": s.revision,
        "db_size_bytes": s.db_size_bytes,
        "version": s.version,
        "last_log_index": s.last_log_index,
        "is_learner": s.is_learner,
        "snapshot_index": s.snapshot_index.unwrap_or(0),
        "snapshot_installs": s.snapshot_installs,
    })
}

/// One row per member: what an operator checks first (who leads, is everyone at the
/// same term and index, how big is the database).
fn status_table(rows: &[(&str, Status)]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(endpoint, s)| {
            let role = if s.is_learner {
                "learner"
            } else if s.is_leader() {
                "leader"
            } else {
                "follower"
            };
            vec![
                endpoint.to_string(),
                s.member_id.to_string(),
                role.into(),
                s.leader_id.map_or_else(|| "none".into(), |l| l.to_string()),
                s.raft_term.to_string(),
                s.last_log_index.to_string(),
                s.commit_index.to_string(),
                s.applied_index.to_string(),
                s.snapshot_index
                    .map_or_else(|| "-".into(), |i| i.to_string()),
                s.revision.to_string(),
                human_bytes(s.db_size_bytes),
                s.version.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ENDPOINT", "ID", "ROLE", "LEADER", "TERM", "LAST LOG", "COMMIT", "APPLIED",
            "SNAPSHOT", "REVISION", "DB SIZE", "VERSION",
        ],
        &rows,
    )
}

/// Left-aligned columns two spaces apart, no trailing spaces.
fn table(headings: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headings.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let headings: Vec<String> = headings.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&headings).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `512 B`, `1.5 KiB`, `20.0 MiB`, ...
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

fn consistency(serializable: bool) -> corral_client::Consistency {
    if serializable {
        corral_client::Consistency::Serializable
    } else {
        corral_client::Consistency::Linearizable
    }
}

/// The last segment of a path (`/` for the root).
fn name(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((_, "")) | None => path,
        Some((_, last)) => last,
    }
}

fn print_json(out: &mut impl Write, value: Value) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}

fn header(h: &Header) -> Value {
    json!({
        "cluster_id": h.cluster_id,
        "member_id": h.member_id,
        "revision": h.revision,
        "raft_term": h.raft_term,
    })
}

/// A znode as JSON; `data` is base64, as in the protobuf JSON mapping.
fn node(n: &Node, with_data: bool) -> Value {
    let mut v = json!({"path": n.path, "stat": stat(&n.stat)});
    if with_data {
        v["data"] = base64::engine::general_purpose::STANDARD
            .encode(&n.data)
            .into();
    }
    v
}

/// Stat fields in the API's order, with the API's names.
fn stat_fields(s: &Stat) -> [(&'static str, Value); 13] {
    [
        ("create_revision", s.create_revision.into()),
        ("mod_revision", s.mod_revision.into()),
        ("version", s.version.into()),
        ("children_version", s.children_version.into()),
        ("acl_version", s.acl_version.into()),
        ("children_revision", s.children_revision.into()),
        ("lease_id", s.lease_id.into()),
        ("data_length", s.data_length.into()),
        ("num_children", s.num_children.into()),
        ("ctime_ms", s.ctime_ms.into()),
        ("mtime_ms", s.mtime_ms.into()),
        ("kind", s.kind.as_str().into()),
        ("ttl_ms", s.ttl_ms.into()),
    ]
}

/// The stat as a JSON object (keys sorted by serde_json).
fn stat(s: &Stat) -> Value {
    Value::Object(
        stat_fields(s)
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect(),
    )
}

/// Parses `500ms`, `5s`, `2m`, `1h` or a bare number of seconds; must be positive.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 500ms, 5s or 1m"))?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        other => return Err(format!("unknown unit {other:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?} must be a positive duration"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_accept_the_documented_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["", "0", "0s", "s", "5 parsecs", "-1s", "1e400"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn endpoints_flag_splits_on_commas() {
        let cli = Cli::try_parse_from([
            "corralctl",
            "--endpoints",
            "127.0.0.1:1,127.0.0.1:2",
            "get",
            "/a",
        ])
        .expect("valid command line");
        assert_eq!(cli.endpoints, ["127.0.0.1:1", "127.0.0.1:2"]);
    }

    #[test]
    fn cluster_commands_parse() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(std::iter::once("corralctl").chain(args.iter().copied()))
                .map(|cli| cli.command)
        };
        assert!(matches!(
            parse(&["member", "add", "4", "127.0.0.1:2510"]),
            Ok(Command::Member(MemberCommand::Add { id: 4, ref peer_addr })) if peer_addr == "127.0.0.1:2510"
        ));
        assert!(matches!(
            parse(&["member", "promote", "4"]),
            Ok(Command::Member(MemberCommand::Promote { id: 4 }))
        ));
        assert!(matches!(
            parse(&["member", "remove", "4"]),
            Ok(Command::Member(MemberCommand::Remove { id: 4 }))
        ));
        assert!(matches!(
            parse(&["member", "list"]),
            Ok(Command::Member(MemberCommand::List))
        ));
        assert!(matches!(
            parse(&["transfer-leader", "2"]),
            Ok(Command::TransferLeader { id: 2 })
        ));
        assert!(matches!(
            parse(&["-o", "json", "status"]),
            Ok(Command::Status)
        ));
        for bad in [
            &["member", "add", "four", "127.0.0.1:2510"][..],
            &["member", "add", "4"],
            &["member", "promote", "-1"],
            &["transfer-leader"],
            &["member"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be a usage error");
        }
    }

    fn member(id: u64, learner: bool) -> Member {
        Member {
            member_id: id,
            peer_addr: format!("127.0.0.1:{}", 2470 + 10 * id),
            is_learner: learner,
        }
    }

    #[test]
    fn member_table_marks_the_leader_and_learners() {
        let members = [member(1, false), member(2, false), member(14, true)];
        assert_eq!(
            members_table(&members, Some(2)),
            "ID  PEER ADDR       ROLE\n\
             1   127.0.0.1:2480  voter\n\
             2   127.0.0.1:2490  leader\n\
             14  127.0.0.1:2610  learner\n"
        );
        assert!(!members_table(&members, None).contains("leader"));
    }

    fn status(member_id: u64, leader: Option<u64>) -> Status {
        Status {
            header: Header::default(),
            member_id,
            leader_id: leader,
            raft_term: 3,
            commit_index: 120,
            applied_index: 119,
            revision: 97,
            db_size_bytes: 3 * 1024 * 1024 / 2,
            version: "0.1.0".into(),
            last_log_index: 121,
            is_learner: false,
            snapshot_index: None,
            snapshot_installs: 0,
        }
    }

    #[test]
    fn status_table_has_a_row_per_member() {
        let rows = [
            ("127.0.0.1:2479", status(1, Some(1))),
            ("127.0.0.1:2489", status(2, None)),
        ];
        assert_eq!(
            status_table(&rows),
            "ENDPOINT        ID  ROLE      LEADER  TERM  LAST LOG  COMMIT  APPLIED  SNAPSHOT  REVISION  DB SIZE  VERSION\n\
             127.0.0.1:2479  1   leader    1       3     121       120     119      -         97        1.5 MiB  0.1.0\n\
             127.0.0.1:2489  2   follower  none    3     121       120     119      -         97        1.5 MiB  0.1.0\n"
        );
        let json = status_json("127.0.0.1:2489", &rows[1].1);
        assert_eq!(json["leader_id"], 0);
        assert_eq!(json["snapshot_index"], 0);
        assert_eq!(json["endpoint"], "127.0.0.1:2489");
        assert_eq!(json["db_size_bytes"], 3 * 1024 * 1024 / 2);
    }

    #[test]
    fn sizes_are_shown_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1.0 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(20 * 1024 * 1024), "20.0 MiB");
        assert_eq!(human_bytes(u64::MAX), "16384.0 PiB");
    }

    #[test]
    fn ls_shows_names_of_children() {
        assert_eq!(name("/a/b"), "b");
        assert_eq!(name("/a"), "a");
        assert_eq!(name("/"), "/");
    }
}
