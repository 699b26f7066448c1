//! The Maintenance calls on [`Client`]: history compaction, and backups (snapshots) where the
//! server offers them.

use std::sync::atomic::AtomicUsize;

use corral_proto::v1 as pb;
use corral_proto::v1::maintenance_client::MaintenanceClient;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::retry::{renew_and_retry, Retry};
use crate::types::Header;
use crate::types::{wire_header, FromWire};

/// Result of [`Client::compact`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactResponse {
    /// Header of the answer.
    pub header: Header,
    /// Newest compacted revision after the call: watches must start above it.
    pub compact_revision: i64,
}

impl FromWire<pb::CompactResponse> for CompactResponse {
    fn from_wire(r: pb::CompactResponse) -> Result<Self> {
        Ok(CompactResponse {
            header: wire_header(r.header)?,
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
        let work = async {
            let mut renewed = false;
            let mut stream = loop {
                let token = self
                    .fresh_token(None, &AtomicUsize::new(usize::MAX))
                    .await?;
                let (index, channel) = self.members.current();
                let opened = MaintenanceClient::new(channel)
                    .snapshot(pb::SnapshotRequest {})
                    .await;
                let status = match opened {
                    Ok(stream) => break stream.into_inner(),
                    Err(status) => status,
                };
                if status.code() == tonic::Code::Unavailable {
                    self.members.skip(index);
                }
                let error = Error::from_status(&status, "");
                // Nothing was written yet: with a renewed token it can start over.
                if renew_and_retry(&error, self.members.tokens.can_renew(), renewed) {
                    renewed = true;
                    self.members.tokens.reject(token);
                    continue;
                }
                return Err(match error {
                    Error::Unsupported { .. } => Error::Unsupported {
                        message: "the server has no Maintenance/Snapshot RPC".into(),
                    },
                    other => other,
                });
            };
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
                    header = chunk.header.map(Header::from_pb);
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
