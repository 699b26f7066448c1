//! The quick start of docs/quickstart.md, compiled with the crate so it stays true.
//! Run it against a server on 127.0.0.1:2479 (`scripts/serve.sh`):
//! `cargo run -p corral-client --example quickstart`.

use std::time::Duration;

use corral_client::recipes::{LeaderElection, Mutex, ServiceRegistry};
use corral_client::{Client, CreateOptions, Error, PutOptions, Session, WatchOptions};

#[tokio::main]
async fn main() -> corral_client::Result<()> {
    // Every member of the cluster; calls fail over between them, and writes are
    // retried exactly once (each carries a request id).
    let client = Client::builder(["127.0.0.1:2479"])
        .timeout(Duration::from_secs(5))
        .connect()
        .await?;

    // Znodes: create, compare-and-set, read.
    client
        .create("/app/counter", "0", CreateOptions::new().create_parents())
        .await
        .ok();
    let got = client.get("/app/counter", None).await?;
    match client
        .put(
            "/app/counter",
            "1",
            PutOptions::new().expected_version(got.node.stat.version),
        )
        .await
    {
        Ok(put) => println!("now version {}", put.stat.version),
        Err(Error::VersionMismatch { current, .. }) => println!("lost the race: {current}"),
        Err(e) => return Err(e),
    }

    // A watch that survives member failures: resumes where it stopped.
    let mut watcher = client.watch("/app", WatchOptions::new().subtree()).await?;
    tokio::spawn(async move {
        while let Some(Ok(event)) = watcher.next().await {
            println!("{} {:?} {}", event.revision, event.kind, event.node.path);
        }
    });

    // A session: a lease kept alive in the background. What it holds (ephemeral
    // znodes, locks, leadership) ends with the process, one TTL later.
    let session = Session::new(&client, Duration::from_secs(10)).await?;

    // Register this instance for discovery.
    let registry = ServiceRegistry::new(&client, "/services");
    registry
        .register(&session, "api", "host-7", r#"{"addr":"10.0.0.7:8080"}"#)
        .await?;

    // A lock with a fencing token.
    let guard = Mutex::new(&session, "/locks/reindex").lock().await?;
    println!("reindexing with token {}", guard.fencing_token());
    guard.unlock().await?;

    // Leader election.
    let leadership = LeaderElection::new(&session, "/elections/scheduler")
        .campaign("host-7")
        .await?;
    tokio::select! {
        lost = leadership.lost() => eprintln!("no longer leader: {lost}"),
        _ = tokio::time::sleep(Duration::from_secs(1)) => println!("led for a second"),
    }
    leadership.resign().await?;

    session.close().await // revokes the lease: the registration goes at once
}
