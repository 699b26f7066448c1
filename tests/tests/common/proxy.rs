//! A loopback TCP proxy that can start dropping the server's answers: it lets a test
//! cut a connection after a request reached the server but before its response
//! reached the client.

#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running proxy in front of one upstream address.
pub struct Proxy {
    /// Address clients connect to, `127.0.0.1:<port>`.
    pub addr: String,
    drop_responses: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` on a free loopback port.
    pub async fn start(upstream: &str) -> Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let drop_responses = Arc::new(AtomicBool::new(false));
        let flag = drop_responses.clone();
        let upstream = upstream.to_string();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(pipe(client, server, flag.clone()));
            }
        });
        Ok(Proxy {
            addr,
            drop_responses,
            task,
        })
    }

    /// From now on the server's bytes are discarded and each connection is closed as
    /// soon as the server answers anything.
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
        loop {
            match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match sr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if drop_responses.load(Ordering::SeqCst) {
                    // The answer never arrives: the client sees its connection drop.
                    break;
                }
                if cw.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = cw.shutdown().await;
    up.abort();
}
