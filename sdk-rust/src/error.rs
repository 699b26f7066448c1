//! Typed errors of the client, and the one table that maps a gRPC status from the
//! server (code + `google.rpc.ErrorInfo` in domain `corral.v1`) to them.

use std::collections::HashMap;
use std::error::Error as StdError;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Result of every client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The `ErrorInfo.domain` the server puts on every error it raises.
pub use corral_proto::ERROR_DOMAIN;

/// Why a request was rejected as invalid (`INVALID_ARGUMENT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidReason {
    /// The path breaks the path rules (`INVALID_PATH`): not absolute, trailing `/`,
    /// empty, `.` or `..` segment, control character, segment over 255 bytes, path over 4 KiB.
    InvalidPath,
    /// The data is over the server's size limit (`DATA_TOO_LARGE`; 1 MiB by default).
    DataTooLarge,
    /// Any other invalid field or combination of fields (`INVALID_ARGUMENT`, or no reason given).
    InvalidArgument,
}

/// Why the server did not know who the caller is (`UNAUTHENTICATED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnauthenticatedReason {
    /// Auth is enabled and the call carried no credentials (`AUTH_REQUIRED`): configure
    /// [`ClientBuilder::credentials`](crate::ClientBuilder::credentials), a token or a
    /// client certificate.
    AuthRequired,
    /// The token is malformed or not signed by this cluster (`INVALID_TOKEN`).
    InvalidToken,
    /// The token has expired (`TOKEN_EXPIRED`).
    TokenExpired,
    /// The token's user was deleted or changed password since it was issued
    /// (`TOKEN_REVOKED`).
    TokenRevoked,
    /// Wrong user name or password (`BAD_CREDENTIALS`).
    BadCredentials,
    /// The server gave no reason the client knows.
    Unknown,
}

impl UnauthenticatedReason {
    /// Whether authenticating again may cure it: the token went bad (invalid, expired,
    /// revoked), while the credentials may still be good.
    pub fn token_rejected(self) -> bool {
        matches!(
            self,
            UnauthenticatedReason::InvalidToken
                | UnauthenticatedReason::TokenExpired
                | UnauthenticatedReason::TokenRevoked
        )
    }
}

