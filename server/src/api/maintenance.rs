//! `corral.v1.Maintenance`: history compaction.

use corral_proto::v1 as pb;
use corral_proto::v1::maintenance_server::Maintenance;
use tonic::{Request, Response, Status};

use super::status::ApiError;
use super::ApiContext;
use crate::store::command::{Command, Output};

/// The Maintenance service.
pub struct MaintenanceService {
    cx: ApiContext,
}

impl MaintenanceService {
    /// Maintenance service over `cx`.
    pub fn new(cx: ApiContext) -> Self {
        Self { cx }
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn compact(
        &self,
        req: Request<pb::CompactRequest>,
    ) -> Result<Response<pb::CompactResponse>, Status> {
        let revision = req.into_inner().revision;
        if revision < 1 {
            return Err(ApiError::InvalidArgument(format!(
                "revision must be ≥ 1 (got {revision})"
            ))
            .into());
        }
        let res = self
            .cx
            .node
            .propose(Command::Compact { revision })
            .await
            .map_err(ApiError::from)?;
        match res.result.map_err(ApiError::from)? {
            Output::Compacted { compact_revision } => Ok(Response::new(pb::CompactResponse {
                header: self.cx.header(res.revision),
                compact_revision,
            })),
            _ => Err(ApiError::Internal("compact returned another kind of output".into()).into()),
        }
    }
}
