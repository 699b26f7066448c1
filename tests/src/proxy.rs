//! A loopback TCP proxy in front of one address, for faults a test controls:
//! - [`Proxy::block`] / [`Proxy::unblock`]: a network partition of this link. Bytes
//!   stop flowing both ways, in open connections and new ones, as if packets were
//!   dropped; on unblock what was held back is delivered late, as TCP would.
//! - [`Proxy::drop_responses`]: requests reach the server, but the client's connection
//!   closes as soon as the server answers (a response lost after the request applied).
//! - [`Proxy::cut`]: every open connection closes now.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy on `127.0.0.1:<port>` in front of one upstream address.
#[derive(Debug)]
pub struct Proxy {
    /// `127.0.0.1:<port>`, for clients.
    pub addr: String,
    drop_responses: Arc<AtomicBool>,
    /// Bumped by [`Proxy::cut`]: every open connection closes.
    cuts: watch::Sender<u64>,
    /// True while the link is partitioned.
    blocked: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`host:port`), which need not be listening yet:
    /// each accepted connection dials it then.
    pub async fn start(upstream: &str) -> Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let drop_responses = Arc::new(AtomicBool::new(false));
        let flag = drop_responses.clone();
        let (cuts, cut_rx) = watch::channel(0u64);
        let (blocked, blocked_rx) = watch::channel(false);
        let upstream = upstream.to_string();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let mut cut = cut_rx.clone();
                cut.mark_unchanged();
                let piping = pipe(client, server, flag.clone(), blocked_rx.clone());
                tokio::spawn(async move {
                    tokio::select! {
                        _ = piping => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Ok(Proxy {
            addr,
            drop_responses,
            cuts,
            blocked,
            task,
        })
    }

    /// Closes every open connection now (new ones are accepted): calls in flight
    /// through the proxy see their connection break, the server sees them cancelled.
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// From now on, a connection closes as soon as the server answers anything.
    pub fn drop_responses(&self) {
        self.drop_responses.store(true, Ordering::SeqCst);
    }

    /// Partitions the link: nothing more flows either way until [`Proxy::unblock`].
    pub fn block(&self) {
        self.blocked.send_replace(true);
    }

    /// Heals the link: held-back bytes flow again, in order.
    pub fn unblock(&self) {
        self.blocked.send_replace(false);
    }

    /// Whether the link is partitioned now.
    pub fn is_blocked(&self) -> bool {
        *self.blocked.borrow()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    drop_responses: Arc<AtomicBool>,
    blocked: watch::Receiver<bool>,
) {
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = tokio::spawn(copy(cr, sw, None, blocked.clone()));
    copy(sr, cw, Some(drop_responses), blocked).await;
    up.abort();
}

/// Copies `from` to `to` until either side closes, holding bytes back while the link
/// is blocked; with `close_on_data` set, closes instead of forwarding anything.
async fn copy(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    close_on_data: Option<Arc<AtomicBool>>,
    mut blocked: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if blocked.wait_for(|b| !b).await.is_err() {
            break;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if close_on_data
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
        {
            break;
        }
        // A partition that began while this read waited holds these bytes back too.
        if blocked.wait_for(|b| !b).await.is_err() {
            break;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
