//! The gRPC API. Handlers are thin: validate, build a command or a read, call one
//! function of the Raft node or the store, map the error, fill the header.

pub mod access;
pub mod auth;
pub mod cluster;
pub mod convert;
pub mod election;
pub mod errors;
pub mod kv;
pub mod lease;
pub mod lock;
pub mod maintenance;
pub mod transport_errors;
pub mod validate;
pub mod watch;

use std::sync::Arc;

use corral_proto::v1::ResponseHeader;

use crate::auth::caller::Who;
use crate::raft::RaftNode;
use crate::store::command::Command;
use errors::ApiError;

/// Metadata header carrying a write's request id, `<client-id>/<sequence>`: a write sent
/// again with the same id is applied once and the retry gets the first result.
pub use corral_proto::REQUEST_ID_HEADER;

/// Wraps `command` for exactly-once application when the request carries a request id.
/// Request ids are per user (`user`, the authenticated caller): another user sending the
/// same id must not be answered with this one's remembered result, which may hold data
/// they may not read. Client ids never contain '@', so `user@client` is unambiguous.
pub fn with_request_id<T>(
    req: &tonic::Request<T>,
    user: Option<&str>,
    command: Command,
) -> Result<Command, ApiError> {
    let Some(value) = req.metadata().get(REQUEST_ID_HEADER) else {
        return Ok(command);
    };
    let bad = |why: &str| {
        ApiError::InvalidArgument(format!(
            "{REQUEST_ID_HEADER} must be <client-id>/<sequence>: {why}"
        ))
    };
    let text = value.to_str().map_err(|_| bad("not ASCII"))?;
    let (client, seq) = text.rsplit_once('/').ok_or_else(|| bad("no '/'"))?;
    if client.is_empty() || client.len() > 128 {
        return Err(bad("client id must be 1 to 128 characters"));
    }
    if !client
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(bad("client id may hold only letters, digits and - _ . :"));
    }
    let seq: u64 = seq
        .parse()
        .map_err(|_| bad("sequence must be a positive integer"))?;
    if seq == 0 {
        return Err(bad("sequence must be ≥ 1"));
    }
    let client_id = match user {
        Some(user) => format!("{user}@{client}"),
        None => client.to_string(),
    };
    Ok(Command::Once {
        client_id,
        seq,
        command: Box::new(command),
    })
}

/// What every service needs: the Raft node, request limits and auth settings.
#[derive(Clone)]
pub struct ApiContext {
    /// The local member.
    pub node: Arc<RaftNode>,
    /// Largest znode data accepted.
    pub max_data_bytes: usize,
    /// Largest request message the client port decodes.
    pub max_message_bytes: usize,
    /// Lifetime of the tokens this member issues, ms.
    pub token_ttl_ms: i64,
}

impl ApiContext {
    /// Who sent `req` (see [`crate::auth::caller::identify`]).
    pub async fn who<T>(&self, req: &tonic::Request<T>) -> Result<Who, ApiError> {
        crate::auth::caller::identify(&self.node, req.metadata(), access::cert_user(req))
            .await
            .map_err(ApiError::from)
    }

    /// `command` as a client's command: run as its caller (refused at once if auth is
    /// enabled and the caller is anonymous), applied once per request id if it has one.
    pub async fn client_command<T>(
        &self,
        req: &tonic::Request<T>,
        command: Command,
    ) -> Result<Command, ApiError> {
        let who = self.who(req).await?;
        if who.enabled && who.user.is_none() {
            return Err(crate::auth::AuthError::Required.into());
        }
        with_request_id(
            req,
            who.user.as_deref(),
            Command::As {
                user: who.user.clone(),
                command: Box::new(command),
            },
        )
    }

    /// The client port's size limits, for messages about them.
    pub fn limits(&self) -> errors::TransportLimits {
        errors::TransportLimits {
            message_bytes: self.max_message_bytes,
            data_bytes: self.max_data_bytes,
        }
    }

    /// A response header at `revision`.
    pub fn header(&self, revision: i64) -> Option<ResponseHeader> {
        Some(ResponseHeader {
            cluster_id: self.node.cluster_id(),
            member_id: self.node.id(),
            revision,
            raft_term: self.node.term(),
        })
    }
}