/// An error from a Corral call. Match on the variant; never parse the message.
///
/// Every server-side variant carries the server's `message`, written for a person.
/// `path` is the path the server named, or, when it named none, the path of the
/// request (empty for a [`Txn`](crate::Txn), whose failing op the server must name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is invalid; nothing was changed.
    #[error("{message}")]
    InvalidArgument {
        /// What was wrong.
        reason: InvalidReason,
        /// The path concerned, if the server named one.
        path: Option<String>,
        /// The server's explanation.
        message: String,
    },
    /// The znode does not exist (`NODE_NOT_FOUND`).
    #[error("{message}")]
    NotFound {
        /// Path of the missing znode.
        path: String,
        /// The server's explanation.
        message: String,
    },
    /// The parent of the znode to create does not exist (`PARENT_NOT_FOUND`).
    #[error("{message}")]
    ParentNotFound {
        /// The path the server named (the znode being created or its missing parent).
        path: String,
        /// The server's explanation.
        message: String,
    },
    /// The lease does not exist or has ended (`LEASE_NOT_FOUND`).
    #[error("{message}")]
    LeaseNotFound {
        /// The lease, if the server named it.
        lease_id: Option<i64>,
        /// The server's explanation.
        message: String,
    },
    /// A znode already exists at the path (`NODE_EXISTS`).
    #[error("{message}")]
    AlreadyExists {
        /// Path of the existing znode.
        path: String,
        /// The server's explanation.
        message: String,
    },
    /// `expected_version` did not match the znode's version (`VERSION_MISMATCH`); nothing changed.
    #[error("{message}")]
    VersionMismatch {
        /// Path of the znode.
        path: String,
        /// Version the request expected.
        expected: i64,
        /// Version the znode had.
        current: i64,
        /// The server's explanation.
        message: String,
    },
    /// A non-recursive delete of a znode that has children (`NOT_EMPTY`).
    #[error("{message}")]
    NotEmpty {
        /// Path of the znode.
        path: String,
        /// How many children it had.
        num_children: i64,
        /// The server's explanation.
        message: String,
    },
    /// Ephemeral znodes cannot have children (`EPHEMERAL_PARENT`).
    #[error("{message}")]
    EphemeralParent {
        /// The path the server named.
        path: String,
        /// The server's explanation.
        message: String,
    },
    /// Any other `FAILED_PRECONDITION`: the request was valid but the state did not allow it.
    #[error("{message}")]
    FailedPrecondition {
        /// The server's `ErrorInfo.reason`, if it gave one.
        reason: Option<String>,
        /// The path concerned, if known.
        path: Option<String>,
        /// The server's explanation.
        message: String,
    },
    /// The member cannot serve the request now (no leader, not leader, shutting down).
    /// Retrying later, possibly on another member, may succeed.
    #[error("{message}")]
    Unavailable {
        /// Raft id of the current leader, if the member knows it (`NOT_LEADER`).
        leader_id: Option<u64>,
        /// The leader's client address (the `--client-addr` it serves this API on), if
        /// the member knows it (`NOT_LEADER`); `None` when unknown or when the leader
        /// listens on an unspecified address. Never a peer (Raft) address.
        leader_addr: Option<String>,
        /// The server's explanation.
        message: String,
    },
    /// The write may or may not have been applied (`OUTCOME_UNKNOWN`): leadership moved
    /// or the leader was lost after it was submitted. The client retries such writes
    /// itself when they carry a request id (the default); this is what is left when the
    /// write had none, or when retrying could not settle it.
    #[error("{message}")]
    OutcomeUnknown {
        /// The server's explanation.
        message: String,
    },
    /// A lease with the requested id already exists (`LEASE_EXISTS`).
    #[error("{message}")]
    LeaseExists {
        /// The lease, if the server named it.
        lease_id: Option<i64>,
        /// The server's explanation.
        message: String,
    },
    /// A retried write's request id is older than the results the server keeps
    /// (`REQUEST_TOO_OLD`): its outcome can no longer be told. Nothing was applied by
    /// this attempt; the first attempt may or may not have been.
    #[error("{message}")]
    RequestTooOld {
        /// The server's explanation.
        message: String,
    },
    /// A lock or campaign gave up waiting after its wait timeout (`WAIT_TIMEOUT`); it
    /// left no entry in the queue.
    #[error("{message}")]
    WaitTimeout {
        /// The server's explanation.
        message: String,
    },
    /// The election has no leader (`NO_LEADER`).
    #[error("{message}")]
    NoLeader {
        /// The election's name.
        name: String,
        /// The server's explanation.
        message: String,
    },
    /// The key no longer leads its election (`NOT_ELECTION_LEADER`): a Proclaim from a
    /// former leader.
    #[error("{message}")]
    NotElectionLeader {
        /// The caller's leader key.
        key: String,
        /// The server's explanation.
        message: String,
    },
    /// The caller's queue entry (lock or election) disappeared while it waited
    /// (`ENTRY_GONE`): its lease ended or someone deleted it.
    #[error("{message}")]
    EntryGone {
        /// The queue entry.
        key: String,
        /// The server's explanation.
        message: String,
    },
    /// A watch's start revision (or its position) is no longer in the server's event
    /// history. Re-read the state, then watch from `compact_revision + 1`.
    #[error("{message}")]
    Compacted {
        /// Newest compacted revision.
        compact_revision: i64,
        /// The server's explanation.
        message: String,
    },
    /// The [`Session`](crate::Session)'s lease ended (expired, revoked, or could not be
    /// kept alive for its whole TTL): its ephemeral znodes, locks and leaderships are gone.
    #[error("session lost: lease {lease_id} ended")]
    SessionLost {
        /// The session's lease.
        lease_id: i64,
    },
    /// The server does not implement the call (`UNIMPLEMENTED`), e.g. an older server.
    #[error("not supported by this server: {message}")]
    Unsupported {
        /// What is not supported.
        message: String,
    },
    /// The member is not in the cluster's configuration (`MEMBER_NOT_FOUND`).
    #[error("{message}")]
    MemberNotFound {
        /// Raft id of the member asked for.
        member_id: u64,
        /// The server's explanation.
        message: String,
    },
    /// The cluster's membership does not allow the change (`MEMBERSHIP`): removing the
    /// last voter, promoting a learner that is still far behind, reusing an id or a
    /// peer address, making a learner leader, or another change still in progress.
    /// Nothing was changed.
    #[error("{message}")]
    Membership {
        /// The server's explanation.
        message: String,
    },
    /// The call did not complete in time: the client's timeout, or the server gave up
    /// (`DEADLINE_EXCEEDED`, e.g. a member that did not catch up for a leader transfer,
    /// or `CANCELLED` when the server cut the call off at the deadline the client sent).
    /// A write may or may not have been applied.
    #[error("timed out: {message}")]
    Timeout {
        /// What did not finish in time (the server's explanation, or the client's limit).
        message: String,
    },
    /// The client could not reach a member, or the connection broke mid-call.
    /// A write may or may not have been applied.
    #[error("transport error: {message}")]
    Transport {
        /// What went wrong, including the underlying causes.
        message: String,
    },
    /// An endpoint given to [`Client::connect`](crate::Client::connect) could not be used.
    #[error("invalid endpoint {endpoint:?}: {message}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// Why it was rejected.
        message: String,
    },
    /// The server does not know who the caller is (`UNAUTHENTICATED`); nothing was
    /// changed. A client with a user and password re-authenticates once by itself when
    /// its token was rejected ([`UnauthenticatedReason::token_rejected`]), so this is
    /// what is left when that failed too, or when it cannot (a fixed token, no
    /// credentials, wrong password).
    #[error("not authenticated: {message}")]
    Unauthenticated {
        /// Why.
        reason: UnauthenticatedReason,
        /// The user concerned, when the server named one (`TOKEN_REVOKED`, `BAD_CREDENTIALS`).
        user: Option<String>,
        /// The server's explanation.
        message: String,
    },
    /// The caller lacks a permission (`PERMISSION_DENIED`); nothing was changed.
    #[error("{message}")]
    PermissionDenied {
        /// The znode the permission is missing on; `None` for a call only the root user
        /// may make (auth and user management, Cluster and Maintenance calls).
        path: Option<String>,
        /// What was missing, as the server names it: a znode permission (`read`,
        /// `write`, `create`, `delete`, `admin`; see [`Permission`](crate::Permission)),
        /// `root` for a root-only call, or `lease` for a lease granted by another user.
        permission: Option<String>,
        /// The user the server took the caller to be; `None` when anonymous or not said.
        user: Option<String>,
        /// The server's explanation.
        message: String,
    },
    /// `expected_acl_version` did not match the znode's `acl_version`
    /// (`ACL_VERSION_MISMATCH`); nothing changed.
    #[error("{message}")]
    AclVersionMismatch {
        /// Path of the znode.
        path: String,
        /// ACL version the request expected.
        expected: i64,
        /// ACL version the znode had.
        current: i64,
        /// The server's explanation.
        message: String,
    },
    /// No user with that name (`USER_NOT_FOUND`).
    #[error("{message}")]
    UserNotFound {
        /// The user.
        user: String,
        /// The server's explanation.
        message: String,
    },
    /// A user with that name already exists (`USER_EXISTS`).
    #[error("{message}")]
    UserExists {
        /// The user.
        user: String,
        /// The server's explanation.
        message: String,
    },
    /// No role with that name (`ROLE_NOT_FOUND`).
    #[error("{message}")]
    RoleNotFound {
        /// The role.
        role: String,
        /// The server's explanation.
        message: String,
    },
    /// A role with that name already exists (`ROLE_EXISTS`).
    #[error("{message}")]
    RoleExists {
        /// The role.
        role: String,
        /// The server's explanation.
        message: String,
    },
    /// Auth needs the user `root` (`ROOT_REQUIRED`): enabling auth before it exists,
    /// or deleting it while auth is enabled.
    #[error("{message}")]
    RootRequired {
        /// The server's explanation.
        message: String,
    },
    /// The TLS settings given to the [`ClientBuilder`](crate::ClientBuilder) cannot be
    /// used: a file that cannot be read, a PEM without a certificate or key.
    #[error("TLS configuration: {message}")]
    TlsConfig {
        /// What is wrong, naming the file.
        message: String,
    },
    /// The server's answer lacked a field the API promises (a server bug).
    #[error("invalid response from server: {message}")]
    InvalidResponse {
        /// What was missing or malformed.
        message: String,
    },
    /// Any other status (`INTERNAL`, `RESOURCE_EXHAUSTED`, ...).
    #[error("{code}: {message}")]
    Other {
        /// The gRPC status code.
        code: crate::Code,
        /// The server's `ErrorInfo.reason`, if it gave one.
        reason: Option<String>,
        /// The server's explanation.
        message: String,
    },
}

