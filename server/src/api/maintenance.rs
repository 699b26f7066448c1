//! `corral.v1.Maintenance`: history compaction and consistent backups.

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
        _req: Request<pb::SnapshotRequest>,
    ) -> Result<Response<Self::SnapshotStream>, Status> {
        let db = self.cx.node.db().clone();
        // One RocksDB snapshot: the backup is exactly the state at one applied revision.
        let (bytes, meta) = tokio::task::spawn_blocking(move || db.export_state(&["revision"]))
            .await
            .map_err(|e| ApiError::Internal(format!("backup task failed: {e}")))?
            .map_err(ApiError::from)?;
        let revision = meta
            .first()
            .cloned()
            .flatten()
            .and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
            .map(i64::from_be_bytes)
            .unwrap_or(0);
        let header = self.cx.header(revision);
        let total = bytes.len();
        let chunks: Vec<Result<pb::SnapshotResponse, Status>> = bytes
            .chunks(SNAPSHOT_CHUNK)
            .enumerate()
            .map(|(i, chunk)| {
                let sent = (i * SNAPSHOT_CHUNK + chunk.len()) as u64;
                Ok(pb::SnapshotResponse {
                    header,
                    remaining_bytes: total as u64 - sent,
                    blob: chunk.to_vec(),
                })
            })
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }

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
