//! `corral.v1.Cluster`: membership and status, thin over the Raft node.

use corral_proto::v1 as pb;
use corral_proto::v1::cluster_server::Cluster;
use tonic::{Request, Response, Status};

use super::access;
use super::errors::ApiError;
use super::ApiContext;
use crate::raft::forward_wire::AdminOp;
use crate::raft::MemberInfo;

/// The Cluster service.
pub struct ClusterService {
    cx: ApiContext,
}

impl ClusterService {
    /// Cluster service over `cx`.
    pub fn new(cx: ApiContext) -> Self {
        Self { cx }
    }

    fn members(&self) -> Vec<pb::Member> {
        self.cx.node.members().into_iter().map(member).collect()
    }

    fn header(&self) -> Option<pb::ResponseHeader> {
        self.cx.header(self.cx.node.applied_revision())
    }

    /// Runs a membership change on the leader, then waits until this member has applied
    /// it, so the members it reports are those after the change.
    async fn admin(&self, op: AdminOp) -> Result<u64, Status> {
        let leader = self.cx.node.admin(op).await.map_err(ApiError::from)?;
        self.cx.node.read_barrier().await.map_err(ApiError::from)?;
        Ok(leader)
    }
}

fn member(m: MemberInfo) -> pb::Member {
    pb::Member {
        member_id: m.id,
        peer_addr: m.peer_addr,
        is_learner: m.is_learner,
    }
}

fn check_id(id: u64) -> Result<(), Status> {
    if id == 0 {
        return Err(ApiError::InvalidArgument("member_id must be ≥ 1".into()).into());
    }
    Ok(())
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_list(
        &self,
        req: Request<pb::MemberListRequest>,
    ) -> Result<Response<pb::MemberListResponse>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        Ok(Response::new(pb::MemberListResponse {
            header: self.header(),
            members: self.members(),
            leader_id: self.cx.node.leader().unwrap_or(0),
        }))
    }

    async fn member_add(
        &self,
        req: Request<pb::MemberAddRequest>,
    ) -> Result<Response<pb::MemberAddResponse>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        let r = req.into_inner();
        check_id(r.member_id)?;
        if r.peer_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(ApiError::InvalidArgument(format!(
                "peer_addr {:?} must be ip:port, e.g. 127.0.0.1:2510",
                r.peer_addr
            ))
            .into());
        }
        self.admin(AdminOp::AddLearner {
            id: r.member_id,
            addr: r.peer_addr,
        })
        .await?;
        Ok(Response::new(pb::MemberAddResponse {
            header: self.header(),
            members: self.members(),
        }))
    }

    async fn member_promote(
        &self,
        req: Request<pb::MemberPromoteRequest>,
    ) -> Result<Response<pb::MemberPromoteResponse>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        let r = req.into_inner();
        check_id(r.member_id)?;
        self.admin(AdminOp::Promote { id: r.member_id }).await?;
        Ok(Response::new(pb::MemberPromoteResponse {
            header: self.header(),
            members: self.members(),
        }))
    }

    async fn member_remove(
        &self,
        req: Request<pb::MemberRemoveRequest>,
    ) -> Result<Response<pb::MemberRemoveResponse>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        let r = req.into_inner();
        check_id(r.member_id)?;
        self.admin(AdminOp::Remove { id: r.member_id }).await?;
        Ok(Response::new(pb::MemberRemoveResponse {
            header: self.header(),
            members: self.members(),
        }))
    }

    async fn transfer_leader(
        &self,
        req: Request<pb::TransferLeaderRequest>,
    ) -> Result<Response<pb::TransferLeaderResponse>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        let r = req.into_inner();
        check_id(r.member_id)?;
        let leader_id = self
            .admin(AdminOp::TransferLeader { to: r.member_id })
            .await?;
        Ok(Response::new(pb::TransferLeaderResponse {
            header: self.header(),
            leader_id,
        }))
    }

    async fn status(
        &self,
        req: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        let s = self.cx.node.status().map_err(ApiError::from)?;
        Ok(Response::new(pb::StatusResponse {
            header: self.cx.header(s.revision),
            member_id: s.member_id,
            leader_id: s.leader_id,
            raft_term: s.term,
            commit_index: s.commit_index,
            applied_index: s.applied_index,
            revision: s.revision,
            db_size_bytes: s.db_size_bytes,
            version: env!("CARGO_PKG_VERSION").to_string(),
            last_log_index: s.last_log_index,
            is_learner: s.is_learner,
            snapshot_index: s.snapshot_index,
            snapshot_installs: s.snapshot_installs,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::node_tests;

    #[tokio::test]
    async fn status_reports_a_storage_error_instead_of_commit_index_zero() {
        let dir = tempfile::tempdir().expect("tempdir");
        let node = node_tests::start_leader(dir.path()).await;
        let svc = ClusterService::new(ApiContext {
            node: node.clone(),
            max_data_bytes: 1024,
            max_message_bytes: 2048,
            token_ttl_ms: 60_000,
        });
        let ok = svc
            .status(Request::new(pb::StatusRequest {}))
            .await
            .expect("status");
        assert!(ok.get_ref().commit_index > 0);
        node.db()
            .set_raft_meta("committed", b"bad", false)
            .expect("write");
        let result = svc.status(Request::new(pb::StatusRequest {})).await;
        node.shutdown().await;
        let err = result.expect_err("the commit index cannot be read");
        assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
    }
}
