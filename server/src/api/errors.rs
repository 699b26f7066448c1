//! The error table: the one mapping from internal errors to gRPC statuses. Every status carries a
//! `google.rpc.ErrorInfo` (domain `corral.v1`) whose `reason` and metadata let SDKs map
//! it to a typed error without parsing the message; the message is for people. The
//! reasons, metadata keys and headers are the enums of `corral/v1/common.proto`.

use std::collections::HashMap;

use corral_proto::v1::{ErrorMetadataKey as Key, ErrorReason};
use corral_proto::{ERROR_DOMAIN, LEADER_ID_HEADER};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::auth::AuthError;
use crate::coord::CoordError;
use crate::raft::RaftNodeError;
use crate::store::command::{KvError, UnexpectedOutput};
use crate::store::path::PathError;
use crate::store::read::ListError;
use crate::store::StoreError;

/// Longest status message, in bytes. The message travels in the `grpc-message` header
/// and the ErrorInfo in `grpc-status-details-bin`, and HTTP/2 clients cap the whole
/// header list (hyper and tonic at 16 KiB, gRPC C-core and Java at 8 KiB), so neither
/// may grow with the request. Found by fuzzing: a refused 40 KB path, echoed whole,
/// made the reply unreadable ("h2 protocol error" on the client), and the client's
/// resets then made the server drop the connection with every call on it.
pub const MAX_MESSAGE_BYTES: usize = 1024;
/// Longest ErrorInfo metadata value, in bytes; longer ones (a path over 1 KiB) are cut
/// and end with `…`.
pub const MAX_METADATA_VALUE_BYTES: usize = 1024;

/// Everything a request can fail with, before mapping to a status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A path field broke a path rule.
    #[error("{field} {source}")]
    InvalidPath {
        /// Request field holding the path.
        field: String,
        /// The rule broken.
        source: PathError,
        /// The path (for ErrorInfo metadata).
        path: String,
    },
    /// Another field is invalid.
    #[error("{0}")]
    InvalidArgument(String),
    /// Data larger than the configured limit.
    #[error("data for {path} is {size} bytes; the limit is {limit} (max-data-bytes)")]
    DataTooLarge {
        /// Path written.
        path: String,
        /// Size sent.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// Refused by the state machine.
    #[error(transparent)]
    Kv(#[from] KvError),
    /// The Raft layer could not serve it.
    #[error(transparent)]
    Raft(#[from] RaftNodeError),
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A lock or election call failed.
    #[error(transparent)]
    Coord(CoordError),
    /// The caller's credentials were refused.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A broken invariant inside this server (a bug, never the caller's fault).
    #[error("internal error: {0}")]
    Internal(String),
    /// The request is not a valid protobuf message of the method's type (truncated, a
    /// wrong wire type, invalid UTF-8 in a string field): raised by the transport.
    #[error("the request is not a valid {0}; check that strings are UTF-8 and that the message matches the method")]
    Undecodable(String),
    /// The request is over the transport's size limit, so its data is surely over the
    /// data limit: raised by the transport before the request is read.
    #[error("the request is larger than this server accepts ({transport_limit} bytes); data is limited to {data_limit} bytes per znode (max-data-bytes)")]
    RequestTooLarge {
        /// What the transport accepts.
        transport_limit: usize,
        /// The configured data limit.
        data_limit: usize,
    },
}

/// Maps a status that tonic raised itself, before a handler ran, to the table's: a
/// request that does not decode is INVALID_ARGUMENT, one over the size limit is
/// DATA_TOO_LARGE (they are the client's fault, not INTERNAL / OUT_OF_RANGE). Statuses
/// from this table carry an ErrorInfo and are returned unchanged; so is anything else.
pub fn from_transport(status: Status, limits: TransportLimits) -> Status {
    if status.details().is_empty() {
        match status.code() {
            Code::Internal => {
                return to_status(ApiError::Undecodable(status.message().to_string()))
            }
            Code::OutOfRange => {
                return to_status(ApiError::RequestTooLarge {
                    transport_limit: limits.message_bytes,
                    data_limit: limits.data_bytes,
                })
            }
            _ => {}
        }
    }
    status
}

/// The size limits the client port enforces, for messages about them.
#[derive(Debug, Clone, Copy)]
pub struct TransportLimits {
    /// Largest request message the transport decodes.
    pub message_bytes: usize,
    /// Largest znode data (max-data-bytes).
    pub data_bytes: usize,
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Kv(e) => ApiError::Kv(e),
            ListError::Store(e) => ApiError::Store(e),
        }
    }
}

