//! Snapshot data in memory as openraft moves it: loaded by the leader to be sent, and
//! reassembled from chunks by the member that receives it. A receiver refuses to grow a
//! buffer past its cap, so a runaway or hostile sender cannot make it allocate without
//! bound (chunks come with an offset, and a far offset alone would do it).

use std::io::{self, Cursor, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

/// Largest snapshot a member accepts from a leader, in bytes (the serialized state:
/// znodes, leases, sessions and the retained event history).
pub const DEFAULT_MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// Snapshot bytes in memory, no larger than a cap.
#[derive(Debug)]
pub struct SnapshotBuffer {
    data: Cursor<Vec<u8>>,
    cap: u64,
}

impl SnapshotBuffer {
    /// A buffer holding `data` (which may exceed `cap`: the cap limits writes).
    pub fn new(data: Vec<u8>, cap: u64) -> Self {
        Self {
            data: Cursor::new(data),
            cap,
        }
    }

    /// The bytes.
    pub fn into_inner(self) -> Vec<u8> {
        self.data.into_inner()
    }
}

impl AsyncRead for SnapshotBuffer {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.data).poll_read(cx, buf)
    }
}

impl AsyncSeek for SnapshotBuffer {
    fn start_seek(mut self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        Pin::new(&mut self.data).start_seek(position)
    }

    fn poll_complete(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Pin::new(&mut self.data).poll_complete(cx)
    }
}

impl AsyncWrite for SnapshotBuffer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        // Checked before the write: writing at a far position would first fill the gap.
        let end = self.data.position().saturating_add(buf.len() as u64);
        if end > self.cap {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "snapshot from the leader is larger than this member's {}-byte cap \
                     (it reached byte {end}); the leader's state is too large to send",
                    self.cap
                ),
            )));
        }
        Pin::new(&mut self.data).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.data).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.data).poll_shutdown(cx)
    }
}