impl Error {
    /// Maps a status from a call about `request_path` (empty when the call names no
    /// single path) to a typed error: by `ErrorInfo.reason` when the server attached
    /// one in domain [`ERROR_DOMAIN`], else by status code.
    ///
    /// A reason whose required metadata is missing or malformed is not trusted: the
    /// error falls back to the status code, so typed fields are always real values.
    pub(crate) fn from_status(status: &Status, request_path: &str) -> Error {
        // Connection failures are raised by the client's own stack: tonic keeps the
        // cause as the status's source, which a status decoded from the wire never has.
        if let Some(source) = status.source() {
            if matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled)
                && chain_has::<tonic::TimeoutExpired>(source)
            {
                return Error::Timeout {
                    message: "the call's deadline passed".into(),
                };
            }
            return Error::Transport {
                message: with_causes(status.message(), source),
            };
        }
        let details = status.get_error_details();
        let info = details
            .error_info()
            .filter(|info| info.domain == ERROR_DOMAIN);
        let message = status.message().to_string();
        if let Some(info) = info {
            if let Some(err) = from_error_info(&info.reason, &info.metadata, &message) {
                return err;
            }
        }
        let reason = info.map(|info| info.reason.clone());
        let path = info
            .and_then(|info| info.metadata.get("path").cloned())
            .unwrap_or_else(|| request_path.to_string());
        from_code(status.code(), reason, path, message)
    }
}

