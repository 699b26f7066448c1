//! Commands carried in the Raft log and their results. A `Batch` is one log entry:
//! many client commands sharing one fsync (group commit), stamped with the leader's clock.

use serde::{Deserialize, Serialize};

use crate::acl::Acl;
use crate::znode::{Node, NodeKind, Stat};

/// One Raft log entry's payload: client commands applied in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Batch {
    /// Wall-clock time stamped by the leader when the batch was proposed (ms since the
    /// epoch). Apply uses this, never its own clock, so every member computes the same state.
    pub now_ms: i64,
    /// Commands, applied in order; each succeeds or fails alone.
    pub commands: Vec<Command>,
}

/// A state-changing request, already validated by the API layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Create a znode.
    Create(CreateCmd),
    /// Set a znode's data.
    Put(PutCmd),
    /// Delete a znode or subtree.
    Delete(DeleteCmd),
    /// Atomic compare-then-ops.
    Txn(TxnCmd),
    /// Grant a lease.
    LeaseGrant {
        /// Requested id; 0 lets apply choose the next free one.
        id: i64,
        /// Time to live, ms.
        ttl_ms: i64,
    },
    /// Revoke (or expire) a lease, deleting its ephemeral znodes in one revision.
    LeaseRevoke {
        /// Lease id.
        id: i64,
    },
    /// Record the leader's view of leases' remaining time, so a new leader resumes it.
    LeaseCheckpoint {
        /// (lease id, remaining ms).
        remaining: Vec<(i64, i64)>,
    },
    /// Delete a TTL znode (if still unmodified since `mod_revision`) or an emptied
    /// container znode. Proposed by the leader's reaper; a no-op if no longer due.
    Reap {
        /// Path of the znode.
        path: String,
        /// `stat.mod_revision` the reaper saw (TTL znodes).
        mod_revision: i64,
    },
    /// Discard event history up to and including `revision`.
    Compact {
        /// Newest revision to discard.
        revision: i64,
    },
    /// A client write carrying a request id: applied at most once; a retry returns the
    /// first result.
    Once {
        /// Client id (stable across the client's retries and reconnects).
        client_id: String,
        /// Sequence of the request within the client, ≥ 1.
        seq: u64,
        /// The write (never itself a `Once`: decoding refuses one, see
        /// [`deserialize_once_inner`]).
        #[serde(deserialize_with = "deserialize_once_inner")]
        command: Box<Command>,
    },
    /// Forget the request results of clients idle since before `before_ms` (leader clock).
    ExpireSessions {
        /// Cut-off, ms since the epoch.
        before_ms: i64,
    },
    /// A client's command with the caller it runs as. Apply checks the caller's
    /// permissions against the state it applies to (when auth is enabled); commands the
    /// server makes itself (expiry, reaping, checkpoints) are not wrapped and not checked.
    As {
        /// The authenticated user; `None` for an anonymous caller.
        user: Option<String>,
        /// The command (never an `As` or `Once`: decoding refuses one).
        #[serde(deserialize_with = "deserialize_as_inner")]
        command: Box<Command>,
    },
    /// Create a znode with an explicit ACL.
    CreateWithAcl(CreateCmd, Acl),
    /// Replace a znode's ACL.
    SetAcl(SetAclCmd),
    /// Change the auth state.
    Auth(AuthCmd),
}

/// Replace a znode's ACL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetAclCmd {
    /// Path.
    pub path: String,
    /// New ACL.
    pub acl: Acl,
    /// Compare-and-set on `stat.acl_version`.
    pub expected_acl_version: Option<i64>,
}

/// A change of the auth state. Passwords arrive already hashed (and tokens keys already
/// drawn) by the member that took the request: apply stays deterministic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AuthCmd {
    /// Turn auth on (the key is kept if one was drawn before).
    Enable {
        /// HMAC key for tokens, 32 random bytes.
        #[serde(with = "serde_bytes")]
        token_key: Vec<u8>,
    },
    /// Turn auth off.
    Disable,
    /// Add a user.
    UserAdd {
        /// Name.
        name: String,
        /// PHC Argon2id hash.
        password_hash: String,
    },
    /// Delete a user.
    UserDelete {
        /// Name.
        name: String,
    },
    /// Set a user's password.
    UserChangePassword {
        /// Name.
        name: String,
        /// PHC Argon2id hash.
        password_hash: String,
    },
    /// Give a user a role.
    UserGrantRole {
        /// User.
        name: String,
        /// Role.
        role: String,
    },
    /// Take a role from a user.
    UserRevokeRole {
        /// User.
        name: String,
        /// Role.
        role: String,
    },
    /// Add a role.
    RoleAdd {
        /// Role.
        name: String,
    },
    /// Delete a role (and take it from every user).
    RoleDelete {
        /// Role.
        name: String,
    },
}

