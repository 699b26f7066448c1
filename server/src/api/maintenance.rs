//! `corral.v1.Maintenance`: history compaction and consistent backups.

use std::sync::Arc;

use corral_proto::v1 as pb;
use corral_proto::v1::maintenance_server::Maintenance;
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use super::access;
use super::errors::ApiError;
use super::ApiContext;
use crate::store::command::Command;

/// The Maintenance service.
pub struct MaintenanceService {
    cx: ApiContext,
    /// One backup is built at a time: each holds the whole state in memory, so
    /// concurrent ones would multiply that. Later calls wait their turn (or give up
    /// with their deadline, which drops them from the queue).
    backups: Arc<Semaphore>,
}

impl MaintenanceService {
    /// Maintenance service over `cx`.
    pub fn new(cx: ApiContext) -> Self {
        Self {
            cx,
            backups: Arc::new(Semaphore::new(1)),
        }
    }
}

/// Bytes per backup chunk (well under the 4 MiB gRPC default).
const SNAPSHOT_CHUNK: usize = 1 << 20;

type SnapshotStream = std::pin::Pin<
    Box<dyn futures::Stream<Item = Result<pb::SnapshotResponse, Status>> + Send + 'static>,
>;

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    type SnapshotStream = SnapshotStream;

    async fn snapshot(
        &self,
        req: Request<pb::SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        let permit = self
            .backups
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::Internal("backup queue closed".into()))?;
        let db = self.cx.node.db().clone();
        // One RocksDB snapshot: the backup is exactly the state at one applied revision.
        let (bytes, revision) = tokio::task::spawn_blocking(move || db.export_backup())
            .await
            .map_err(|e| ApiError::Internal(format!("backup task failed: {e}")))?
            .map_err(ApiError::from)?;
        let header = self.cx.header(revision);
        let total = bytes.len();
        // Chunks are copied out as the client takes them, and the turn is held until
        // the last one is sent (or the client goes away and the stream is dropped).
        let chunks = (0..total.div_ceil(SNAPSHOT_CHUNK)).map(move |i| {
            let _turn = &permit;
            let start = i * SNAPSHOT_CHUNK;
            let end = (start + SNAPSHOT_CHUNK).min(total);
            Ok(pb::SnapshotResponse {
                header,
                remaining_bytes: (total - end) as u64,
                blob: bytes[start..end].to_vec(),
            })
        });
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }

    async fn compact(
        &self,
        req: Request<pb::CompactRequest>,
    ) -> Result<Response<pb::CompactResponse>, Status> {
        access::require_root(&self.cx.who(&req).await?)?;
        let revision = req.get_ref().revision;
        if revision < 1 {
            return Err(ApiError::InvalidArgument(format!(
                "revision must be ≥ 1 (got {revision})"
            ))
            .into());
        }
        // Run as the caller, so apply checks root against the state it applies to.
        let cmd = self
            .cx
            .client_command(&req, Command::Compact { revision })
            .await?;
        let res = self.cx.node.propose(cmd).await.map_err(ApiError::from)?;
        let compact_revision = res
            .result
            .map_err(ApiError::from)?
            .into_compacted()
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::CompactResponse {
            header: self.cx.header(res.revision),
            compact_revision,
        }))
    }
}
