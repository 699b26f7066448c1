//! Helpers shared by the SDK and corralctl test files (`sdk_*.rs`, `corralctl*.rs`):
//! a gate on how many clusters run at once, clients with a chosen first member, a
//! loopback proxy that can lose the server's answers, and the corralctl binary.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use corral_client::Client;
use corral_tests::Cluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, SemaphorePermit};

/// Per-call timeout of the test clients.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Clusters of one test binary running at once: tests run in parallel, and three
/// members each on a small machine would otherwise starve each other.
static CLUSTERS: Semaphore = Semaphore::const_new(2);

/// A 3-member cluster, started once a slot is free; the slot is held while the
/// returned permit lives (keep it until the cluster is dropped).
pub async fn cluster3() -> Result<(SemaphorePermit<'static>, Cluster)> {
    let permit = CLUSTERS.acquire().await?;
    let cluster = Cluster::start(3).await?;
    Ok((permit, cluster))
}

/// A client with every member's endpoint, `first` first, and [`TIMEOUT`] per call.
pub async fn client_via(cluster: &Cluster, first: u64) -> Result<Client> {
    let mut endpoints = vec![cluster.member(first).endpoint()];
    endpoints.extend(
        cluster
            .ids()
            .into_iter()
            .filter(|&id| id != first)
            .map(|id| cluster.member(id).endpoint()),
    );
    Ok(Client::builder(endpoints)
        .timeout(TIMEOUT)
        .connect()
        .await?)
}

/// The member whose client address is `endpoint` (`host:port`).
pub fn member_at(cluster: &Cluster, endpoint: &str) -> Result<u64> {
    cluster
        .ids()
        .into_iter()
        .find(|&id| cluster.member(id).client_addr() == endpoint)
        .with_context(|| format!("no member at {endpoint}"))
}

/// Polls `check` every 50 ms until it returns true or `within` passes.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await? {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("not within {within:?}: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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

/// The `corralctl` binary: next to `$CORRAL_BIN` if set, else in the target directory
/// of the test executable (`cargo build -p corral-client --bins` builds it).
pub fn corralctl_bin() -> Result<PathBuf> {
    let dir = match std::env::var_os("CORRAL_BIN") {
        Some(bin) => PathBuf::from(bin)
            .parent()
            .context("CORRAL_BIN has no directory")?
            .to_path_buf(),
        None => {
            let exe = std::env::current_exe()?;
            let mut dir = exe.parent().context("no directory")?.to_path_buf();
            if dir.ends_with("deps") {
                dir.pop();
            }
            dir
        }
    };
    let bin = dir.join(format!("corralctl{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!(
            "{} not found: run `cargo build -p corral-client --bins` first",
            bin.display()
        );
    }
    Ok(bin)
}
