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
    Client, CreateOptions, DeleteOptions, GetOptions, Header, ListOptions, Node, PutOptions, Stat,
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
}

/// Exit status when the request failed (server error, timeout, no connection).
const EXIT_FAILED: u8 = 1;
/// Exit status of a usage error; clap uses the same for the errors it finds.
const EXIT_USAGE: u8 = 2;

/// Why a command failed.
enum Failure {
    Client(corral_client::Error),
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
    };
    let line = message.replace(['\n', '\r'], " ");
    // Nothing sensible is left to do if stderr is gone too.
    let _ = writeln!(io::stderr(), "corralctl: {line}");
    ExitCode::from(code)
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let client = Client::builder(&cli.endpoints)
        .timeout(cli.timeout)
        .connect_timeout(cli.timeout)
        .connect()
        .await?;
    let json = cli.output == Format::Json;
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
    }
    out.flush()?;
    Ok(())
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
    fn ls_shows_names_of_children() {
        assert_eq!(name("/a/b"), "b");
        assert_eq!(name("/a"), "a");
        assert_eq!(name("/"), "/");
    }
}
