//! `corral.v1.Election`: thin handlers over `coord::election`.

use std::pin::Pin;

use corral_proto::v1 as pb;
use corral_proto::v1::election_server::Election;
use futures::Stream;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status};

use super::access;
use super::errors::ApiError;
use super::lock::{check_holder_lease, check_lease_and_wait, check_name};
use super::ApiContext;
use crate::acl::Perms;
use crate::coord::election::{self, Leader};
use crate::coord::CoordError;

/// The Election service.
pub struct ElectionService {
    cx: ApiContext,
}

impl ElectionService {
    /// Election service over `cx`.
    pub fn new(cx: ApiContext) -> Self {
        Self { cx }
    }
}

fn leader_key(l: Leader) -> pb::LeaderKey {
    pb::LeaderKey {
        name: l.name,
        key: l.key,
        value: l.value,
        create_revision: l.create_revision,
        lease_id: l.lease_id,
    }
}

type ObserveStream =
    Pin<Box<dyn Stream<Item = Result<pb::LeaderResponse, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Election for ElectionService {
    async fn campaign(
        &self,
        req: Request<pb::CampaignRequest>,
    ) -> Result<Response<pb::CampaignResponse>, Status> {
        let who = self.cx.who(&req).await?;
        let r = req.into_inner();
        check_name("name", &r.name)?;
        check_lease_and_wait(r.lease_id, r.wait_timeout_ms)?;
        access::require_queue(
            &self.cx.node,
            &who,
            &r.name,
            r.lease_id,
            &[Perms::CREATE, Perms::READ],
        )
        .await?;
        if r.value.len() > self.cx.max_data_bytes {
            return Err(ApiError::DataTooLarge {
                path: r.name,
                size: r.value.len(),
                limit: self.cx.max_data_bytes,
            }
            .into());
        }
        let leader = election::campaign(
            self.cx.node.clone(),
            &r.name,
            r.lease_id,
            r.value,
            r.wait_timeout_ms,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(Response::new(pb::CampaignResponse {
            header: self.cx.header(self.cx.node.applied_revision()),
            leader: Some(leader_key(leader)),
        }))
    }

    async fn proclaim(
        &self,
        req: Request<pb::ProclaimRequest>,
    ) -> Result<Response<pb::ProclaimResponse>, Status> {
        let who = self.cx.who(&req).await?;
        let r = req.into_inner();
        check_name("key", &r.key)?;
        check_holder_lease(r.lease_id, "Campaign")?;
        access::require_queue(&self.cx.node, &who, &r.key, r.lease_id, &[Perms::WRITE]).await?;
        if r.value.len() > self.cx.max_data_bytes {
            return Err(ApiError::DataTooLarge {
                path: r.key,
                size: r.value.len(),
                limit: self.cx.max_data_bytes,
            }
            .into());
        }
        let revision = election::proclaim(&self.cx.node, &r.key, r.lease_id, r.value)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ProclaimResponse {
            header: self.cx.header(revision),
        }))
    }

    async fn leader(
        &self,
        req: Request<pb::LeaderRequest>,
    ) -> Result<Response<pb::LeaderResponse>, Status> {
        let who = self.cx.who(&req).await?;
        let name = req.into_inner().name;
        check_name("name", &name)?;
        access::require_queue(&self.cx.node, &who, &name, 0, &[Perms::READ]).await?;
        let (leader, revision) = election::leader(&self.cx.node, &name)
            .await
            .map_err(ApiError::from)?;
        let leader = leader.ok_or_else(|| ApiError::from(CoordError::NoLeader(name)))?;
        Ok(Response::new(pb::LeaderResponse {
            header: self.cx.header(revision),
            leader: Some(leader_key(leader)),
        }))
    }

    type ObserveStream = ObserveStream;

    async fn observe(
        &self,
        req: Request<pb::ObserveRequest>,
    ) -> Result<Response<Self::ObserveStream>, Status> {
        let who = self.cx.who(&req).await?;
        let name = req.into_inner().name;
        check_name("name", &name)?;
        access::require_queue(&self.cx.node, &who, &name, 0, &[Perms::READ]).await?;
        let (tx, mut rx) = mpsc::channel(16);
        tokio::spawn(election::observe(self.cx.node.clone(), name, tx));
        let cx = self.cx.clone();
        let out = async_stream::stream! {
            while let Some(item) = rx.recv().await {
                match item {
                    Ok((leader, revision)) => yield Ok(pb::LeaderResponse {
                        header: cx.header(revision),
                        leader: leader.map(leader_key),
                    }),
                    Err(e) => {
                        yield Err(Status::from(ApiError::from(e)));
                        break;
                    }
                }
            }
        };
        Ok(Response::new(Box::pin(out)))
    }

    async fn resign(
        &self,
        req: Request<pb::ResignRequest>,
    ) -> Result<Response<pb::ResignResponse>, Status> {
        let who = self.cx.who(&req).await?;
        let r = req.into_inner();
        check_name("key", &r.key)?;
        check_holder_lease(r.lease_id, "Campaign")?;
        access::require_queue(&self.cx.node, &who, &r.key, r.lease_id, &[]).await?;
        election::resign(&self.cx.node, &r.key, r.lease_id)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ResignResponse {
            header: self.cx.header(self.cx.node.applied_revision()),
        }))
    }
}
