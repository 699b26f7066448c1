//! A loopback TCP proxy that can start losing the server's answers or cut every open
//! connection: it lets a test break a connection after a request reached the server
//! but before its response reached the client.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A loopback TCP proxy in front of one address that can start losing the server's
/// answers: the request reaches the server, the client sees its connection close.
pub struct Proxy {
    /// `127.0.0.1:<port>`, for clients.
    pub addr: String,
    drop_responses: Arc<AtomicBool>,
    /// Bumped by [`Proxy::cut`]: every open connection closes.
    cuts: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let drop_responses = Arc::new(AtomicBool::new(false));
        let flag = drop_responses.clone();
        let (cuts, cut_rx) = tokio::sync::watch::channel(0u64);
        let upstream = upstream.to_string();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let mut cut = cut_rx.clone();
                cut.mark_unchanged();
                let piping = pipe(client, server, flag.clone());
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
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(client: TcpStream, server: TcpStream, drop_responses: Arc<AtomicBool>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = cr.read(&mut buf).await {
            if n == 0 || sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = sr.read(&mut buf).await {
        if n == 0 || drop_responses.load(Ordering::SeqCst) {
            break;
        }
        if cw.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = cw.shutdown().await;
    up.abort();
}
