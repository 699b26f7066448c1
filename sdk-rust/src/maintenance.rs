//! The Maintenance calls on [`Client`]: history compaction, and snapshots where the
//! server offers them.

use corral_proto::v1 as pb;
use corral_proto::v1::maintenance_client::MaintenanceClient;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tonic::codegen::http::uri::PathAndQuery;

use crate::client::Client;
use crate::error::{Error, Result, Retry};
use crate::types::{required, Header};

/// Result of [`Client::compact`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactResponse {
    /// Header of the answer.
    pub header: Header,
    /// Newest compacted revision after the call: watches must start above it.
    pub compact_revision: i64,
}

impl TryFrom<pb::CompactResponse> for CompactResponse {
    type Error = Error;

    fn try_from(r: pb::CompactResponse) -> Result<Self> {
        Ok(CompactResponse {
            header: required(r.header, "response header")?.into(),
            compact_revision: r.compact_revision,
        })
    }
}

/// Result of [`Client::snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Header of the first message.
    pub header: Header,
    /// Bytes written.
    pub bytes: u64,
}

/// `corral.v1.Maintenance/Snapshot`'s request. The public protos do not define the
/// RPC yet; the client asks for it by name so that a server that offers it can answer,
/// and one that does not answers `UNIMPLEMENTED`.
#[derive(Clone, PartialEq, prost::Message)]
struct SnapshotRequest {}

/// One chunk of a snapshot stream, in etcd's shape (`header`, `remaining_bytes`,
/// `blob`), which the Snapshot RPC is expected to follow once the protos define it.
#[derive(Clone, PartialEq, prost::Message)]
struct SnapshotResponse {
    #[prost(message, optional, tag = "1")]
    header: Option<pb::ResponseHeader>,
    #[prost(uint64, tag = "2")]
    remaining_bytes: u64,
    #[prost(bytes = "vec", tag = "3")]
    blob: Vec<u8>,
}

const SNAPSHOT_PATH: &str = "/corral.v1.Maintenance/Snapshot";

impl Client {
    /// Discards the event history up to and including `revision` (cluster-wide):
    /// watches can no longer start at or below it. Compacting again to the same or an
    /// older revision changes nothing.
    pub async fn compact(&self, revision: i64) -> Result<CompactResponse> {
        let request = pb::CompactRequest { revision };
        self.call("", Retry::Safe, request, |channel, r| async move {
            MaintenanceClient::new(channel).compact(r).await
        })
        .await
    }

    /// Streams a consistent backup of the member's data into `out` and returns how
    /// many bytes were written. Fails with [`Error::Unsupported`] when the server does
    /// not offer snapshots (`UNIMPLEMENTED`), before anything is written.
    pub async fn snapshot<W: AsyncWrite + Unpin>(&self, out: &mut W) -> Result<SnapshotInfo> {
        let (index, channel) = self.members.current();
        let work = async {
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.map_err(|e| {
                self.members.skip(index);
                Error::Transport {
                    message: crate::error::describe(&e),
                }
            })?;
            let codec: tonic_prost::ProstCodec<SnapshotRequest, SnapshotResponse> =
                tonic_prost::ProstCodec::default();
            let mut stream = grpc
                .server_streaming(
                    tonic::Request::new(SnapshotRequest {}),
                    PathAndQuery::from_static(SNAPSHOT_PATH),
                    codec,
                )
                .await
                .map_err(|s| match Error::from_status(&s, "") {
                    Error::Unsupported { .. } => Error::Unsupported {
                        message: "the server has no Maintenance/Snapshot RPC".into(),
                    },
                    other => other,
                })?
                .into_inner();
            let mut header = None;
            let mut bytes = 0u64;
            let written = |e: std::io::Error| Error::Transport {
                message: format!("cannot write the snapshot: {e}"),
            };
            while let Some(chunk) = stream
                .message()
                .await
                .map_err(|s| Error::from_status(&s, ""))?
            {
                if header.is_none() {
                    header = chunk.header.map(Header::from);
                }
                out.write_all(&chunk.blob).await.map_err(written)?;
                bytes += chunk.blob.len() as u64;
            }
            out.flush().await.map_err(written)?;
            if bytes == 0 {
                return Err(Error::InvalidResponse {
                    message: "the snapshot stream held no data".into(),
                });
            }
            Ok(SnapshotInfo {
                header: header.unwrap_or_default(),
                bytes,
            })
        };
        match self.timeout() {
            Some(timeout) => {
                tokio::time::timeout(timeout, work)
                    .await
                    .map_err(|_| Error::Timeout {
                        message: format!("snapshot not complete within {timeout:?}"),
                    })?
            }
            None => work.await,
        }
    }
}