/// Decodes the command an `As` wraps, refusing an `As` or `Once` inside it (see
/// [`deserialize_once_inner`] for why nesting must be bounded).
fn deserialize_as_inner<'de, D>(deserializer: D) -> Result<Box<Command>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            DECODING_AS.with(|f| f.set(self.0));
        }
    }
    if DECODING_AS.with(|f| f.replace(true)) {
        return Err(serde::de::Error::custom(
            "a caller (As) command cannot wrap another one",
        ));
    }
    let _reset = Reset(false);
    let command = Command::deserialize(deserializer)?;
    if matches!(command, Command::Once { .. }) {
        return Err(serde::de::Error::custom(
            "a caller (As) command cannot wrap a request-id (Once) command",
        ));
    }
    Ok(Box::new(command))
}

std::thread_local! {
    /// Set while the command inside an `As` is being decoded.
    static DECODING_AS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

std::thread_local! {
    /// Set while the command inside a `Once` is being decoded.
    static DECODING_ONCE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Decodes the command a `Once` wraps, refusing another `Once` inside it. `Command` is
/// recursive through `Once`, so without this a log entry or peer message of nested
/// `Once`s (20 bytes a level) decodes by recursion until the stack overflows and the
/// process aborts: 200 KB was enough on a 2 MiB tokio worker stack (found by fuzzing).
fn deserialize_once_inner<'de, D>(deserializer: D) -> Result<Box<Command>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    /// Clears the flag however decoding ends (error or unwinding).
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            DECODING_ONCE.with(|f| f.set(false));
        }
    }
    if DECODING_ONCE.with(|f| f.replace(true)) {
        return Err(serde::de::Error::custom(
            "a request-id (Once) command cannot wrap another one",
        ));
    }
    let _reset = Reset;
    Command::deserialize(deserializer).map(Box::new)
}

impl Command {
    /// Rough encoded size, for sizing batches (paths and data dominate).
    pub fn approx_size(&self) -> usize {
        fn op(o: &TxnOp) -> usize {
            match o {
                TxnOp::Create(c) => c.path.len() + c.data.len(),
                TxnOp::CreateWithAcl(c, acl) => c.path.len() + c.data.len() + acl.len() * 24,
                TxnOp::Put(c) => c.path.len() + c.data.len(),
                TxnOp::Delete(c) => c.path.len(),
                TxnOp::Get(q) => q.path.len(),
                TxnOp::List(q) => q.path.len(),
            }
        }
        32 + match self {
            Command::Create(c) => c.path.len() + c.data.len(),
            Command::CreateWithAcl(c, acl) => c.path.len() + c.data.len() + acl.len() * 24,
            Command::SetAcl(c) => c.path.len() + c.acl.len() * 24,
            Command::Auth(_) => 256,
            Command::As { user, command } => {
                user.as_ref().map_or(0, String::len) + command.approx_size()
            }
            Command::Put(c) => c.path.len() + c.data.len(),
            Command::Delete(c) => c.path.len(),
            Command::Txn(t) => {
                t.compares
                    .iter()
                    .map(|c| {
                        c.path.len()
                            + match &c.target {
                                CmpTarget::Data(d) => d.len(),
                                _ => 8,
                            }
                    })
                    .sum::<usize>()
                    + t.success.iter().map(op).sum::<usize>()
                    + t.failure.iter().map(op).sum::<usize>()
            }
            Command::LeaseCheckpoint { remaining } => remaining.len() * 16,
            Command::Reap { path, .. } => path.len(),
            Command::Once {
                client_id, command, ..
            } => client_id.len() + command.approx_size(),
            Command::LeaseGrant { .. }
            | Command::LeaseRevoke { .. }
            | Command::Compact { .. }
            | Command::ExpireSessions { .. } => 16,
        }
    }
}

