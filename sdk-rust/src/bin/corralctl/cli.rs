//! The command line: global options, commands and their arguments (clap).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use corral_client::AclEntry;

/// What `--help` says about exit statuses; docs/corralctl.md has the same table.
pub const EXIT_HELP: &str = "\
Exit status:
  0  success
  1  the request failed for another reason (server error)
  2  usage error or invalid input (unknown option, invalid path or endpoint)
  3  not found (znode, lease, member, election leader)
  4  conflict: already exists, version mismatch, not empty, txn compares failed
  5  unavailable: no member answered in time, timeout, lost session
  6  not allowed: not authenticated (no or wrong credentials) or permission denied
  lock NAME -- CMD exits with CMD's status once it ran.";

/// Command-line client for Corral.
#[derive(Debug, Parser)]
#[command(name = "corralctl", version, after_help = EXIT_HELP)]
pub struct Cli {
    /// Members to talk to, comma-separated (host:port or http://host:port).
    #[arg(
        long,
        global = true,
        env = "CORRAL_ENDPOINTS",
        default_value = "127.0.0.1:2479",
        value_delimiter = ','
    )]
    pub endpoints: Vec<String>,

    /// Time limit per request, e.g. 500ms, 5s, 1m (a bare number is seconds).
    #[arg(long, global = true, default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Output format: table for people, json (the API's response message) for scripts.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,

    /// CA certificate (PEM) that signed the members' certificates; turns TLS on.
    #[arg(long, global = true, env = "CORRALCTL_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,

    /// Client certificate (PEM) for mTLS, with --key; its CN is the user.
    #[arg(long, global = true, env = "CORRALCTL_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,

    /// Private key (PEM) of --cert.
    #[arg(long, global = true, env = "CORRALCTL_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,

    /// Name to verify the members' certificates against, instead of each endpoint's host.
    #[arg(
        long,
        global = true,
        env = "CORRALCTL_SERVER_NAME",
        value_name = "NAME"
    )]
    pub server_name: Option<String>,

    /// User to authenticate as; the password is asked for on the terminal unless
    /// --password or CORRALCTL_PASSWORD gives it.
    #[arg(long, global = true, env = "CORRALCTL_USER", value_name = "NAME")]
    pub user: Option<String>,

    /// Password of --user. Other local users may see it in the process list: prefer
    /// the prompt or CORRALCTL_PASSWORD.
    #[arg(
        long,
        global = true,
        env = "CORRALCTL_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Table,
    /// For scripts: the response message in the proto3 JSON mapping (lowerCamelCase
    /// names, 64-bit integers as strings, data in base64).
    Json,
}

/// Event types, as `watch --exclude` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventKind {
    /// Creates.
    Created,
    /// Data changes.
    Updated,
    /// Deletes.
    Deleted,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a znode's data.
    Get(GetArgs),
    /// Set a znode's data.
    Put(PutArgs),
    /// Create a znode and print its path.
    Create(CreateArgs),
    /// List a znode's children (names), or with -R its subtree (full paths).
    Ls(LsArgs),
    /// Draw the subtree under a znode.
    Tree(TreeArgs),
    /// Delete a znode.
    Rm(RmArgs),
    /// Print a znode's metadata.
    Stat(StatArgs),
    /// Print changes to a znode (or its children, or subtree) until Ctrl-C.
    Watch(WatchArgs),
    /// Run a transaction read as JSON from a file or stdin (see docs/corralctl.md).
    Txn(TxnArgs),
    /// Grant, keep alive, revoke and inspect leases.
    #[command(subcommand)]
    Lease(LeaseCommand),
    /// Hold a lock: run CMD while holding it (exit status of CMD), or without CMD,
    /// hold it until Ctrl-C.
    Lock(LockArgs),
    /// Campaign in an election and lead until Ctrl-C; with -l, print its leaders.
    Elect(ElectArgs),
    /// List or change the cluster's members.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Print the status of each member named in --endpoints (each asked directly).
    Status,
    /// Move leadership to the named voter and print the new leader.
    TransferLeader {
        /// Raft id of the voter to make leader.
        #[arg(value_parser = parse_member_id)]
        id: u64,
    },
    /// Save a backup of a member's data.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Turn authentication on or off, or show who the server takes you for.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Add, delete and list users, change passwords, grant and revoke roles.
    #[command(subcommand)]
    User(UserCommand),
    /// Add, delete and list roles.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Read or replace a znode's access control list.
    #[command(subcommand)]
    Acl(AclCommand),
    /// Discard the event history up to and including a revision.
    Compact {
        /// Newest revision to discard.
        #[arg(value_parser = parse_revision)]
        revision: i64,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Absolute path of the znode.
    pub path: String,
    /// Read from the member's local state (may be stale) instead of a linearizable read.
    #[arg(long)]
    pub serializable: bool,
    /// Write the data exactly as stored, without adding a newline (for binary data;
    /// not with -o json).
    #[arg(long)]
    pub raw: bool,
}