/// The error for a known reason, or `None` when the reason is unknown or its
/// metadata is incomplete.
fn from_error_info(
    reason: &str,
    metadata: &HashMap<String, String>,
    message: &str,
) -> Option<Error> {
    use corral_proto::v1::{ErrorMetadataKey as K, ErrorReason as R};
    let message = message.to_string();
    let text = |key: K| metadata.get(&key.key()).cloned();
    let number = |key: K| metadata.get(&key.key()).and_then(|v| v.parse::<i64>().ok());
    let invalid = |reason| Error::InvalidArgument {
        reason,
        path: text(K::Path),
        message: message.clone(),
    };
    let unauthenticated = |reason| Error::Unauthenticated {
        reason,
        user: text(K::User).filter(|u| !u.is_empty()),
        message: message.clone(),
    };
    Some(match R::from_str_name(reason)? {
        R::InvalidPath => invalid(InvalidReason::InvalidPath),
        R::DataTooLarge => invalid(InvalidReason::DataTooLarge),
        R::InvalidArgument => invalid(InvalidReason::InvalidArgument),
        R::NodeNotFound => Error::NotFound {
            path: text(K::Path)?,
            message,
        },
        R::ParentNotFound => Error::ParentNotFound {
            path: text(K::Path)?,
            message,
        },
        R::LeaseNotFound => Error::LeaseNotFound {
            lease_id: number(K::LeaseId),
            message,
        },
        R::NodeExists => Error::AlreadyExists {
            path: text(K::Path)?,
            message,
        },
        R::VersionMismatch => Error::VersionMismatch {
            path: text(K::Path)?,
            expected: number(K::ExpectedVersion)?,
            current: number(K::CurrentVersion)?,
            message,
        },
        R::NotEmpty => Error::NotEmpty {
            path: text(K::Path)?,
            num_children: number(K::NumChildren)?,
            message,
        },
        R::EphemeralParent => Error::EphemeralParent {
            path: text(K::Path)?,
            message,
        },
        R::MemberNotFound => Error::MemberNotFound {
            member_id: metadata.get(&K::MemberId.key())?.parse().ok()?,
            message,
        },
        R::Membership => Error::Membership { message },
        R::OutcomeUnknown => Error::OutcomeUnknown { message },
        R::LeaseExists => Error::LeaseExists {
            lease_id: number(K::LeaseId),
            message,
        },
        R::RequestTooOld => Error::RequestTooOld { message },
        R::WaitTimeout => Error::WaitTimeout { message },
        R::NoLeader => Error::NoLeader {
            name: text(K::Name)?,
            message,
        },
        R::NotElectionLeader => Error::NotElectionLeader {
            key: text(K::Path)?,
            message,
        },
        R::EntryGone => Error::EntryGone {
            key: text(K::Path)?,
            message,
        },
        R::Timeout => Error::Timeout { message },
        R::Unavailable | R::NotLeader => Error::Unavailable {
            leader_id: metadata
                .get(&K::LeaderId.key())
                .and_then(|v| v.parse().ok()),
            leader_addr: text(K::LeaderAddr).filter(|a| !a.is_empty()),
            message,
        },
        R::AuthRequired => unauthenticated(UnauthenticatedReason::AuthRequired),
        R::InvalidToken => unauthenticated(UnauthenticatedReason::InvalidToken),
        R::TokenExpired => unauthenticated(UnauthenticatedReason::TokenExpired),
        R::TokenRevoked => unauthenticated(UnauthenticatedReason::TokenRevoked),
        R::BadCredentials => unauthenticated(UnauthenticatedReason::BadCredentials),
        R::PermissionDenied => Error::PermissionDenied {
            path: text(K::Path).filter(|p| !p.is_empty()),
            permission: text(K::Permission).filter(|p| !p.is_empty()),
            user: text(K::User).filter(|u| !u.is_empty()),
            message,
        },
        R::AclVersionMismatch => Error::AclVersionMismatch {
            path: text(K::Path)?,
            expected: number(K::ExpectedVersion)?,
            current: number(K::CurrentVersion)?,
            message,
        },
        R::UserNotFound => Error::UserNotFound {
            user: text(K::User)?,
            message,
        },
        R::UserExists => Error::UserExists {
            user: text(K::User)?,
            message,
        },
        R::RoleNotFound => Error::RoleNotFound {
            role: text(K::Role)?,
            message,
        },
        R::RoleExists => Error::RoleExists {
            role: text(K::Role)?,
            message,
        },
        R::RootRequired => Error::RootRequired { message },
        // Typed by their status code (FailedPrecondition / Other), keeping the reason.
        R::NotQueueEntry | R::NotEntryOwner | R::Internal | R::Unspecified => return None,
    })
}

/// The error for a status without a usable `ErrorInfo`.
fn from_code(code: Code, reason: Option<String>, path: String, message: String) -> Error {
    let known_path = (!path.is_empty()).then(|| path.clone());
    match code {
        Code::InvalidArgument | Code::OutOfRange => Error::InvalidArgument {
            reason: InvalidReason::InvalidArgument,
            path: known_path,
            message,
        },
        Code::NotFound => Error::NotFound { path, message },
        Code::AlreadyExists => Error::AlreadyExists { path, message },
        Code::FailedPrecondition | Code::Aborted => Error::FailedPrecondition {
            reason,
            path: known_path,
            message,
        },
        Code::Unavailable => Error::Unavailable {
            leader_id: None,
            leader_addr: None,
            message,
        },
        // A server enforcing the call's deadline (`grpc-timeout`) answers CANCELLED.
        Code::DeadlineExceeded | Code::Cancelled => Error::Timeout { message },
        Code::Unimplemented => Error::Unsupported { message },
        Code::Unauthenticated => Error::Unauthenticated {
            reason: UnauthenticatedReason::Unknown,
            user: None,
            message,
        },
        Code::PermissionDenied => Error::PermissionDenied {
            path: known_path,
            permission: None,
            user: None,
            message,
        },
        code => Error::Other {
            code: crate::Code::from_tonic(code),
            reason,
            message,
        },
    }
}

