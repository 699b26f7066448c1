//! Command line of the `corral` binary: `corral serve`, flags mirroring the config file.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::Config;

/// Corral: a strongly consistent coordination service (znodes, watches, leases, locks).
#[derive(Debug, Parser)]
#[command(name = "corral", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a member (with no flags: a single-node cluster with data in ./corral-data).
    Serve(Box<ServeArgs>),
    /// Make a new member's data directory from a backup (`corralctl snapshot save`), to
    /// start a new cluster from it: run it for every member, with the same backup and the
    /// same --initial-cluster, then start each with `corral serve`.
    Restore(RestoreArgs),
}

/// Flags of `corral restore`; the member flags mean what they mean to `corral serve`,
/// and come from the same config file and `CORRAL_*` variables.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file.
    pub backup: PathBuf,
    /// TOML configuration file; every key, with its default, is in
    /// server/config.example.toml of the source tree.
    #[arg(long, env = "CORRAL_CONFIG")]
    pub config: Option<PathBuf>,
    /// The member's Raft id in the new cluster.
    #[arg(long, env = "CORRAL_NODE_ID")]
    pub node_id: Option<u64>,
    /// Data directory to create; must not hold data yet.
    #[arg(long, env = "CORRAL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// This member's Raft peer address (for a single-member cluster).
    #[arg(long, env = "CORRAL_PEER_ADDR")]
    pub peer_addr: Option<String>,
    /// The new cluster's members: id=peer-address,...
    #[arg(long, env = "CORRAL_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
}

impl RestoreArgs {
    /// The configuration `corral serve` would get from the same flags.
    fn into_config(self) -> anyhow::Result<(PathBuf, Config)> {
        let mut cfg = match &self.config {
            Some(path) => Config::from_toml_file(path)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { cfg.$field = v; } )* };
        }
        let peer_addr_given = self.peer_addr.is_some();
        set!(node_id, data_dir, peer_addr, initial_cluster);
        // Nothing listens during a restore: the member's peer address is the one the
        // member list gives it, unless one was asked for and must then agree.
        if !peer_addr_given {
            if let Ok(members) = cfg.initial_members() {
                if let Some(addr) = members.get(&cfg.node_id) {
                    cfg.peer_addr = addr.clone();
                }
            }
        }
        cfg.validate().context("invalid configuration")?;
        Ok((self.backup, cfg))
    }
}

/// Flags of `corral serve`; each overrides the config file and has a `CORRAL_*` variable.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// TOML configuration file; every key, with its default, is in
    /// server/config.example.toml of the source tree.
    #[arg(long, env = "CORRAL_CONFIG")]
    pub config: Option<PathBuf>,
    /// This member's Raft id.
    #[arg(long, env = "CORRAL_NODE_ID")]
    pub node_id: Option<u64>,
    /// Data directory.
    #[arg(long, env = "CORRAL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// gRPC client address.
    #[arg(long, env = "CORRAL_CLIENT_ADDR")]
    pub client_addr: Option<String>,
    /// Raft peer address.
    #[arg(long, env = "CORRAL_PEER_ADDR")]
    pub peer_addr: Option<String>,
    /// HTTP address (metrics, health).
    #[arg(long, env = "CORRAL_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// Initial members: id=peer-address,...
    #[arg(long, env = "CORRAL_INITIAL_CLUSTER")]
    pub initial_cluster: Option<String>,
    /// Join a running cluster (added later with MemberAdd) instead of bootstrapping one.
    #[arg(long, env = "CORRAL_JOIN")]
    pub join: bool,
    /// Largest znode data in bytes.
    #[arg(long, env = "CORRAL_MAX_DATA_BYTES")]
    pub max_data_bytes: Option<u64>,
    /// Leader heartbeat interval in ms.
    #[arg(long, env = "CORRAL_HEARTBEAT_INTERVAL_MS")]
    pub heartbeat_interval_ms: Option<u64>,
    /// Election timeout lower bound in ms.
    #[arg(long, env = "CORRAL_ELECTION_TIMEOUT_MIN_MS")]
    pub election_timeout_min_ms: Option<u64>,
    /// Election timeout upper bound in ms.
    #[arg(long, env = "CORRAL_ELECTION_TIMEOUT_MAX_MS")]
    pub election_timeout_max_ms: Option<u64>,
    /// Snapshot after this many log entries.
    #[arg(long, env = "CORRAL_SNAPSHOT_EVERY_ENTRIES")]
    pub snapshot_every_entries: Option<u64>,
    /// Log entries kept behind the latest snapshot.
    #[arg(long, env = "CORRAL_LOGS_TO_KEEP")]
    pub logs_to_keep: Option<u64>,
    /// Most client commands per log entry.
    #[arg(long, env = "CORRAL_MAX_BATCH")]
    pub max_batch: Option<usize>,
    /// Event history kept for watches, in revisions.
    #[arg(long, env = "CORRAL_HISTORY_RETAIN_REVISIONS")]
    pub history_retain_revisions: Option<i64>,
    /// Event history kept for watches, in ms of age.
    #[arg(long, env = "CORRAL_HISTORY_RETAIN_MS")]
    pub history_retain_ms: Option<u64>,
    /// How long request-id results are kept after a client's last request, in ms.
    #[arg(long, env = "CORRAL_REQUEST_ID_WINDOW_MS")]
    pub request_id_window_ms: Option<u64>,
    /// Skip fsync (UNSAFE, tests only).
    #[arg(long, env = "CORRAL_UNSAFE_NO_FSYNC")]
    pub unsafe_no_fsync: bool,
    /// Dial members at these addresses instead of the membership's: id=host:port,...
    #[arg(long, env = "CORRAL_PEER_ROUTES")]
    pub peer_routes: Option<String>,
    /// Serve PUT /debug/disk-delay-ms on the HTTP port (UNSAFE, fault tests only).
    #[arg(long, env = "CORRAL_UNSAFE_FAULT_INJECTION")]
    pub unsafe_fault_injection: bool,
    /// Log filter, e.g. "info" or "corral_server=debug".
    #[arg(long, env = "CORRAL_LOG_FILTER")]
    pub log_filter: Option<String>,
    /// Lifetime of the auth tokens this member issues, in ms.
    #[arg(long, env = "CORRAL_AUTH_TOKEN_TTL_MS")]
    pub auth_token_ttl_ms: Option<u64>,
    /// PEM certificate chain for the client and HTTP ports (TLS on with --tls-key).
    #[arg(long, env = "CORRAL_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "CORRAL_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle: client certificates signed by it are required (mTLS).
    #[arg(long, env = "CORRAL_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// PEM certificate chain this member presents to other members (peer mTLS).
    #[arg(long, env = "CORRAL_PEER_TLS_CERT")]
    pub peer_tls_cert: Option<PathBuf>,
    /// PEM private key of --peer-tls-cert.
    #[arg(long, env = "CORRAL_PEER_TLS_KEY")]
    pub peer_tls_key: Option<PathBuf>,
    /// PEM CA bundle every member's peer certificate must be signed by.
    #[arg(long, env = "CORRAL_PEER_TLS_CA")]
    pub peer_tls_ca: Option<PathBuf>,
}