/// Where a new value comes from: the VALUE argument (`-` for stdin) or `--file`.
#[derive(Debug, Args)]
pub struct ValueArgs {
    /// The data: text, or `-` to read it from stdin (use --file for a file).
    pub value: Option<String>,
    /// Read the data from this file (`-` for stdin), byte for byte.
    #[arg(short, long, value_name = "PATH", conflicts_with = "value")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Absolute path of the znode.
    pub path: String,
    /// New data: the VALUE argument (`-` reads stdin) or --file (one is required).
    #[command(flatten)]
    pub value: ValueArgs,
    /// Only if the znode is at this version (compare-and-set).
    #[arg(long, value_name = "N", value_parser = parse_version, conflicts_with = "create")]
    pub expected_version: Option<i64>,
    /// Create the znode if it does not exist (its parent must exist).
    #[arg(long)]
    pub create: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Absolute path (for --sequential, the prefix the counter is appended to).
    pub path: String,
    /// Initial data (default empty): the VALUE argument (`-` reads stdin) or --file.
    #[command(flatten)]
    pub value: ValueArgs,
    /// Append a 10-digit counter to the name.
    #[arg(short, long)]
    pub sequential: bool,
    /// Create missing parents.
    #[arg(short, long)]
    pub parents: bool,
    /// Make it ephemeral, bound to the lease given with --lease.
    #[arg(short, long, requires = "lease")]
    pub ephemeral: bool,
    /// Lease of an ephemeral znode (from `corralctl lease grant`).
    #[arg(long, value_name = "ID", value_parser = parse_lease_id, requires = "ephemeral")]
    pub lease: Option<i64>,
    /// Make a TTL znode, deleted once not modified for this long (e.g. 30s).
    #[arg(long, value_parser = parse_duration, conflicts_with_all = ["ephemeral", "container"])]
    pub ttl: Option<Duration>,
    /// Make a container znode, deleted by the server once its last child goes.
    #[arg(long, conflicts_with = "ephemeral")]
    pub container: bool,
    /// ACL entry of the new znode, e.g. user:bob=rw (repeatable; see `acl set`).
    /// Without it the znode gets a copy of its parent's ACL.
    #[arg(long = "acl", value_name = "ENTRY", value_parser = parse_acl_entry)]
    pub acl: Vec<AclEntry>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Absolute path of the znode.
    pub path: String,
    /// List the whole subtree.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Read from the member's local state (may be stale).
    #[arg(long)]
    pub serializable: bool,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// Absolute path of the subtree's root.
    #[arg(default_value = "/")]
    pub path: String,
    /// Read from the member's local state (may be stale).
    #[arg(long)]
    pub serializable: bool,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Absolute path of the znode.
    pub path: String,
    /// Delete its whole subtree too.
    #[arg(short, long)]
    pub recursive: bool,
    /// Only if the znode is at this version.
    #[arg(long, value_name = "N", value_parser = parse_version)]
    pub expected_version: Option<i64>,
}