impl Error {
    /// Whether a write that failed with this error may nevertheless have been applied:
    /// [`Error::Timeout`], [`Error::Transport`], [`Error::OutcomeUnknown`] and
    /// [`Error::RequestTooOld`]. Read the state to learn what happened.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. }
                | Error::Transport { .. }
                | Error::OutcomeUnknown { .. }
                | Error::RequestTooOld { .. }
        )
    }

    /// Whether the call failed because its token was rejected (invalid, expired,
    /// revoked): authenticating again may cure it.
    pub(crate) fn token_rejected(&self) -> bool {
        matches!(self, Error::Unauthenticated { reason, .. } if reason.token_rejected())
    }

    /// Whether authenticating (again) may cure the failure: the token was rejected, or
    /// the call carried none because the client found auth disabled, and someone has
    /// enabled it since (`AUTH_REQUIRED`).
    pub(crate) fn cured_by_authenticating(&self) -> bool {
        self.token_rejected()
            || matches!(
                self,
                Error::Unauthenticated {
                    reason: UnauthenticatedReason::AuthRequired,
                    ..
                }
            )
    }

    /// Whether the same call may succeed if tried again later, possibly on another
    /// member: the member could not serve it ([`Error::Unavailable`]), could not be
    /// reached ([`Error::Transport`]), or the outcome is unknown.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Unavailable { .. } | Error::Transport { .. } | Error::OutcomeUnknown { .. }
        )
    }
}

/// Whether `E` appears anywhere in the cause chain starting at `err`.
pub(crate) fn chain_has<E: StdError + 'static>(err: &(dyn StdError + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(err) = next {
        if err.is::<E>() {
            return true;
        }
        next = err.source();
    }
    false
}