/// Create a znode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateCmd {
    /// Path (prefix for sequential znodes).
    pub path: String,
    /// Initial data.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Kind of the new znode.
    pub kind: NodeKind,
    /// Lease for ephemeral znodes, else 0.
    pub lease_id: i64,
    /// Append the parent's 10-digit counter.
    pub sequential: bool,
    /// TTL for TTL znodes, else 0.
    pub ttl_ms: i64,
    /// Create missing ancestors.
    pub create_parents: bool,
}

/// Set a znode's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PutCmd {
    /// Path.
    pub path: String,
    /// New data.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
    /// Compare-and-set on the current version.
    pub expected_version: Option<i64>,
    /// Create a persistent znode if absent.
    pub create_if_missing: bool,
    /// Return the previous znode.
    pub prev_node: bool,
}

/// Delete a znode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteCmd {
    /// Path.
    pub path: String,
    /// Compare-and-delete on the current version.
    pub expected_version: Option<i64>,
    /// Delete the subtree too.
    pub recursive: bool,
}

/// Read one znode (inside a Txn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetQuery {
    /// Path.
    pub path: String,
    /// Leave data out.
    pub stat_only: bool,
}

/// List children or a subtree, one page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListQuery {
    /// Path whose children or descendants are listed.
    pub path: String,
    /// Whole subtree instead of direct children.
    pub recursive: bool,
    /// Include data.
    pub with_data: bool,
    /// Page size (already clamped by the API layer, ≥ 1).
    pub limit: usize,
    /// Continue strictly after this path; empty for the first page.
    pub after: String,
}

/// How a Txn compare relates the znode's value to the given one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    /// Equal.
    Equal,
    /// Not equal.
    NotEqual,
    /// Znode's value greater.
    Greater,
    /// Znode's value less.
    Less,
}

/// What a Txn compare looks at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpTarget {
    /// Existence.
    Exists(bool),
    /// `stat.version`.
    Version(i64),
    /// `stat.mod_revision`.
    ModRevision(i64),
    /// `stat.create_revision`.
    CreateRevision(i64),
    /// The data, bytewise.
    Data(#[serde(with = "serde_bytes")] Vec<u8>),
    /// `stat.num_children`.
    NumChildren(i64),
}

/// One Txn condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compare {
    /// Path compared.
    pub path: String,
    /// Relation.
    pub op: CmpOp,
    /// Target and value.
    pub target: CmpTarget,
}

/// One Txn operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TxnOp {
    /// Create.
    Create(CreateCmd),
    /// Put.
    Put(PutCmd),
    /// Delete.
    Delete(DeleteCmd),
    /// Get (absent is not an error).
    Get(GetQuery),
    /// List, first page.
    List(ListQuery),
    /// Create with an explicit ACL.
    CreateWithAcl(CreateCmd, Acl),
}

/// Compare-then-ops, atomically at one revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnCmd {
    /// All must hold for `success` to run.
    pub compares: Vec<Compare>,
    /// Ops when every compare holds.
    pub success: Vec<TxnOp>,
    /// Ops otherwise.
    pub failure: Vec<TxnOp>,
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ListPage {
    /// Znodes in byte order of their paths.
    pub nodes: Vec<Node>,
    /// Last path of this page when more follow; empty on the last page.
    pub next_after: String,
}

/// Result of one Txn op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OpOutput {
    /// Created path and stat.
    Create {
        /// Actual path.
        path: String,
        /// New stat.
        stat: Stat,
    },
    /// Stat after a put, and the previous znode if asked.
    Put {
        /// New stat.
        stat: Stat,
        /// Previous znode.
        prev: Option<Node>,
    },
    /// Number deleted.
    Delete {
        /// Count.
        deleted: i64,
    },
    /// The znode, if present.
    Get(Option<Node>),
    /// One page.
    List(ListPage),
}

