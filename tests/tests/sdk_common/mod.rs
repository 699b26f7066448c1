//! Helpers shared by the SDK and corralctl test files (`sdk_*.rs`, `corralctl*.rs`):
//! a gate on how many clusters run at once, clients with a chosen first member, a
//! loopback proxy that can lose the server's answers, and the corralctl binary.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use corral_client::Client;
use corral_tests::Cluster;
use tokio::sync::{Semaphore, SemaphorePermit};

#[allow(unused_imports)] // Not every test file that includes this module uses it.
pub use corral_tests::proxy::Proxy;

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
