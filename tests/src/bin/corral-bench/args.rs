//! Command-line flags of `corral-bench` and their validation into a [`Config`]: every
//! nonsense combination is refused here, with a one-line message naming the flag.

use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Largest value Corral accepts by default (`max-data-bytes`, 1 MiB).
pub const CORRAL_MAX_VALUE: u64 = 1 << 20;
/// etcd refuses requests over `--max-request-bytes` (1.5 MiB by default); the key and the
/// request's framing must fit beside the value.
pub const ETCD_MAX_VALUE: u64 = (3 << 19) - 4096;
/// ZooKeeper refuses packets over `jute.maxbuffer` (0xfffff bytes by default); the path
/// and the request's framing must fit beside the data.
pub const ZOOKEEPER_MAX_VALUE: u64 = 0xfffff - 4096;

/// Benchmarks Corral, etcd or ZooKeeper with one workload and prints latency percentiles
/// and throughput.
#[derive(Debug, Parser)]
#[command(name = "corral-bench", version)]
pub struct Cli {
    /// System under test.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Comma-separated client addresses, host:port (e.g. 127.0.0.1:2479,127.0.0.1:2489).
    #[arg(long)]
    pub endpoints: String,
    /// Workload to run.
    #[arg(long, value_enum)]
    pub workload: WorkloadKind,
    /// Concurrent requests in flight (one closed-loop client each); for watch, the writers;
    /// for lock, the contenders.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
    pub clients: i64,
    /// Connections (gRPC channels / ZooKeeper sessions) the clients share, spread over the
    /// endpoints in turn. Default: one per endpoint, at most one per client.
    #[arg(long, allow_negative_numbers = true)]
    pub conns: Option<i64>,
    /// Bytes per value written.
    #[arg(long, default_value_t = 256, allow_negative_numbers = true)]
    pub value_size: i64,
    /// Distinct keys the put, get and txn workloads use.
    #[arg(long, default_value_t = 10_000, allow_negative_numbers = true)]
    pub key_space: i64,
    /// Seconds measured (decimals allowed).
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub duration: f64,
    /// Seconds run before measuring starts (not counted).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub warmup: f64,
    /// Seconds after which one request counts as failed.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub timeout: f64,
    /// Path under which the benchmark keeps its keys.
    #[arg(long, default_value = "/corral-bench")]
    pub prefix: String,
    /// put only: key order (default sequential).
    #[arg(long, value_enum)]
    pub keys: Option<KeyOrder>,
    /// get only: read consistency (default linearizable). ZooKeeper: linearizable is
    /// sync + getData, serializable is a plain getData.
    #[arg(long, value_enum)]
    pub consistency: Option<Consistency>,
    /// watch only: watchers on the subtree, each its own server-side watch (default 1000).
    #[arg(long, allow_negative_numbers = true)]
    pub watchers: Option<i64>,
    /// watch only: puts per second issued by all writers together (default 100).
    #[arg(long, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// lease only: time to live of each lease / session, seconds (default 10).
    #[arg(long, allow_negative_numbers = true)]
    pub lease_ttl: Option<f64>,
    /// lease only: how each lease ends: `revoke` (explicit) or `expire` (abandoned; the run
    /// then waits for the ephemeral znodes to disappear). Default revoke.
    #[arg(long, value_enum)]
    pub lease_end: Option<LeaseEnd>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Table)]
    pub output: Output,
    /// corral only: CA bundle (PEM) to reach TLS client ports (dials https).
    #[arg(long)]
    pub cacert: Option<std::path::PathBuf>,
    /// corral only: authenticate as this user (needs --password); each connection sends
    /// its token on every call.
    #[arg(long)]
    pub user: Option<String>,
    /// corral only: the password of --user.
    #[arg(long)]
    pub password: Option<String>,
}

/// How the corral driver reaches a server with TLS and auth on.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// CA bundle, PEM: dial with TLS.
    pub ca_pem: Option<Vec<u8>>,
    /// User and password to authenticate with.
    pub credentials: Option<(String, String)>,
}

