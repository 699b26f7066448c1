//! A separate client process for tests that kill a lock holder: grants a lease, keeps
//! it alive, takes a lock, prints `locked <key> <fencing-token>`, and holds it until
//! killed.
//!
//! Usage: lock-holder <endpoint> <lock-name> <ttl-ms>

use std::io::Write;
use std::time::Duration;

use corral_proto::v1 as pb;
use corral_proto::v1::lease_client::LeaseClient;
use corral_proto::v1::lock_client::LockClient;
use tokio_stream::wrappers::ReceiverStream;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, endpoint, name, ttl] = args.as_slice() else {
        anyhow::bail!("usage: lock-holder <endpoint> <lock-name> <ttl-ms>");
    };
    let ttl_ms: i64 = ttl.parse()?;
    let channel = tonic::transport::Channel::from_shared(endpoint.clone())?
        .connect()
        .await?;
    let mut leases = LeaseClient::new(channel.clone());
    let lease_id = leases
        .grant(pb::LeaseGrantRequest {
            ttl_ms,
            lease_id: 0,
        })
        .await?
        .into_inner()
        .lease_id;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut answers = leases
        .keep_alive(ReceiverStream::new(rx))
        .await?
        .into_inner();
    tokio::spawn(async move {
        loop {
            if tx
                .send(pb::LeaseKeepAliveRequest { lease_id })
                .await
                .is_err()
            {
                return;
            }
            if !matches!(answers.message().await, Ok(Some(_))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis((ttl_ms / 3) as u64)).await;
        }
    });
    let held = LockClient::new(channel)
        .lock(pb::LockRequest {
            name: name.clone(),
            lease_id,
            wait_timeout_ms: 0,
        })
        .await?
        .into_inner();
    println!("locked {} {}", held.key, held.fencing_token);
    std::io::stdout().flush()?;
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