impl ServeArgs {
    /// Builds the effective, validated configuration.
    pub fn into_config(self) -> anyhow::Result<Config> {
        let mut cfg = match &self.config {
            Some(path) => Config::from_toml_file(path)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { cfg.$field = v; } )* };
        }
        set!(
            node_id,
            data_dir,
            client_addr,
            peer_addr,
            http_addr,
            initial_cluster,
            max_data_bytes,
            heartbeat_interval_ms,
            election_timeout_min_ms,
            election_timeout_max_ms,
            snapshot_every_entries,
            logs_to_keep,
            max_batch,
            history_retain_revisions,
            history_retain_ms,
            request_id_window_ms,
            peer_routes,
            log_filter,
            auth_token_ttl_ms
        );
        // Option-valued settings: a flag sets the file, leaving it out keeps the
        // config file's.
        macro_rules! set_path {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { cfg.$field = Some(v); } )* };
        }
        set_path!(
            tls_cert,
            tls_key,
            tls_client_ca,
            peer_tls_cert,
            peer_tls_key,
            peer_tls_ca
        );
        if self.join {
            cfg.join = true;
        }
        if self.unsafe_no_fsync {
            cfg.unsafe_no_fsync = true;
        }
        if self.unsafe_fault_injection {
            cfg.unsafe_fault_injection = true;
        }
        cfg.validate().context("invalid configuration")?;
        Ok(cfg)
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let cfg = args.into_config()?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("start the async runtime")?;
            runtime.block_on(crate::server::run(cfg))
        }
        Command::Restore(args) => {
            let (backup, cfg) = args.into_config()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("start the async runtime")?;
            let restored = runtime.block_on(crate::restore_cmd::run(&backup, &cfg))?;
            println!(
                "restored revision {} from {} into {} (member {} of cluster {:016x}); start it with: corral serve --data-dir {} --node-id {} --initial-cluster {}",
                restored.revision,
                backup.display(),
                cfg.data_dir.display(),
                cfg.node_id,
                restored.cluster_id,
                cfg.data_dir.display(),
                cfg.node_id,
                render_members(&cfg)?,
            );
            Ok(())
        }
    }
}

/// The member list as `--initial-cluster` takes it.
fn render_members(cfg: &Config) -> anyhow::Result<String> {
    Ok(cfg
        .initial_members()?
        .iter()
        .map(|(id, addr)| format!("{id}={addr}"))
        .collect::<Vec<_>>()
        .join(","))
}