/// The system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Corral,
    Etcd,
    Zookeeper,
}

/// The workload, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkloadKind {
    Put,
    Get,
    Txn,
    Watch,
    Lock,
    Lease,
}

/// Order in which the put workload visits keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyOrder {
    Sequential,
    Random,
}

/// Consistency of the get workload's reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    Linearizable,
    Serializable,
}

/// How the lease workload ends each lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LeaseEnd {
    Revoke,
    Expire,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

/// A workload with its own settings.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum Workload {
    /// Writes `value_size` bytes to keys of the key space.
    Put { keys: KeyOrder },
    /// Reads random keys of a key space written beforehand.
    Get { consistency: Consistency },
    /// Compare-and-set through each system's transaction (Corral Txn, etcd Txn, ZooKeeper
    /// multi), each client on keys of its own.
    Txn,
    /// Writers create keys under a subtree at `rate` puts/s; `watchers` watches on it
    /// measure put→event latency.
    Watch { watchers: usize, rate: f64 },
    /// Every client takes and releases the same lock in a loop.
    Lock,
    /// Each client cycles: grant a lease, create an ephemeral znode on it, keep it alive
    /// once, end it.
    Lease { ttl_ms: u64, end: LeaseEnd },
}

impl Workload {
    /// Short name for tables and the JSON report (e.g. `get-serializable`).
    pub fn label(&self) -> String {
        match self {
            Workload::Put { keys } => format!("put-{}", enum_name(keys)),
            Workload::Get { consistency } => format!("get-{}", enum_name(consistency)),
            Workload::Txn => "txn".into(),
            Workload::Watch { .. } => "watch".into(),
            Workload::Lock => "lock".into(),
            Workload::Lease { end, .. } => format!("lease-{}", enum_name(end)),
        }
    }
}

fn enum_name<T: ValueEnum>(value: &T) -> String {
    value
        .to_possible_value()
        .map(|v| v.get_name().to_string())
        .unwrap_or_default()
}

/// A validated run.
#[derive(Debug, Clone)]
pub struct Config {
    pub target: Target,
    pub endpoints: Vec<String>,
    pub workload: Workload,
    pub clients: usize,
    pub conns: usize,
    pub value_size: usize,
    pub key_space: u64,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    pub prefix: String,
    pub output: Output,
    pub security: Security,
}

/// Most clients, watchers or connections one process runs.
const MAX_CLIENTS: i64 = 10_000;
/// Longest measured or warm-up phase, seconds.
const MAX_SECONDS: f64 = 3600.0;

impl Target {
    /// Largest `--value-size` the target accepts with its default limits.
    pub fn max_value_size(self) -> u64 {
        match self {
            Target::Corral => CORRAL_MAX_VALUE,
            Target::Etcd => ETCD_MAX_VALUE,
            Target::Zookeeper => ZOOKEEPER_MAX_VALUE,
        }
    }

    /// Name as on the command line.
    pub fn name(self) -> String {
        enum_name(&self)
    }
}

