//! The Rust client's endpoint failover against real processes. The two servers here
//! are independent single-node clusters, so the data shows which one answered.

use anyhow::Result;
use corral_client::{Client, Error};
use corral_tests::{Ports, Server};

#[tokio::test]
async fn connect_skips_endpoints_that_do_not_answer() -> Result<()> {
    let server = Server::start().await?;
    let dead = format!("127.0.0.1:{}", Ports::allocate()?.client);
    let c = Client::connect([dead.as_str(), &server.client_addr()]).await?;
    for i in 0..10 {
        c.create(format!("/n{i}"), "", None).await?;
    }
    let err = Client::connect([dead.as_str()])
        .await
        .expect_err("nothing listens there");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    Ok(())
}

#[tokio::test]
async fn reads_move_to_the_next_endpoint_when_the_member_goes_away() -> Result<()> {
    let mut a = Server::start().await?;
    let b = Server::start().await?;
    b.client().await?.create("/on-b", "b", None).await?;
    let c = Client::connect([a.client_addr(), b.client_addr()]).await?;
    c.create("/on-a", "a", None).await?;

    a.kill9()?;
    // The first read finds the connection to `a` dead, and is retried on `b`.
    assert_eq!(c.get("/on-b", None).await?.node.data, b"b");
    assert!(matches!(
        c.get("/on-a", None).await,
        Err(Error::NotFound { .. })
    ));
    // Writes now go to `b` too.
    c.create("/after", "", None).await?;
    assert!(b.client().await?.get("/after", None).await.is_ok());
    Ok(())
}