/// Successful result of a command. Short-lived (built by apply, converted at once by the
/// API), so the size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Output {
    /// A create/put/delete result.
    Op(OpOutput),
    /// A Txn result.
    Txn {
        /// Whether the success branch ran.
        succeeded: bool,
        /// Results of that branch.
        results: Vec<OpOutput>,
    },
    /// A granted lease.
    Lease {
        /// Its id.
        id: i64,
        /// Its TTL, ms.
        ttl_ms: i64,
    },
    /// Znodes deleted by a revoke or reap.
    Deleted {
        /// Count.
        deleted: i64,
    },
    /// History compacted through this revision.
    Compacted {
        /// Newest compacted revision.
        compact_revision: i64,
    },
    /// Done; nothing to report.
    Unit,
    /// A znode's stat after a change that is not a data write (SetAcl).
    Stat(Stat),
}

/// Results kept per client for exactly-once writes (`store/session.rs`); older ones are
/// forgotten and their sequences refused. Here because the refusal's message names it.
pub const MAX_RESULTS_PER_CLIENT: usize = 256;

/// An output of another kind than the command gives (a create that answered like a
/// lease grant): a bug in this server, never the caller's fault. The typed accessors
/// below are the one place such a mismatch is detected.
#[derive(Debug, thiserror::Error)]
#[error("{wanted} expected, but the command gave {got}")]
pub struct UnexpectedOutput {
    /// The kind of output the caller's command gives.
    pub wanted: &'static str,
    /// What came instead.
    pub got: String,
}

fn unexpected(wanted: &'static str, got: impl std::fmt::Debug) -> UnexpectedOutput {
    let mut got = format!("{got:?}");
    got.truncate(200);
    UnexpectedOutput { wanted, got }
}

impl Output {
    /// The result of a create, put, delete, get or list command.
    pub fn into_op(self) -> Result<OpOutput, UnexpectedOutput> {
        match self {
            Output::Op(op) => Ok(op),
            other => Err(unexpected("a single-op output", other)),
        }
    }

    /// Whether a Txn's compares held, and the results of the branch that ran.
    pub fn into_txn(self) -> Result<(bool, Vec<OpOutput>), UnexpectedOutput> {
        match self {
            Output::Txn { succeeded, results } => Ok((succeeded, results)),
            other => Err(unexpected("a Txn output", other)),
        }
    }

    /// A granted lease's id and TTL.
    pub fn into_lease(self) -> Result<(i64, i64), UnexpectedOutput> {
        match self {
            Output::Lease { id, ttl_ms } => Ok((id, ttl_ms)),
            other => Err(unexpected("a lease grant output", other)),
        }
    }

    /// How many znodes a revoke or reap deleted.
    pub fn into_deleted(self) -> Result<i64, UnexpectedOutput> {
        match self {
            Output::Deleted { deleted } => Ok(deleted),
            other => Err(unexpected("a deleted-count output", other)),
        }
    }

    /// The stat a SetAcl left.
    pub fn into_stat(self) -> Result<Stat, UnexpectedOutput> {
        match self {
            Output::Stat(stat) => Ok(stat),
            other => Err(unexpected("a stat output", other)),
        }
    }

    /// Nothing: a command that reports no result (auth changes).
    pub fn into_unit(self) -> Result<(), UnexpectedOutput> {
        match self {
            Output::Unit => Ok(()),
            other => Err(unexpected("no output", other)),
        }
    }

    /// The newest compacted revision.
    pub fn into_compacted(self) -> Result<i64, UnexpectedOutput> {
        match self {
            Output::Compacted { compact_revision } => Ok(compact_revision),
            other => Err(unexpected("a compaction output", other)),
        }
    }
}

impl OpOutput {
    /// A create's actual path and stat.
    pub fn into_create(self) -> Result<(String, Stat), UnexpectedOutput> {
        match self {
            OpOutput::Create { path, stat } => Ok((path, stat)),
            other => Err(unexpected("a create output", other)),
        }
    }

    /// How many znodes a delete removed.
    pub fn into_delete(self) -> Result<i64, UnexpectedOutput> {
        match self {
            OpOutput::Delete { deleted } => Ok(deleted),
            other => Err(unexpected("a delete output", other)),
        }
    }

    /// A put's new stat and, if asked, the previous znode.
    pub fn into_put(self) -> Result<(Stat, Option<Node>), UnexpectedOutput> {
        match self {
            OpOutput::Put { stat, prev } => Ok((stat, prev)),
            other => Err(unexpected("a put output", other)),
        }
    }
}