/// `message: cause: cause...`, without repeated text.
fn with_causes(message: &str, source: &(dyn StdError + 'static)) -> String {
    let causes = describe(source);
    if message.is_empty() || message == GENERIC_TRANSPORT || causes.contains(message) {
        causes
    } else {
        format!("{message}: {causes}")
    }
}

/// What tonic's transport errors say of themselves; their causes say what happened.
const GENERIC_TRANSPORT: &str = "transport error";

/// An error and its causes on one line, `a: b: c`, leaving out tonic's generic
/// "transport error" and any text already said or said again by a later cause.
pub(crate) fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut texts = Vec::new();
    let mut next = Some(err);
    while let Some(err) = next {
        texts.push(err.to_string());
        next = err.source();
    }
    let mut out = String::new();
    for (i, text) in texts.iter().enumerate() {
        let repeated = out.contains(text.as_str())
            || texts[i + 1..]
                .iter()
                .any(|later| later.contains(text.as_str()));
        if text.is_empty() || text == GENERIC_TRANSPORT || repeated {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(text);
    }
    if out.is_empty() {
        out.push_str(GENERIC_TRANSPORT);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::{after_failure, Next, Retry};
    use tonic_types::{ErrorDetails, StatusExt};

    fn status(code: Code, reason: &str, metadata: &[(&str, &str)]) -> Status {
        let metadata: HashMap<String, String> = metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Status::with_error_details(
            code,
            format!("message for {reason}"),
            ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata),
        )
    }

    fn map(status: Status) -> Error {
        Error::from_status(&status, "/request/path")
    }

    #[test]
    fn invalid_reasons_map_to_invalid_argument_with_their_reason() {
        for (reason, expected) in [
            ("INVALID_PATH", InvalidReason::InvalidPath),
            ("DATA_TOO_LARGE", InvalidReason::DataTooLarge),
            ("INVALID_ARGUMENT", InvalidReason::InvalidArgument),
        ] {
            let err = map(status(Code::InvalidArgument, reason, &[("path", "/a/")]));
            assert_eq!(
                err,
                Error::InvalidArgument {
                    reason: expected,
                    path: Some("/a/".into()),
                    message: format!("message for {reason}"),
                }
            );
        }
    }

    #[test]
    fn version_mismatch_carries_expected_and_current_versions() {
        let err = map(status(
            Code::FailedPrecondition,
            "VERSION_MISMATCH",
            &[
                ("path", "/a"),
                ("expected_version", "3"),
                ("current_version", "5"),
            ],
        ));
        assert_eq!(
            err,
            Error::VersionMismatch {
                path: "/a".into(),
                expected: 3,
                current: 5,
                message: "message for VERSION_MISMATCH".into(),
            }
        );
    }

    #[test]
    fn version_mismatch_without_versions_falls_back_to_failed_precondition() {
        let err = map(status(
            Code::FailedPrecondition,
            "VERSION_MISMATCH",
            &[("path", "/a"), ("current_version", "five")],
        ));
        assert_eq!(
            err,
            Error::FailedPrecondition {
                reason: Some("VERSION_MISMATCH".into()),
                path: Some("/a".into()),
                message: "message for VERSION_MISMATCH".into(),
            }
        );
    }

    #[test]
    fn not_found_reasons_keep_the_path_the_server_named() {
        let err = map(status(Code::NotFound, "NODE_NOT_FOUND", &[("path", "/x")]));
        assert!(matches!(err, Error::NotFound { ref path, .. } if path == "/x"));
        let err = map(status(
            Code::NotFound,
            "PARENT_NOT_FOUND",
            &[("path", "/x/y")],
        ));
        assert!(matches!(err, Error::ParentNotFound { ref path, .. } if path == "/x/y"));
        let err = map(status(
            Code::NotFound,
            "LEASE_NOT_FOUND",
            &[("lease_id", "42")],
        ));
        assert!(matches!(
            err,
            Error::LeaseNotFound {
                lease_id: Some(42),
                ..
            }
        ));
    }

    #[test]
    fn exists_not_empty_and_ephemeral_parent_are_typed() {
        let err = map(status(
            Code::AlreadyExists,
            "NODE_EXISTS",
            &[("path", "/e")],
        ));
        assert!(matches!(err, Error::AlreadyExists { ref path, .. } if path == "/e"));
        let err = map(status(
            Code::FailedPrecondition,
            "NOT_EMPTY",
            &[("path", "/n"), ("num_children", "7")],
        ));
        assert!(matches!(
            err,
            Error::NotEmpty { ref path, num_children: 7, .. } if path == "/n"
        ));
        let err = map(status(
            Code::FailedPrecondition,
            "EPHEMERAL_PARENT",
            &[("path", "/eph")],
        ));
        assert!(matches!(err, Error::EphemeralParent { ref path, .. } if path == "/eph"));
    }

    #[test]
    fn not_leader_carries_the_leader_hint_when_known() {
        let err = map(status(
            Code::Unavailable,
            "NOT_LEADER",
            &[("leader_id", "2"), ("leader_addr", "127.0.0.1:2489")],
        ));
        assert_eq!(
            err,
            Error::Unavailable {
                leader_id: Some(2),
                leader_addr: Some("127.0.0.1:2489".into()),
                message: "message for NOT_LEADER".into(),
            }
        );
        let err = map(status(Code::Unavailable, "NOT_LEADER", &[]));
        assert!(matches!(
            err,
            Error::Unavailable {
                leader_id: None,
                leader_addr: None,
                ..
            }
        ));
    }

    #[test]
    fn unknown_reason_falls_back_on_the_code_and_keeps_the_reason() {
        let err = map(status(
            Code::FailedPrecondition,
            "LEASE_EXPIRED_SOMEHOW",
            &[("path", "/p")],
        ));
        assert_eq!(
            err,
            Error::FailedPrecondition {
                reason: Some("LEASE_EXPIRED_SOMEHOW".into()),
                path: Some("/p".into()),
                message: "message for LEASE_EXPIRED_SOMEHOW".into(),
            }
        );
        let err = map(status(Code::Internal, "INTERNAL", &[]));
        assert_eq!(
            err,
            Error::Other {
                code: crate::Code::Internal,
                reason: Some("INTERNAL".into()),
                message: "message for INTERNAL".into(),
            }
        );
    }

    #[test]
    fn error_info_of_another_domain_is_ignored() {
        let status = Status::with_error_details(
            Code::NotFound,
            "gone",
            ErrorDetails::with_error_info("NODE_NOT_FOUND", "example.com", HashMap::new()),
        );
        assert_eq!(
            map(status),
            Error::NotFound {
                path: "/request/path".into(),
                message: "gone".into(),
            }
        );
    }

    #[test]
    fn status_without_error_info_maps_by_code_with_the_request_path() {
        let cases = [
            (
                Status::not_found("no"),
                Error::NotFound {
                    path: "/request/path".into(),
                    message: "no".into(),
                },
            ),
            (
                Status::already_exists("dup"),
                Error::AlreadyExists {
                    path: "/request/path".into(),
                    message: "dup".into(),
                },
            ),
            (
                Status::invalid_argument("bad"),
                Error::InvalidArgument {
                    reason: InvalidReason::InvalidArgument,
                    path: Some("/request/path".into()),
                    message: "bad".into(),
                },
            ),
            (
                Status::unavailable("down"),
                Error::Unavailable {
                    leader_id: None,
                    leader_addr: None,
                    message: "down".into(),
                },
            ),
            (
                Status::deadline_exceeded("slow"),
                Error::Timeout {
                    message: "slow".into(),
                },
            ),
            (
                Status::permission_denied("nope"),
                Error::PermissionDenied {
                    path: Some("/request/path".into()),
                    permission: None,
                    user: None,
                    message: "nope".into(),
                },
            ),
            (
                Status::unauthenticated("who"),
                Error::Unauthenticated {
                    reason: UnauthenticatedReason::Unknown,
                    user: None,
                    message: "who".into(),
                },
            ),
        ];
        for (status, expected) in cases {
            assert_eq!(map(status), expected);
        }
    }

    #[test]
    fn status_raised_by_the_client_stack_is_a_transport_error() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let status = Status::from_error(Box::new(tonic::ConnectError(Box::new(io))));
        assert_eq!(status.code(), Code::Unavailable);
        match map(status) {
            Error::Transport { message } => assert_eq!(message, "refused"),
            other => panic!("expected a transport error, got {other:?}"),
        }
    }

    fn decide(status: &Status, retry: Retry) -> Next {
        after_failure(status, &map(status.clone()), retry)
    }

    #[test]
    fn unsent_requests_are_always_retried_and_cut_off_writes_only_with_an_id() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let refused = Status::from_error(Box::new(tonic::ConnectError(Box::new(io))));
        for retry in [Retry::Safe, Retry::WithRequestId, Retry::Unsafe] {
            assert_eq!(decide(&refused, retry), Next::Again, "{retry:?}");
        }
        let broken = Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::BrokenPipe,
            "broken pipe",
        )));
        assert_eq!(
            decide(&broken, Retry::Unsafe),
            Next::Fail,
            "the write may have been applied"
        );
        assert_eq!(decide(&broken, Retry::WithRequestId), Next::Again);
        assert_eq!(decide(&broken, Retry::Safe), Next::Again);
    }

    #[test]
    fn unavailable_is_retried_and_unknown_outcomes_only_when_safe() {
        let not_leader = status(Code::Unavailable, "NOT_LEADER", &[]);
        for retry in [Retry::Safe, Retry::WithRequestId, Retry::Unsafe] {
            assert_eq!(decide(&not_leader, retry), Next::Again, "{retry:?}");
        }
        let unknown = status(Code::Unavailable, "OUTCOME_UNKNOWN", &[]);
        assert!(matches!(map(unknown.clone()), Error::OutcomeUnknown { .. }));
        assert_eq!(decide(&unknown, Retry::WithRequestId), Next::Again);
        assert_eq!(decide(&unknown, Retry::Unsafe), Next::Fail);
        for final_status in [
            Status::not_found("no"),
            Status::deadline_exceeded("slow"),
            status(Code::FailedPrecondition, "REQUEST_TOO_OLD", &[]),
            Status::from_error(Box::new(tonic::TimeoutExpired(()))),
        ] {
            assert_eq!(
                decide(&final_status, Retry::Safe),
                Next::Fail,
                "{final_status:?}"
            );
        }
    }

    #[test]
    fn coordination_reasons_are_typed() {
        let err = map(status(
            Code::AlreadyExists,
            "LEASE_EXISTS",
            &[("lease_id", "9")],
        ));
        assert!(
            matches!(
                err,
                Error::LeaseExists {
                    lease_id: Some(9),
                    ..
                }
            ),
            "{err:?}"
        );
        let err = map(status(Code::FailedPrecondition, "REQUEST_TOO_OLD", &[]));
        assert!(matches!(err, Error::RequestTooOld { .. }) && err.outcome_unknown());
        let err = map(status(Code::DeadlineExceeded, "WAIT_TIMEOUT", &[]));
        assert!(matches!(err, Error::WaitTimeout { .. }), "{err:?}");
        let err = map(status(Code::NotFound, "NO_LEADER", &[("name", "/e")]));
        assert!(matches!(err, Error::NoLeader { ref name, .. } if name == "/e"));
        let err = map(status(
            Code::FailedPrecondition,
            "NOT_ELECTION_LEADER",
            &[("path", "/e/k"), ("name", "/e")],
        ));
        assert!(matches!(err, Error::NotElectionLeader { ref key, .. } if key == "/e/k"));
        let err = map(status(
            Code::FailedPrecondition,
            "ENTRY_GONE",
            &[("path", "/l/k")],
        ));
        assert!(matches!(err, Error::EntryGone { ref key, .. } if key == "/l/k"));
        let err = map(Status::unimplemented("no such method"));
        assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    }

    #[derive(Debug)]
    struct Chain(&'static str, Option<Box<Chain>>);

    impl std::fmt::Display for Chain {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Chain {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|c| c as _)
        }
    }

    fn chain(texts: &[&'static str]) -> Chain {
        texts
            .iter()
            .rev()
            .fold(None, |inner, text| Some(Chain(text, inner.map(Box::new))))
            .expect("at least one text")
    }

    #[test]
    fn described_causes_say_each_thing_once() {
        let err = chain(&[
            "transport error",
            "transport error: connection error: broken pipe",
            "connection error: broken pipe",
            "broken pipe",
        ]);
        assert_eq!(
            describe(&err),
            "transport error: connection error: broken pipe"
        );
        let err = chain(&["transport error", "tcp connect error", "Connection refused"]);
        assert_eq!(describe(&err), "tcp connect error: Connection refused");
        assert_eq!(describe(&chain(&["transport error"])), "transport error");
    }

    #[test]
    fn client_side_timeout_is_a_timeout() {
        let status = Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert!(matches!(map(status), Error::Timeout { .. }));
    }

    #[test]
    fn deadline_enforced_by_the_server_is_a_timeout() {
        // What a tonic server answers when the call's grpc-timeout passes.
        let err = map(Status::cancelled("Timeout expired"));
        assert_eq!(
            err,
            Error::Timeout {
                message: "Timeout expired".into(),
            }
        );
    }

    #[test]
    fn membership_reasons_are_typed() {
        let err = map(status(
            Code::NotFound,
            "MEMBER_NOT_FOUND",
            &[("member_id", "7")],
        ));
        assert_eq!(
            err,
            Error::MemberNotFound {
                member_id: 7,
                message: "message for MEMBER_NOT_FOUND".into(),
            }
        );
        let err = map(status(Code::FailedPrecondition, "MEMBERSHIP", &[]));
        assert_eq!(
            err,
            Error::Membership {
                message: "message for MEMBERSHIP".into(),
            }
        );
        let err = map(status(Code::DeadlineExceeded, "TIMEOUT", &[]));
        assert_eq!(
            err,
            Error::Timeout {
                message: "message for TIMEOUT".into(),
            }
        );
    }

    #[test]
    fn unauthenticated_reasons_are_typed_and_say_which_renew_the_token() {
        for (reason, expected, renews) in [
            ("AUTH_REQUIRED", UnauthenticatedReason::AuthRequired, false),
            ("INVALID_TOKEN", UnauthenticatedReason::InvalidToken, true),
            ("TOKEN_EXPIRED", UnauthenticatedReason::TokenExpired, true),
            ("TOKEN_REVOKED", UnauthenticatedReason::TokenRevoked, true),
            (
                "BAD_CREDENTIALS",
                UnauthenticatedReason::BadCredentials,
                false,
            ),
        ] {
            let err = map(status(Code::Unauthenticated, reason, &[("user", "bob")]));
            assert_eq!(
                err,
                Error::Unauthenticated {
                    reason: expected,
                    user: Some("bob".into()),
                    message: format!("message for {reason}"),
                }
            );
            assert_eq!(err.token_rejected(), renews, "{reason}");
            assert!(!err.is_transient() && !err.outcome_unknown(), "{reason}");
        }
        let err = map(status(Code::Unauthenticated, "AUTH_REQUIRED", &[]));
        assert!(matches!(err, Error::Unauthenticated { user: None, .. }));
    }

    #[test]
    fn permission_denied_names_the_path_permission_and_user() {
        let err = map(status(
            Code::PermissionDenied,
            "PERMISSION_DENIED",
            &[
                ("path", "/team-a/x"),
                ("permission", "write"),
                ("user", "bob"),
            ],
        ));
        assert_eq!(
            err,
            Error::PermissionDenied {
                path: Some("/team-a/x".into()),
                permission: Some("write".into()),
                user: Some("bob".into()),
                message: "message for PERMISSION_DENIED".into(),
            }
        );
        // A root-only call names no path.
        let err = map(status(
            Code::PermissionDenied,
            "PERMISSION_DENIED",
            &[("permission", "root"), ("user", "bob")],
        ));
        assert_eq!(
            err,
            Error::PermissionDenied {
                path: None,
                permission: Some("root".into()),
                user: Some("bob".into()),
                message: "message for PERMISSION_DENIED".into(),
            }
        );
    }

    #[test]
    fn user_role_root_and_acl_version_reasons_are_typed() {
        let err = map(status(
            Code::FailedPrecondition,
            "ACL_VERSION_MISMATCH",
            &[
                ("path", "/a"),
                ("expected_version", "1"),
                ("current_version", "2"),
            ],
        ));
        assert_eq!(
            err,
            Error::AclVersionMismatch {
                path: "/a".into(),
                expected: 1,
                current: 2,
                message: "message for ACL_VERSION_MISMATCH".into(),
            }
        );
        let err = map(status(Code::NotFound, "USER_NOT_FOUND", &[("user", "u")]));
        assert!(matches!(err, Error::UserNotFound { ref user, .. } if user == "u"));
        let err = map(status(Code::AlreadyExists, "USER_EXISTS", &[("user", "u")]));
        assert!(matches!(err, Error::UserExists { ref user, .. } if user == "u"));
        let err = map(status(Code::NotFound, "ROLE_NOT_FOUND", &[("role", "r")]));
        assert!(matches!(err, Error::RoleNotFound { ref role, .. } if role == "r"));
        let err = map(status(Code::AlreadyExists, "ROLE_EXISTS", &[("role", "r")]));
        assert!(matches!(err, Error::RoleExists { ref role, .. } if role == "r"));
        let err = map(status(Code::FailedPrecondition, "ROOT_REQUIRED", &[]));
        assert!(matches!(err, Error::RootRequired { .. }), "{err:?}");
        // Without the user the reason promises, the code decides (NotFound with the path).
        let err = map(status(Code::NotFound, "USER_NOT_FOUND", &[]));
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }

    /// Every reason of the contract is either typed or knowingly left to its code, so
    /// a reason added to common.proto cannot go unnoticed here.
    #[test]
    fn every_reason_with_its_metadata_maps_to_a_variant_or_to_its_code() {
        use corral_proto::v1::ErrorMetadataKey as K;
        let all_keys: HashMap<String, String> = (1..64)
            .filter_map(|n| K::try_from(n).ok())
            .map(|k| (k.key(), "1".to_string()))
            .collect();
        let untyped = ["NOT_QUEUE_ENTRY", "NOT_ENTRY_OWNER", "INTERNAL"];
        for reason in corral_proto::v1::ErrorReason::all() {
            let typed = from_error_info(reason.reason(), &all_keys, "m");
            assert_eq!(
                typed.is_none(),
                untyped.contains(&reason.reason()),
                "{}: {typed:?}",
                reason.reason()
            );
        }
    }

    #[test]
    fn member_not_found_without_a_member_id_falls_back_to_not_found() {
        for metadata in [&[][..], &[("member_id", "seven")][..]] {
            let err = Error::from_status(&status(Code::NotFound, "MEMBER_NOT_FOUND", metadata), "");
            assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        }
    }
}
