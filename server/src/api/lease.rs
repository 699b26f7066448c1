//! `corral.v1.Lease`: grant and revoke go through Raft; keepalives and remaining time
//! are answered by the leader's lease clock (forwarded there from any member).

use std::pin::Pin;

use corral_proto::v1 as pb;
use corral_proto::v1::lease_server::Lease;
use futures::Stream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::errors::{from_transport, ApiError};
use super::{access, ApiContext};
use crate::raft::Consistency;
use crate::store::command::{Command, KvError};

/// Shortest lease TTL: keepalives more frequent than this are not worth the traffic.
pub const MIN_TTL_MS: i64 = 1000;
/// Longest lease TTL.
pub const MAX_TTL_MS: i64 = 86_400_000;

/// The Lease service.
pub struct LeaseService {
    cx: ApiContext,
}

impl LeaseService {
    /// Lease service over `cx`.
    pub fn new(cx: ApiContext) -> Self {
        Self { cx }
    }
}

fn check_id(id: i64) -> Result<(), ApiError> {
    if id <= 0 {
        return Err(ApiError::InvalidArgument(format!(
            "lease_id must be ≥ 1 (got {id})"
        )));
    }
    Ok(())
}

type KeepAliveStream =
    Pin<Box<dyn Stream<Item = Result<pb::LeaseKeepAliveResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn grant(
        &self,
        req: Request<pb::LeaseGrantRequest>,
    ) -> Result<Response<pb::LeaseGrantResponse>, Status> {
        let r = *req.get_ref();
        if !(MIN_TTL_MS..=MAX_TTL_MS).contains(&r.ttl_ms) {
            return Err(ApiError::InvalidArgument(format!(
                "ttl_ms must be between {MIN_TTL_MS} and {MAX_TTL_MS} (got {})",
                r.ttl_ms
            ))
            .into());
        }
        if r.lease_id < 0 {
            return Err(ApiError::InvalidArgument(format!(
                "lease_id must be ≥ 0 (got {}); 0 lets the server choose",
                r.lease_id
            ))
            .into());
        }
        let grant = Command::LeaseGrant {
            id: r.lease_id,
            ttl_ms: r.ttl_ms,
        };
        let cmd = self.cx.client_command(&req, grant).await?;
        let res = self.cx.node.propose(cmd).await.map_err(ApiError::from)?;
        let (id, ttl_ms) = res
            .result
            .map_err(ApiError::from)?
            .into_lease()
            .map_err(ApiError::from)?;
        // Start the clock now rather than at the keeper's next tick. The grant is
        // committed whatever happens here: failing the call would make the client
        // grant again, so a failure only delays the clock to the keeper's next
        // tick (at most one tick longer than asked), and is logged.
        if let Err(e) = self.cx.node.lease_keepalive(id).await {
            tracing::warn!(
                lease_id = id,
                "lease granted, but starting its clock failed; it starts at the \
                     lease keeper's next tick: {e}"
            );
        }
        Ok(Response::new(pb::LeaseGrantResponse {
            header: self.cx.header(res.revision),
            lease_id: id,
            ttl_ms,
        }))
    }

    async fn revoke(
        &self,
        req: Request<pb::LeaseRevokeRequest>,
    ) -> Result<Response<pb::LeaseRevokeResponse>, Status> {
        let id = req.get_ref().lease_id;
        check_id(id)?;
        let cmd = self
            .cx
            .client_command(&req, Command::LeaseRevoke { id })
            .await?;
        let res = self.cx.node.propose(cmd).await.map_err(ApiError::from)?;
        let deleted = res
            .result
            .map_err(ApiError::from)?
            .into_deleted()
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::LeaseRevokeResponse {
            header: self.cx.header(res.revision),
            deleted,
        }))
    }

    type KeepAliveStream = KeepAliveStream;

    async fn keep_alive(
        &self,
        req: Request<Streaming<pb::LeaseKeepAliveRequest>>,
    ) -> Result<Response<Self::KeepAliveStream>, Status> {
        let who = self.cx.who(&req).await?;
        access::require_user(&who)?;
        let mut incoming = req.into_inner();
        let cx = self.cx.clone();
        let out = async_stream::try_stream! {
            while let Some(msg) = incoming.next().await {
                // A message that does not decode is the client's mistake: say so.
                let id = msg.map_err(|e| from_transport(e, cx.limits()))?.lease_id;
                check_id(id)?;
                if who.enabled {
                    // A stream opened with a token revoked since (the user deleted or
                    // their password changed) keeps nothing alive: the client must
                    // authenticate again, as for any new call.
                    let state = cx.node.db().auth().map_err(ApiError::from)?;
                    if state.enabled && who.revoked_in(&state) {
                        let user = who.user.clone().unwrap_or_default();
                        Err(ApiError::from(crate::auth::AuthError::TokenRevoked { user }))?;
                    }
                    // Only the lease's owner (or root) may keep it alive.
                    cx.node
                        .read(Consistency::Serializable, |tree| {
                            match tree.lease(id)? {
                                Some(lease) => access::require_lease_owner(&who, &lease),
                                None => Ok(()),
                            }
                        })
                        .await?;
                }
                // An unknown lease ends the stream with NOT_FOUND: its owner has lost its
                // session and must start a new one.
                let ttl_ms = cx.node.lease_keepalive(id).await.map_err(ApiError::from)?;
                yield pb::LeaseKeepAliveResponse {
                    header: cx.header(cx.node.applied_revision()),
                    lease_id: id,
                    ttl_ms,
                };
            }
        };
        Ok(Response::new(Box::pin(out)))
    }

    async fn time_to_live(
        &self,
        req: Request<pb::LeaseTimeToLiveRequest>,
    ) -> Result<Response<pb::LeaseTimeToLiveResponse>, Status> {
        let who = self.cx.who(&req).await?;
        access::require_user(&who)?;
        let r = req.into_inner();
        check_id(r.lease_id)?;
        let remaining_ms = self
            .cx
            .node
            .lease_remaining(r.lease_id)
            .await
            .map_err(ApiError::from)?;
        // The leader knows the lease, so this member will after the read barrier.
        let ((lease, nodes), revision) = self
            .cx
            .node
            .read(Consistency::Linearizable, |tree| {
                let lease =
                    tree.lease(r.lease_id)?
                        .ok_or(ApiError::Kv(KvError::LeaseNotFound {
                            lease_id: r.lease_id,
                        }))?;
                access::require_lease_owner(&who, &lease)?;
                let nodes = if r.with_nodes {
                    // Only the paths the caller may read (CVE-2023-32082 in etcd).
                    let caller = access::caller_in(tree, &who)?;
                    let mut visible = Vec::new();
                    for p in tree.lease_nodes(r.lease_id)? {
                        if access::may_read(tree, caller.as_ref(), &p)? {
                            visible.push(p);
                        }
                    }
                    visible
                } else {
                    Vec::new()
                };
                Ok::<_, ApiError>((lease, nodes))
            })
            .await?;
        Ok(Response::new(pb::LeaseTimeToLiveResponse {
            header: self.cx.header(revision),
            lease_id: r.lease_id,
            ttl_ms: lease.ttl_ms,
            remaining_ms,
            nodes,
        }))
    }

    async fn list(
        &self,
        req: Request<pb::LeaseListRequest>,
    ) -> Result<Response<pb::LeaseListResponse>, Status> {
        let who = self.cx.who(&req).await?;
        access::require_user(&who)?;
        let (leases, revision) = self
            .cx
            .node
            .read(Consistency::Linearizable, |tree| {
                let mut leases = tree.leases()?;
                // A user sees their own leases; root (or anyone, auth off) sees all.
                leases.retain(|l| access::require_lease_owner(&who, l).is_ok());
                Ok::<_, ApiError>(leases)
            })
            .await?;
        Ok(Response::new(pb::LeaseListResponse {
            header: self.cx.header(revision),
            leases: leases
                .into_iter()
                .map(|l| pb::LeaseStatus {
                    lease_id: l.id,
                    ttl_ms: l.ttl_ms,
                })
                .collect(),
        }))
    }
}