/// A command's failure as decided by apply; part of the replicated result, so it must be
/// deterministic. Each variant becomes one gRPC status (see `api::errors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum KvError {
    /// The znode does not exist.
    #[error("znode {path} does not exist")]
    NodeNotFound {
        /// Path asked for.
        path: String,
    },
    /// The parent of the znode to create does not exist.
    #[error(
        "cannot create {path}: parent {parent} does not exist (set create_parents to create it)"
    )]
    ParentNotFound {
        /// Path to create.
        path: String,
        /// Missing parent.
        parent: String,
    },
    /// The path is taken.
    #[error("znode {path} already exists")]
    NodeExists {
        /// Path.
        path: String,
    },
    /// `expected_version` did not match.
    #[error("version mismatch on {path}: expected {expected}, current {current}")]
    VersionMismatch {
        /// Path.
        path: String,
        /// Version the caller expected.
        expected: i64,
        /// Current version.
        current: i64,
    },
    /// Non-recursive delete of a znode with children.
    #[error("znode {path} has {num_children} children; delete them first or set recursive")]
    NotEmpty {
        /// Path.
        path: String,
        /// Children count.
        num_children: i64,
    },
    /// Ephemeral znodes cannot have children.
    #[error("cannot create {path}: parent {parent} is ephemeral and cannot have children")]
    EphemeralParent {
        /// Path to create.
        path: String,
        /// Ephemeral parent.
        parent: String,
    },
    /// The lease of an ephemeral create does not exist.
    #[error("lease {lease_id} does not exist (grant one with Lease/Grant)")]
    LeaseNotFound {
        /// Lease id.
        lease_id: i64,
    },
    /// A lease id asked for is taken.
    #[error("lease {lease_id} already exists")]
    LeaseExists {
        /// Lease id.
        lease_id: i64,
    },
    /// A retried request whose result was already forgotten: its outcome is unknown.
    #[error("request {seq} of client {client_id} is older than the {MAX} results kept (oldest kept: {floor}); its outcome can no longer be told", MAX = MAX_RESULTS_PER_CLIENT)]
    RequestTooOld {
        /// Client id.
        client_id: String,
        /// Sequence asked.
        seq: u64,
        /// Oldest sequence still known.
        floor: u64,
    },
    /// A request that is valid in form but not in the current state (e.g. deleting `/`).
    #[error("{0}")]
    Invalid(String),
    /// Auth is enabled and the caller is anonymous.
    #[error("auth is enabled: this call needs credentials (authorization: Bearer <token> from Auth/Authenticate, or a client certificate)")]
    AuthRequired,
    /// The caller lacks a permission. `path` is empty for calls only root may make.
    #[error("{}", permission_message(user, permission, path))]
    PermissionDenied {
        /// Path the permission is needed on; empty for root-only calls.
        path: String,
        /// Permission name (`read`, ..., or `root`).
        permission: String,
        /// The caller.
        user: String,
    },
    /// The caller does not own the lease.
    #[error("permission denied: lease {lease_id} belongs to another user than {user}")]
    LeaseNotOwned {
        /// Lease id.
        lease_id: i64,
        /// The caller.
        user: String,
    },
    /// `expected_acl_version` did not match.
    #[error("ACL version mismatch on {path}: expected {expected}, current {current}")]
    AclVersionMismatch {
        /// Path.
        path: String,
        /// Expected acl_version.
        expected: i64,
        /// Current acl_version.
        current: i64,
    },
    /// No such user.
    #[error("user {user} does not exist")]
    UserNotFound {
        /// Name.
        user: String,
    },
    /// The user exists.
    #[error("user {user} already exists")]
    UserExists {
        /// Name.
        user: String,
    },
    /// No such role.
    #[error("role {role} does not exist (add it with Auth/RoleAdd)")]
    RoleNotFound {
        /// Name.
        role: String,
    },
    /// The role exists.
    #[error("role {role} already exists")]
    RoleExists {
        /// Name.
        role: String,
    },
    /// Auth needs the root user.
    #[error("{0}")]
    RootRequired(String),
}