impl Cli {
    /// Checks every flag and combination; the error is one line naming the flag.
    pub fn validate(self) -> Result<Config, String> {
        let endpoints = parse_endpoints(&self.endpoints)?;
        let clients = count("--clients", self.clients, 1)?;
        let kind = self.workload;
        let only = |flag: &str, given: bool, allowed: WorkloadKind| -> Result<(), String> {
            if given && kind != allowed {
                return Err(format!(
                    "{flag} applies only to --workload {}, not {}",
                    enum_name(&allowed),
                    enum_name(&kind)
                ));
            }
            Ok(())
        };
        only("--keys", self.keys.is_some(), WorkloadKind::Put)?;
        only(
            "--consistency",
            self.consistency.is_some(),
            WorkloadKind::Get,
        )?;
        only("--watchers", self.watchers.is_some(), WorkloadKind::Watch)?;
        only("--rate", self.rate.is_some(), WorkloadKind::Watch)?;
        only("--lease-ttl", self.lease_ttl.is_some(), WorkloadKind::Lease)?;
        only("--lease-end", self.lease_end.is_some(), WorkloadKind::Lease)?;

        let duration = seconds("--duration", self.duration, false)?;
        let warmup = seconds("--warmup", self.warmup, true)?;
        let timeout = seconds("--timeout", self.timeout, false)?;
        if self.value_size < 0 {
            return Err(format!(
                "--value-size must be ≥ 0 bytes (got {})",
                self.value_size
            ));
        }
        let max_value = self.target.max_value_size();
        if self.value_size as u64 > max_value {
            return Err(format!(
                "--value-size {} is over {}'s limit of {max_value} bytes",
                self.value_size,
                self.target.name()
            ));
        }
        let key_space = count("--key-space", self.key_space, 1)? as u64;
        if key_space > 100_000_000 {
            return Err(format!("--key-space must be ≤ 100000000 (got {key_space})"));
        }
        check_prefix(&self.prefix)?;

        let workload = match kind {
            WorkloadKind::Put => Workload::Put {
                keys: self.keys.unwrap_or(KeyOrder::Sequential),
            },
            WorkloadKind::Get => Workload::Get {
                consistency: self.consistency.unwrap_or(Consistency::Linearizable),
            },
            WorkloadKind::Txn => {
                if key_space < clients as u64 {
                    return Err(format!(
                        "--key-space ({key_space}) must be ≥ --clients ({clients}) for txn: each client compares-and-sets keys of its own"
                    ));
                }
                Workload::Txn
            }
            WorkloadKind::Watch => {
                let watchers = count("--watchers", self.watchers.unwrap_or(1000), 1)?;
                let rate = self.rate.unwrap_or(100.0);
                if !rate.is_finite() || rate <= 0.0 || rate > 1_000_000.0 {
                    return Err(format!(
                        "--rate must be > 0 and ≤ 1000000 puts/s (got {rate})"
                    ));
                }
                Workload::Watch { watchers, rate }
            }
            WorkloadKind::Lock => Workload::Lock,
            WorkloadKind::Lease => {
                let ttl = self.lease_ttl.unwrap_or(10.0);
                // Corral grants 1 s..1 day; etcd rounds up to its minimum (about 2 s);
                // ZooKeeper's default tickTime bounds sessions to 4..40 s.
                if !ttl.is_finite() || !(4.0..=40.0).contains(&ttl) {
                    return Err(format!(
                        "--lease-ttl must be between 4 and 40 seconds, the range all three systems grant (got {ttl})"
                    ));
                }
                Workload::Lease {
                    ttl_ms: (ttl * 1000.0) as u64,
                    end: self.lease_end.unwrap_or(LeaseEnd::Revoke),
                }
            }
        };

        let parallel = match workload {
            Workload::Watch { watchers, .. } => watchers.max(clients),
            _ => clients,
        };
        let conns = match self.conns {
            Some(n) => {
                let n = count("--conns", n, 1)?;
                if n > parallel {
                    return Err(format!(
                        "--conns ({n}) must be ≤ the {} ({parallel}): extra connections would carry nothing",
                        if matches!(workload, Workload::Watch { .. }) {
                            "larger of --clients and --watchers"
                        } else {
                            "--clients"
                        }
                    ));
                }
                n
            }
            None => endpoints.len().min(parallel),
        };

        if (self.cacert.is_some() || self.user.is_some()) && self.target != Target::Corral {
            return Err("--cacert and --user are for --target corral only".into());
        }
        let credentials = match (self.user, self.password) {
            (Some(u), Some(p)) => Some((u, p)),
            (None, None) => None,
            _ => return Err("--user and --password go together".into()),
        };
        let ca_pem = match &self.cacert {
            Some(path) => {
                Some(std::fs::read(path).map_err(|e| format!("--cacert {}: {e}", path.display()))?)
            }
            None => None,
        };
        Ok(Config {
            security: Security {
                ca_pem,
                credentials,
            },
            target: self.target,
            endpoints,
            workload,
            clients,
            conns,
            value_size: self.value_size as usize,
            key_space,
            duration,
            warmup,
            timeout,
            prefix: self.prefix,
            output: self.output,
        })
    }
}