#[derive(Debug, Args)]
pub struct StatArgs {
    /// Absolute path of the znode.
    pub path: String,
    /// Read from the member's local state (may be stale).
    #[arg(long)]
    pub serializable: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Absolute path (need not exist).
    pub path: String,
    /// Watch the whole subtree.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// Watch the direct children only.
    #[arg(long, conflicts_with = "recursive")]
    pub children: bool,
    /// Start at this revision (≥ 1), replaying history, instead of now.
    #[arg(long, value_name = "REVISION", value_parser = parse_revision)]
    pub rev: Option<i64>,
    /// Print each update's and delete's previous data too.
    #[arg(long)]
    pub prev: bool,
    /// Leave out events of this type (repeatable).
    #[arg(long, value_enum)]
    pub exclude: Vec<EventKind>,
    /// Exit after this many events.
    #[arg(long)]
    pub count: Option<u64>,
}

#[derive(Debug, Args)]
pub struct TxnArgs {
    /// JSON file; `-` or none reads stdin.
    #[arg(short, long)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// Lock name: an absolute path, e.g. /locks/backup.
    pub name: String,
    /// Lease TTL: how long the lock outlives this process if it dies.
    #[arg(long, default_value = "10s", value_parser = parse_lease_ttl)]
    pub ttl: Duration,
    /// Give up if the lock is not acquired within this time (exit 5).
    #[arg(long, value_parser = parse_duration)]
    pub wait: Option<Duration>,
    /// Command and arguments to run while holding the lock (after --).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ElectArgs {
    /// Election name: an absolute path, e.g. /elections/scheduler.
    pub name: String,
    /// Value to publish while leading (e.g. this host's address).
    #[arg(required_unless_present = "listen")]
    pub value: Option<String>,
    /// Observe: print the leader now and after each change, until Ctrl-C.
    #[arg(short, long)]
    pub listen: bool,
    /// Lease TTL: how long leadership outlives this process if it dies.
    #[arg(long, default_value = "10s", value_parser = parse_lease_ttl)]
    pub ttl: Duration,
    /// With -l: exit after this many leaders were printed.
    #[arg(long, requires = "listen")]
    pub count: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum LeaseCommand {
    /// Grant a lease and print its id.
    Grant {
        /// Time to live, e.g. 30s (1s to 1 day).
        #[arg(value_parser = parse_lease_ttl)]
        ttl: Duration,
    },
    /// Keep a lease alive until Ctrl-C (or once).
    Keepalive {
        /// The lease.
        #[arg(value_parser = parse_lease_id)]
        id: i64,
        /// Refresh it once and exit.
        #[arg(long)]
        once: bool,
    },
    /// Revoke a lease, deleting its ephemeral znodes.
    Revoke {
        /// The lease.
        #[arg(value_parser = parse_lease_id)]
        id: i64,
    },
    /// Print a lease's TTL and remaining time.
    Ttl {
        /// The lease.
        #[arg(value_parser = parse_lease_id)]
        id: i64,
        /// List its ephemeral znodes too.
        #[arg(long)]
        nodes: bool,
    },
    /// List every lease.
    List,
}

#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// List voters and learners, and which one leads.
    List,
    /// Add a learner; start its process first with `corral serve --join`.
    Add {
        /// Raft id of the new member (≥ 1, not in use).
        #[arg(value_parser = parse_member_id)]
        id: u64,
        /// Its peer (Raft) address, ip:port.
        peer_addr: String,
    },
    /// Make a caught-up learner a voter.
    Promote {
        /// Raft id of the learner.
        #[arg(value_parser = parse_member_id)]
        id: u64,
    },
    /// Remove a voter or learner.
    Remove {
        /// Raft id of the member.
        #[arg(value_parser = parse_member_id)]
        id: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Turn authentication on (the user root must exist).
    Enable,
    /// Turn authentication off: every call is allowed again.
    Disable,
    /// Print whether auth is enabled, and the user and roles the server takes you for.
    Status,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is asked for twice on the terminal unless --new-password.
    Add {
        /// User name: letters, digits and - _ . @ (also a client certificate's CN).
        name: String,
        /// The new user's password (visible in the process list; prefer the prompt).
        #[arg(long, value_name = "PASSWORD")]
        new_password: Option<String>,
    },
    /// Delete a user; their tokens stop working at once.
    Delete {
        /// User name.
        name: String,
    },
    /// List users and their roles.
    List,
    /// Change a user's password (yours, or anyone's as root); asked for twice unless
    /// --new-password.
    Passwd {
        /// User name.
        name: String,
        /// The new password (visible in the process list; prefer the prompt).
        #[arg(long, value_name = "PASSWORD")]
        new_password: Option<String>,
    },
    /// Give a user a role.
    GrantRole {
        /// User name.
        name: String,
        /// Role name.
        role: String,
    },
    /// Take a role from a user.
    RevokeRole {
        /// User name.
        name: String,
        /// Role name.
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Add a role.
    Add {
        /// Role name: letters, digits and - _ . @
        name: String,
    },
    /// Delete a role, taking it from every user.
    Delete {
        /// Role name.
        name: String,
    },
    /// List roles.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AclCommand {
    /// Print a znode's ACL, one PRINCIPAL=PERMISSIONS entry per line.
    Get {
        /// Absolute path of the znode.
        path: String,
    },
    /// Replace a znode's ACL with the entries given.
    ///
    /// An entry is PRINCIPAL=PERMISSIONS. PRINCIPAL is user:NAME, role:NAME,
    /// authenticated (any user with valid credentials) or anyone (even without).
    /// PERMISSIONS are letters from rwcda (read, write, create children, delete
    /// children, admin: read and change the ACL), comma-separated names
    /// (read,write), or all. Example: acl set /team-a role:team-a=rwcd anyone=r
    Set {
        /// Absolute path of the znode.
        path: String,
        /// The new ACL's entries (at least one).
        #[arg(required = true, value_name = "ENTRY", value_parser = parse_acl_entry)]
        entries: Vec<AclEntry>,
        /// Only if the ACL is at this version (the stat's acl_version).
        #[arg(long, value_name = "N", value_parser = parse_version)]
        expected_acl_version: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Stream a consistent backup of the first endpoint's data into FILE.
    Save {
        /// File to write (replaced only once the whole snapshot arrived).
        file: PathBuf,
    },
}

/// Parses `500ms`, `5s`, `2m`, `1h` or a bare number of seconds; must be positive.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
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

/// A lease's TTL: a duration from 1 s to 1 day, the range the server grants (checked
/// here so that the error speaks of the TTL typed, not of the API's `ttl_ms`).
pub fn parse_lease_ttl(text: &str) -> Result<Duration, String> {
    let ttl = parse_duration(text)?;
    if ttl < Duration::from_secs(1) || ttl > Duration::from_secs(24 * 3600) {
        return Err(format!(
            "a lease TTL must be from 1s to 24h, not {}",
            text.trim()
        ));
    }
    Ok(ttl)
}

/// An integer of at least `min`; `what` and `hint` make the error say which and why.
fn at_least<T>(text: &str, min: T, what: &str, hint: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    let value: T = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not {what}{hint}"))?;
    if value < min {
        return Err(format!("{what} must be ≥ {min}, not {text}{hint}"));
    }
    Ok(value)
}

/// `--rev` and `compact`: revisions start at 1. Without this a negative `--rev` was
/// passed on and the watch silently started from now instead of from the past.
pub fn parse_revision(text: &str) -> Result<i64, String> {
    at_least(text, 1, "a revision", "")
}

/// `--expected-version`: a znode's version starts at 0.
pub fn parse_version(text: &str) -> Result<i64, String> {
    at_least(
        text,
        0,
        "a version",
        " (leave it out to accept any version)",
    )
}

/// Lease ids are ≥ 1 (0 means "no lease" in the API).
pub fn parse_lease_id(text: &str) -> Result<i64, String> {
    at_least(text, 1, "a lease id", " (from `corralctl lease grant`)")
}

/// An ACL entry, `PRINCIPAL=PERMISSIONS` (see `acl set --help`).
pub fn parse_acl_entry(text: &str) -> Result<AclEntry, String> {
    text.parse()
        .map_err(|e: corral_client::ParseAclError| e.to_string())
}

/// Raft member ids are ≥ 1.
pub fn parse_member_id(text: &str) -> Result<u64, String> {
    at_least(text, 1, "a member id", "")
}