impl KvError {
    /// Refuses with [`KvError::PermissionDenied`] unless `acl` (the znode's at `path`;
    /// `None` is the default) grants `caller` the permission `perm`. The one decision
    /// of writes (apply) and reads (the API) alike.
    pub fn check_permission(
        caller: &crate::acl::Caller,
        acl: Option<&crate::acl::Acl>,
        path: &str,
        perm: crate::acl::Perms,
    ) -> Result<(), KvError> {
        if caller.may(acl, perm) {
            return Ok(());
        }
        Err(KvError::PermissionDenied {
            path: path.to_string(),
            permission: perm.name().to_string(),
            user: caller.name().to_string(),
        })
    }
}

impl KvError {
    /// Refuses with [`KvError::LeaseNotOwned`] unless `user` owns `lease` or is root: a
    /// lease belongs to the user who granted it; one granted anonymously (auth off)
    /// only root may use. Callers skip it while auth is off.
    pub fn check_lease_owner(
        user: Option<&str>,
        lease: &super::lease::LeaseRecord,
    ) -> Result<(), KvError> {
        if user == Some(crate::acl::ROOT) || user == lease.owner.as_deref() {
            return Ok(());
        }
        Err(KvError::LeaseNotOwned {
            lease_id: lease.id,
            user: user.unwrap_or("anonymous").to_string(),
        })
    }
}

fn permission_message(user: &str, permission: &str, path: &str) -> String {
    if path.is_empty() {
        format!("permission denied: only the root user may make this call (caller: {user})")
    } else {
        format!("permission denied: user {user} lacks the {permission} permission on {path}")
    }
}

/// Result of one command, with the revision the cluster was at after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandResult {
    /// The command's revision if it wrote, else the current revision.
    pub revision: i64,
    /// Output or error.
    pub result: Result<Output, KvError>,
}

/// Apply's answer to one log entry: one result per command (empty for blank and
/// membership entries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct BatchResult {
    /// Per-command results, in order.
    pub results: Vec<CommandResult>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `depth` nested `Once`s around a `Compact`, encoded by hand as bincode would: the
    /// server never builds such a value, so it cannot be serialized from one.
    fn nested_once(depth: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(depth * 20 + 12);
        for _ in 0..depth {
            bytes.extend_from_slice(&9u32.to_le_bytes()); // variant Once
            bytes.extend_from_slice(&0u64.to_le_bytes()); // client_id ""
            bytes.extend_from_slice(&1u64.to_le_bytes()); // seq 1
        }
        bytes.extend_from_slice(&8u32.to_le_bytes()); // variant Compact
        bytes.extend_from_slice(&1i64.to_le_bytes()); // revision 1
        bytes
    }

    #[test]
    fn once_round_trips_through_bincode() {
        let once = Command::Once {
            client_id: "c".into(),
            seq: 3,
            command: Box::new(Command::Compact { revision: 1 }),
        };
        let bytes = bincode::serialize(&once).expect("encode");
        assert_eq!(bytes[..4], 9u32.to_le_bytes(), "Once is variant 9");
        let back: Command = bincode::deserialize(&bytes).expect("decode");
        assert_eq!(back, once);
        // The flag is cleared after decoding: a second Once decodes too.
        let again: Command = bincode::deserialize(&bytes).expect("decode again");
        assert_eq!(again, once);
    }

    #[test]
    fn nested_once_is_refused_without_overflowing_the_stack() {
        assert!(bincode::deserialize::<Command>(&nested_once(1)).is_ok());
        assert!(bincode::deserialize::<Command>(&nested_once(2)).is_err());
        // A million levels (20 MB, under the 64 MiB peer message limit) on a stack as
        // small as a tokio worker's: before the fix this aborted the process.
        let bytes = nested_once(1_000_000);
        let decoded = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || bincode::deserialize::<Command>(&bytes).map(|_| ()))
            .expect("spawn")
            .join()
            .expect("decoding did not panic");
        let err = decoded.expect_err("nested Once refused");
        assert!(err.to_string().contains("cannot wrap another"), "{err}");
        // And the refusal left the thread able to decode a normal Once.
        assert!(bincode::deserialize::<Command>(&nested_once(1)).is_ok());
    }
}
