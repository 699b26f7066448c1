//! The one table from internal errors to gRPC statuses. Every status carries a
//! `google.rpc.ErrorInfo` (domain `corral.v1`) whose `reason` and metadata let SDKs map
//! it to a typed error without parsing the message; the message is for people.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::coord::CoordError;
use crate::raft::RaftNodeError;
use crate::store::command::KvError;
use crate::store::path::PathError;
use crate::store::read::ListError;
use crate::store::StoreError;

/// ErrorInfo domain of every Corral error.
pub const ERROR_DOMAIN: &str = "corral.v1";
/// Metadata header naming the leader when a member cannot serve a request itself.
pub const LEADER_HEADER: &str = "corral-leader-id";

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
    /// A broken invariant inside this server (a bug, never the caller's fault).
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ListError> for ApiError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Kv(e) => ApiError::Kv(e),
            ListError::Store(e) => ApiError::Store(e),
        }
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

fn status(code: Code, reason: &str, message: String, meta: &[(&str, String)]) -> Status {
    let metadata: HashMap<String, String> = meta
        .iter()
        .map(|(k, v)| (k.to_string(), bounded(v.clone(), MAX_METADATA_VALUE_BYTES)))
        .collect();
    Status::with_error_details(
        code,
        bounded(message, MAX_MESSAGE_BYTES),
        ErrorDetails::with_error_info(reason, ERROR_DOMAIN, metadata),
    )
}

/// Maps an error to its status: code, reason, metadata and message decided here only.
pub fn to_status(e: ApiError) -> Status {
    let message = e.to_string();
    match e {
        ApiError::InvalidPath { path, .. } => status(
            Code::InvalidArgument,
            "INVALID_PATH",
            message,
            &[("path", path)],
        ),
        ApiError::InvalidArgument(_) => {
            status(Code::InvalidArgument, "INVALID_ARGUMENT", message, &[])
        }
        ApiError::DataTooLarge { path, size, limit } => status(
            Code::InvalidArgument,
            "DATA_TOO_LARGE",
            message,
            &[
                ("path", path),
                ("size", size.to_string()),
                ("limit", limit.to_string()),
            ],
        ),
        ApiError::Kv(kv) => match kv {
            KvError::NodeNotFound { path } => {
                status(Code::NotFound, "NODE_NOT_FOUND", message, &[("path", path)])
            }
            KvError::ParentNotFound { path, parent } => status(
                Code::NotFound,
                "PARENT_NOT_FOUND",
                message,
                &[("path", path), ("parent", parent)],
            ),
            KvError::NodeExists { path } => status(
                Code::AlreadyExists,
                "NODE_EXISTS",
                message,
                &[("path", path)],
            ),
            KvError::VersionMismatch {
                path,
                expected,
                current,
            } => status(
                Code::FailedPrecondition,
                "VERSION_MISMATCH",
                message,
                &[
                    ("path", path),
                    ("expected_version", expected.to_string()),
                    ("current_version", current.to_string()),
                ],
            ),
            KvError::NotEmpty { path, num_children } => status(
                Code::FailedPrecondition,
                "NOT_EMPTY",
                message,
                &[("path", path), ("num_children", num_children.to_string())],
            ),
            KvError::EphemeralParent { path, parent } => status(
                Code::FailedPrecondition,
                "EPHEMERAL_PARENT",
                message,
                &[("path", path), ("parent", parent)],
            ),
            KvError::LeaseNotFound { lease_id } => status(
                Code::NotFound,
                "LEASE_NOT_FOUND",
                message,
                &[("lease_id", lease_id.to_string())],
            ),
            KvError::LeaseExists { lease_id } => status(
                Code::AlreadyExists,
                "LEASE_EXISTS",
                message,
                &[("lease_id", lease_id.to_string())],
            ),
            KvError::RequestTooOld {
                client_id,
                seq,
                floor,
            } => status(
                Code::FailedPrecondition,
                "REQUEST_TOO_OLD",
                message,
                &[
                    ("client_id", client_id),
                    ("seq", seq.to_string()),
                    ("floor", floor.to_string()),
                ],
            ),
            KvError::Invalid(_) => status(Code::InvalidArgument, "INVALID_ARGUMENT", message, &[]),
        },
        ApiError::Raft(r) => match r {
            RaftNodeError::NotLeader {
                leader_id,
                leader_addr,
            } => {
                let mut meta = Vec::new();
                if let Some(id) = leader_id {
                    meta.push(("leader_id", id.to_string()));
                }
                if let Some(addr) = leader_addr {
                    meta.push(("leader_addr", addr));
                }
                let mut s = status(Code::Unavailable, "NOT_LEADER", message, &meta);
                if let Some(id) = leader_id {
                    if let Ok(v) = id.to_string().parse() {
                        s.metadata_mut().insert(LEADER_HEADER, v);
                    }
                }
                s
            }
            RaftNodeError::Unavailable(_) => status(Code::Unavailable, "UNAVAILABLE", message, &[]),
            RaftNodeError::OutcomeUnknown(_) => {
                status(Code::Unavailable, "OUTCOME_UNKNOWN", message, &[])
            }
            RaftNodeError::Stopped(_) => status(Code::Unavailable, "UNAVAILABLE", message, &[]),
            RaftNodeError::Membership(_) => {
                status(Code::FailedPrecondition, "MEMBERSHIP", message, &[])
            }
            RaftNodeError::MemberNotFound(id) => status(
                Code::NotFound,
                "MEMBER_NOT_FOUND",
                message,
                &[("member_id", id.to_string())],
            ),
            RaftNodeError::LeaseNotFound(id) => status(
                Code::NotFound,
                "LEASE_NOT_FOUND",
                message,
                &[("lease_id", id.to_string())],
            ),
            RaftNodeError::Timeout(_) => status(Code::DeadlineExceeded, "TIMEOUT", message, &[]),
        },
        ApiError::Internal(_) => status(Code::Internal, "INTERNAL", message, &[]),
        ApiError::Coord(c) => match c {
            CoordError::WaitTimeout(_) => {
                status(Code::DeadlineExceeded, "WAIT_TIMEOUT", message, &[])
            }
            CoordError::EntryGone(key) => status(
                Code::FailedPrecondition,
                "ENTRY_GONE",
                message,
                &[("path", key)],
            ),
            CoordError::NotLeader { key, name } => status(
                Code::FailedPrecondition,
                "NOT_ELECTION_LEADER",
                message,
                &[("path", key), ("name", name)],
            ),
            CoordError::NoLeader(name) => {
                status(Code::NotFound, "NO_LEADER", message, &[("name", name)])
            }
            CoordError::Watch(_) => status(Code::Unavailable, "UNAVAILABLE", message, &[]),
            CoordError::Kv(_) | CoordError::Raft(_) | CoordError::Store(_) => {
                status(Code::Internal, "INTERNAL", message, &[])
            }
        },
        ApiError::Store(_) => status(
            Code::Internal,
            "INTERNAL",
            format!("storage failure on this member: {message}"),
            &[],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