impl From<crate::auth::caller::IdentifyError> for ApiError {
    fn from(e: crate::auth::caller::IdentifyError) -> Self {
        use crate::auth::caller::IdentifyError as E;
        match e {
            E::Auth(e) => ApiError::Auth(e),
            E::Store(e) => ApiError::Store(e),
            E::Raft(e) => ApiError::Raft(e),
        }
    }
}

impl From<UnexpectedOutput> for ApiError {
    fn from(e: UnexpectedOutput) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<CoordError> for ApiError {
    fn from(e: CoordError) -> Self {
        match e {
            CoordError::Kv(e) => ApiError::Kv(e),
            CoordError::Raft(e) => ApiError::Raft(e),
            CoordError::Store(e) => ApiError::Store(e),
            other => ApiError::Coord(other),
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        to_status(e)
    }
}

/// `text` cut to at most `max` bytes on a character boundary, ending with `…` if cut.
fn bounded(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut cut = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push('…');
    text
}

/// The gRPC code of each reason: one per reason, as `corral/v1/common.proto` documents
/// (and docs/api.md's table shows, checked by a test).
pub fn code_of(reason: ErrorReason) -> Code {
    use ErrorReason as R;
    match reason {
        R::InvalidPath | R::InvalidArgument | R::DataTooLarge => Code::InvalidArgument,
        R::NodeNotFound
        | R::ParentNotFound
        | R::LeaseNotFound
        | R::MemberNotFound
        | R::NoLeader => Code::NotFound,
        R::NodeExists | R::LeaseExists => Code::AlreadyExists,
        R::VersionMismatch
        | R::NotEmpty
        | R::EphemeralParent
        | R::Membership
        | R::RequestTooOld
        | R::NotElectionLeader
        | R::EntryGone
        | R::NotQueueEntry
        | R::NotEntryOwner
        | R::AclVersionMismatch
        | R::RootRequired => Code::FailedPrecondition,
        R::UserNotFound | R::RoleNotFound => Code::NotFound,
        R::UserExists | R::RoleExists => Code::AlreadyExists,
        R::AuthRequired
        | R::InvalidToken
        | R::TokenExpired
        | R::TokenRevoked
        | R::BadCredentials => Code::Unauthenticated,
        R::PermissionDenied => Code::PermissionDenied,
        R::NotLeader | R::Unavailable | R::OutcomeUnknown => Code::Unavailable,
        R::Timeout | R::WaitTimeout => Code::DeadlineExceeded,
        R::Internal | R::Unspecified => Code::Internal,
    }
}

fn status(reason: ErrorReason, message: String, meta: &[(Key, String)]) -> Status {
    let metadata: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| (k.key(), bounded(v.clone(), MAX_METADATA_VALUE_BYTES)))
        .collect();
    Status::with_error_details(
        code_of(reason),
        bounded(message, MAX_MESSAGE_BYTES),
        ErrorDetails::with_error_info(reason.reason(), ERROR_DOMAIN, metadata),
    )
}

/// Maps an error to its status: reason, metadata and message decided here only.
pub fn to_status(e: ApiError) -> Status {
    use ErrorReason as R;
    let message = e.to_string();
    match e {
        ApiError::InvalidPath { path, .. } => status(R::InvalidPath, message, &[(Key::Path, path)]),
        ApiError::InvalidArgument(_) => status(R::InvalidArgument, message, &[]),
        ApiError::DataTooLarge { path, size, limit } => status(
            R::DataTooLarge,
            message,
            &[
                (Key::Path, path),
                (Key::Size, size.to_string()),
                (Key::Limit, limit.to_string()),
            ],
        ),
        ApiError::Kv(kv) => match kv {
            KvError::NodeNotFound { path } => {
                status(R::NodeNotFound, message, &[(Key::Path, path)])
            }
            KvError::ParentNotFound { path, parent } => status(
                R::ParentNotFound,
                message,
                &[(Key::Path, path), (Key::Parent, parent)],
            ),
            KvError::NodeExists { path } => status(R::NodeExists, message, &[(Key::Path, path)]),
            KvError::VersionMismatch {
                path,
                expected,
                current,
            } => status(
                R::VersionMismatch,
                message,
                &[
                    (Key::Path, path),
                    (Key::ExpectedVersion, expected.to_string()),
                    (Key::CurrentVersion, current.to_string()),
                ],
            ),
            KvError::NotEmpty { path, num_children } => status(
                R::NotEmpty,
                message,
                &[
                    (Key::Path, path),
                    (Key::NumChildren, num_children.to_string()),
                ],
            ),
            KvError::EphemeralParent { path, parent } => status(
                R::EphemeralParent,
                message,
                &[(Key::Path, path), (Key::Parent, parent)],
            ),
            KvError::LeaseNotFound { lease_id } => status(
                R::LeaseNotFound,
                message,
                &[(Key::LeaseId, lease_id.to_string())],
            ),
            KvError::LeaseExists { lease_id } => status(
                R::LeaseExists,
                message,
                &[(Key::LeaseId, lease_id.to_string())],
            ),
            KvError::RequestTooOld {
                client_id,
                seq,
                floor,
            } => status(
                R::RequestTooOld,
                message,
                &[
                    (Key::ClientId, client_id),
                    (Key::Seq, seq.to_string()),
                    (Key::Floor, floor.to_string()),
                ],
            ),
            KvError::Invalid(_) => status(R::InvalidArgument, message, &[]),
            KvError::AuthRequired => status(R::AuthRequired, message, &[]),
            KvError::PermissionDenied {
                path,
                permission,
                user,
            } => {
                let mut meta = vec![(Key::Permission, permission), (Key::User, user)];
                if !path.is_empty() {
                    meta.push((Key::Path, path));
                }
                status(R::PermissionDenied, message, &meta)
            }
            KvError::LeaseNotOwned { lease_id, user } => status(
                R::PermissionDenied,
                message,
                &[
                    (Key::LeaseId, lease_id.to_string()),
                    (Key::Permission, "lease".to_string()),
                    (Key::User, user),
                ],
            ),
            KvError::AclVersionMismatch {
                path,
                expected,
                current,
            } => status(
                R::AclVersionMismatch,
                message,
                &[
                    (Key::Path, path),
                    (Key::ExpectedVersion, expected.to_string()),
                    (Key::CurrentVersion, current.to_string()),
                ],
            ),
            KvError::UserNotFound { user } => {
                status(R::UserNotFound, message, &[(Key::User, user)])
            }
            KvError::UserExists { user } => status(R::UserExists, message, &[(Key::User, user)]),
            KvError::RoleNotFound { role } => {
                status(R::RoleNotFound, message, &[(Key::Role, role)])
            }
            KvError::RoleExists { role } => status(R::RoleExists, message, &[(Key::Role, role)]),
            KvError::RootRequired(_) => status(
                R::RootRequired,
                message,
                &[(Key::User, crate::acl::ROOT.into())],
            ),
        },
        ApiError::Auth(a) => match a {
            AuthError::Required => status(R::AuthRequired, message, &[]),
            AuthError::InvalidToken(_) => status(R::InvalidToken, message, &[]),
            AuthError::TokenExpired => status(R::TokenExpired, message, &[]),
            AuthError::TokenRevoked { user } => {
                status(R::TokenRevoked, message, &[(Key::User, user)])
            }
            AuthError::BadCredentials { user } => {
                status(R::BadCredentials, message, &[(Key::User, user)])
            }
        },
        ApiError::Raft(r) => match r {
            RaftNodeError::NotLeader {
                leader_id,
                leader_addr,
            } => {
                let mut meta = Vec::new();
                if let Some(id) = leader_id {
                    meta.push((Key::LeaderId, id.to_string()));
                }
                if let Some(addr) = leader_addr {
                    meta.push((Key::LeaderAddr, addr));
                }
                let mut s = status(R::NotLeader, message, &meta);
                if let Some(id) = leader_id {
                    if let Ok(v) = id.to_string().parse() {
                        s.metadata_mut().insert(LEADER_ID_HEADER, v);
                    }
                }
                s
            }
            RaftNodeError::Unavailable(_) | RaftNodeError::Stopped(_) => {
                status(R::Unavailable, message, &[])
            }
            RaftNodeError::OutcomeUnknown(_) => status(R::OutcomeUnknown, message, &[]),
            RaftNodeError::Membership(_) => status(R::Membership, message, &[]),
            RaftNodeError::MemberNotFound(id) => status(
                R::MemberNotFound,
                message,
                &[(Key::MemberId, id.to_string())],
            ),
            RaftNodeError::LeaseNotFound(id) => {
                status(R::LeaseNotFound, message, &[(Key::LeaseId, id.to_string())])
            }
            RaftNodeError::Timeout(_) => status(R::Timeout, message, &[]),
        },
        ApiError::Internal(_) => status(R::Internal, message, &[]),
        ApiError::Undecodable(_) => status(R::InvalidArgument, message, &[]),
        ApiError::RequestTooLarge { data_limit, .. } => status(
            R::DataTooLarge,
            message,
            &[(Key::Limit, data_limit.to_string())],
        ),
        ApiError::Coord(c) => match c {
            CoordError::WaitTimeout(_) => status(R::WaitTimeout, message, &[]),
            CoordError::EntryGone(key) => status(R::EntryGone, message, &[(Key::Path, key)]),
            CoordError::NotLeader { key, name } => status(
                R::NotElectionLeader,
                message,
                &[(Key::Path, key), (Key::Name, name)],
            ),
            CoordError::NoLeader(name) => status(R::NoLeader, message, &[(Key::Name, name)]),
            CoordError::NotQueueEntry { key, lease_id, .. } => status(
                R::NotQueueEntry,
                message,
                &[(Key::Path, key), (Key::LeaseId, lease_id.to_string())],
            ),
            CoordError::NotEntryOwner { key, lease_id, .. } => status(
                R::NotEntryOwner,
                message,
                &[(Key::Path, key), (Key::LeaseId, lease_id.to_string())],
            ),
            CoordError::Watch(_) => status(R::Unavailable, message, &[]),
            CoordError::Invariant(_)
            | CoordError::Kv(_)
            | CoordError::Raft(_)
            | CoordError::Store(_) => status(R::Internal, message, &[]),
        },
        ApiError::Store(_) => status(
            R::Internal,
            format!("storage failure on this member: {message}"),
            &[],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/api.md's table of codes and reasons is the proto's, row for row.
    #[test]
    fn docs_error_table_matches_the_proto() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/api.md"))
            .expect("docs/api.md");
        let mut documented: HashMap<String, Vec<String>> = HashMap::new();
        for line in docs
            .lines()
            .skip_while(|l| !l.starts_with("| code | reasons |"))
            .skip(2)
        {
            let Some(row) = line.strip_prefix("| `") else {
                break;
            };
            let (code, reasons) = row.split_once("` |").expect("a table row");
            let names = reasons
                .split(',')
                .filter_map(|r| r.trim().strip_prefix('`'))
                .filter_map(|r| r.split('`').next())
                .map(str::to_string)
                .collect();
            documented.insert(code.to_string(), names);
        }
        let mut expected: HashMap<String, Vec<String>> = HashMap::new();
        for reason in ErrorReason::all() {
            let code = format!("{:?}", code_of(reason));
            // Code's Debug is CamelCase; the docs spell the canonical SCREAMING_CASE.
            let mut screaming = String::new();
            for (i, ch) in code.chars().enumerate() {
                if ch.is_uppercase() && i > 0 {
                    screaming.push('_');
                }
                screaming.push(ch.to_ascii_uppercase());
            }
            expected
                .entry(screaming)
                .or_default()
                .push(reason.reason().to_string());
        }
        for v in documented.values_mut().chain(expected.values_mut()) {
            v.sort();
        }
        assert_eq!(
            documented, expected,
            "docs/api.md's error table differs from common.proto"
        );
    }

    #[test]
    fn version_mismatch_carries_current_version() {
        let s = to_status(ApiError::Kv(KvError::VersionMismatch {
            path: "/a".into(),
            expected: 1,
            current: 4,
        }));
        assert_eq!(s.code(), Code::FailedPrecondition);
        let info = s.get_details_error_info().expect("error info");
        assert_eq!(info.reason, "VERSION_MISMATCH");
        assert_eq!(info.domain, ERROR_DOMAIN);
        assert_eq!(
            info.metadata.get("current_version").map(String::as_str),
            Some("4")
        );
        assert!(
            s.message().contains("expected 1, current 4"),
            "{}",
            s.message()
        );
    }

    #[test]
    fn huge_inputs_give_bounded_statuses() {
        let path = "/ü".repeat(50_000);
        let s = to_status(ApiError::InvalidPath {
            field: "path".into(),
            source: PathError::TooLong(path.len()),
            path: path.clone(),
        });
        assert_eq!(s.code(), Code::InvalidArgument);
        let info = s.get_details_error_info().expect("error info");
        let echoed = &info.metadata["path"];
        assert!(echoed.len() <= MAX_METADATA_VALUE_BYTES, "{}", echoed.len());
        assert!(echoed.ends_with('…') && path.starts_with(echoed.trim_end_matches('…')));
        assert!(s.details().len() <= 2 * MAX_METADATA_VALUE_BYTES);

        // A message that quotes the input (a foreign page token) is cut too.
        let s = to_status(ApiError::InvalidArgument(format!("page_token {path:?}")));
        assert!(
            s.message().len() <= MAX_MESSAGE_BYTES,
            "{}",
            s.message().len()
        );
        assert!(s.message().starts_with("page_token \"/ü/ü"));

        // Short values are left alone.
        let s = to_status(ApiError::Kv(KvError::NodeNotFound { path: "/a".into() }));
        assert_eq!(s.get_details_error_info().unwrap().metadata["path"], "/a");
    }

    #[test]
    fn invalid_path_names_the_rule() {
        let s = to_status(ApiError::InvalidPath {
            field: "path".into(),
            source: PathError::TrailingSlash("/a/".into()),
            path: "/a/".into(),
        });
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.get_details_error_info().unwrap().reason, "INVALID_PATH");
        assert_eq!(s.message(), "path \"/a/\" must not end with '/'");
    }
}