fn count(flag: &str, value: i64, min: i64) -> Result<usize, String> {
    if value < min {
        return Err(format!("{flag} must be at least {min} (got {value})"));
    }
    if value > MAX_CLIENTS && flag != "--key-space" {
        return Err(format!(
            "{flag} must be at most {MAX_CLIENTS} (got {value})"
        ));
    }
    Ok(value as usize)
}

fn seconds(flag: &str, value: f64, zero_ok: bool) -> Result<Duration, String> {
    if !value.is_finite() || value < 0.0 || (!zero_ok && value == 0.0) {
        let rule = if zero_ok { "≥ 0" } else { "> 0" };
        return Err(format!("{flag} must be {rule} seconds (got {value})"));
    }
    if value > MAX_SECONDS {
        return Err(format!(
            "{flag} must be at most {MAX_SECONDS} seconds (got {value})"
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

fn parse_endpoints(list: &str) -> Result<Vec<String>, String> {
    let mut endpoints = Vec::new();
    for item in list.split(',') {
        let item = item.trim();
        let addr = item
            .strip_prefix("http://")
            .unwrap_or(item)
            .trim_end_matches('/');
        let valid = match addr.rsplit_once(':') {
            Some((host, port)) => {
                !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok_and(|p| p > 0)
            }
            None => false,
        };
        if !valid {
            return Err(format!(
                "--endpoints: {item:?} is not host:port (e.g. 127.0.0.1:2479)"
            ));
        }
        endpoints.push(addr.to_string());
    }
    Ok(endpoints)
}

fn check_prefix(prefix: &str) -> Result<(), String> {
    let valid = prefix.starts_with('/')
        && prefix.len() > 1
        && !prefix.ends_with('/')
        && prefix
            .split('/')
            .skip(1)
            .all(|s| !s.is_empty() && s != "." && s != "..")
        && prefix.chars().all(|c| !c.is_control());
    if !valid {
        return Err(format!(
            "--prefix {prefix:?} must be an absolute path other than / with no empty, . or .. segment and no trailing /"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &str) -> Result<Config, String> {
        let argv = std::iter::once("corral-bench").chain(args.split_whitespace());
        Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .validate()
    }

    const BASE: &str = "--target corral --endpoints 127.0.0.1:2479,127.0.0.1:2489";

    fn refused(extra: &str, needle: &str) {
        let err = parse(&format!("{BASE} {extra}")).expect_err(extra);
        assert!(err.contains(needle), "{extra}: {err}");
        assert!(!err.contains('\n'), "{extra}: one line expected: {err}");
    }

    #[test]
    fn defaults_are_sensible() {
        let c = parse(&format!("{BASE} --workload put")).unwrap();
        assert_eq!(c.clients, 1);
        assert_eq!(c.conns, 1, "at most one connection per client");
        assert_eq!(c.value_size, 256);
        assert_eq!(
            c.workload,
            Workload::Put {
                keys: KeyOrder::Sequential
            }
        );
        let c = parse(&format!("{BASE} --workload get --clients 64")).unwrap();
        assert_eq!(c.conns, 2, "one connection per endpoint");
        assert_eq!(c.workload.label(), "get-linearizable");
        let c = parse(&format!("{BASE} --workload watch")).unwrap();
        assert_eq!(
            c.workload,
            Workload::Watch {
                watchers: 1000,
                rate: 100.0
            }
        );
    }

    #[test]
    fn zero_or_negative_counts_are_refused() {
        refused("--workload put --clients 0", "--clients must be at least 1");
        refused(
            "--workload put --clients -3",
            "--clients must be at least 1",
        );
        refused("--workload put --conns 0", "--conns must be at least 1");
        refused(
            "--workload put --key-space 0",
            "--key-space must be at least 1",
        );
        refused(
            "--workload watch --watchers 0",
            "--watchers must be at least 1",
        );
        refused("--workload put --clients 20000", "at most 10000");
    }

    #[test]
    fn bad_durations_are_refused() {
        refused(
            "--workload put --duration -5",
            "--duration must be > 0 seconds",
        );
        refused(
            "--workload put --duration 0",
            "--duration must be > 0 seconds",
        );
        refused(
            "--workload put --duration NaN",
            "--duration must be > 0 seconds",
        );
        refused("--workload put --warmup -1", "--warmup must be ≥ 0 seconds");
        refused(
            "--workload put --timeout 0",
            "--timeout must be > 0 seconds",
        );
        refused("--workload put --duration 100000", "at most 3600 seconds");
        assert!(parse(&format!("{BASE} --workload put --warmup 0 --duration 0.5")).is_ok());
    }

    #[test]
    fn value_size_over_the_server_limit_is_refused() {
        refused(
            "--workload put --value-size 1048577",
            "over corral's limit of 1048576 bytes",
        );
        refused("--workload put --value-size -1", "--value-size must be ≥ 0");
        assert!(parse(&format!("{BASE} --workload put --value-size 1048576")).is_ok());
        let zk = "--target zookeeper --endpoints 127.0.0.1:2181 --workload put";
        let err = parse(&format!("{zk} --value-size 1048576")).unwrap_err();
        assert!(err.contains("zookeeper's limit"), "{err}");
    }

    #[test]
    fn unknown_target_or_workload_is_refused() {
        let err = parse("--target consul --endpoints 127.0.0.1:1 --workload put").unwrap_err();
        assert!(err.contains("invalid value 'consul'"), "{err}");
        let err = parse(&format!("{BASE} --workload scan")).unwrap_err();
        assert!(err.contains("invalid value 'scan'"), "{err}");
    }

    #[test]
    fn flags_of_another_workload_are_refused() {
        refused(
            "--workload put --watchers 10",
            "--watchers applies only to --workload watch, not put",
        );
        refused(
            "--workload get --rate 5",
            "--rate applies only to --workload watch",
        );
        refused(
            "--workload get --keys random",
            "--keys applies only to --workload put",
        );
        refused(
            "--workload put --consistency serializable",
            "--consistency applies only to --workload get",
        );
        refused("--workload lock --lease-ttl 10", "--lease-ttl applies only");
        refused(
            "--workload txn --lease-end expire",
            "--lease-end applies only",
        );
    }

    #[test]
    fn other_nonsense_is_refused() {
        refused(
            "--workload put --conns 5 --clients 4",
            "--conns (5) must be ≤ the --clients (4)",
        );
        refused(
            "--workload txn --clients 8 --key-space 4",
            "must be ≥ --clients (8) for txn",
        );
        refused("--workload watch --rate 0", "--rate must be > 0");
        refused(
            "--workload lease --lease-ttl 1",
            "--lease-ttl must be between 4 and 40",
        );
        refused(
            "--workload put --prefix bench",
            "--prefix \"bench\" must be an absolute path",
        );
        refused("--workload put --prefix /a/", "--prefix");
        refused("--workload put --prefix /", "--prefix");
        let err = parse("--target corral --endpoints localhost --workload put").unwrap_err();
        assert!(err.contains("is not host:port"), "{err}");
        let err = parse("--target corral --endpoints 127.0.0.1:0 --workload put").unwrap_err();
        assert!(err.contains("is not host:port"), "{err}");
    }

    #[test]
    fn watch_connections_may_exceed_writers() {
        let c = parse(&format!(
            "{BASE} --workload watch --clients 1 --watchers 100 --conns 10"
        ))
        .unwrap();
        assert_eq!(c.conns, 10);
    }
}
