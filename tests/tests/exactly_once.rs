//! Exactly-once writes: a write whose response was lost (the connection dropped after
//! the server got it) and that is sent again with the same request id is applied once,
//! and the retry returns the first result.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::wire;
use corral_client::ListOptions;
use corral_proto::v1 as pb;
use corral_proto::v1::kv_client::KvClient;
use corral_tests::proxy::Proxy;
use corral_tests::Server;

fn create_with_id(id: &str) -> tonic::Request<pb::CreateRequest> {
    let mut req = tonic::Request::new(pb::CreateRequest {
        path: "/q/item-".into(),
        sequential: true,
        create_parents: true,
        ..Default::default()
    });
    req.metadata_mut()
        .insert("corral-request-id", id.parse().expect("ascii"));
    req.set_timeout(Duration::from_secs(5));
    req
}

#[tokio::test]
async fn sequential_create_retried_after_a_dropped_response_is_applied_once() -> Result<()> {
    let server = Server::start().await?;
    let proxy = Proxy::start(&server.client_addr()).await?;
    let mut via_proxy = KvClient::new(wire::channel(&format!("http://{}", proxy.addr)).await?);
    // Warm the connection up so only the create's answer is lost.
    via_proxy
        .get(pb::GetRequest {
            path: "/".into(),
            ..Default::default()
        })
        .await?;
    proxy.drop_responses();
    let lost = via_proxy.create(create_with_id("client-a/1")).await;
    assert!(
        lost.is_err(),
        "the response was supposed to be lost: {lost:?}"
    );

    // The lost create did reach the server and was applied.
    let client = server.client().await?;
    let mut applied = Vec::new();
    for _ in 0..50 {
        applied = client
            .list("/q", ListOptions::new())
            .await
            .map(|p| p.nodes)
            .unwrap_or_default();
        if !applied.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        applied.len(),
        1,
        "the first attempt was applied before the retry"
    );

    let mut direct = KvClient::new(wire::channel(&server.endpoint()).await?);
    let retry = direct
        .create(create_with_id("client-a/1"))
        .await?
        .into_inner();
    let again = direct
        .create(create_with_id("client-a/1"))
        .await?
        .into_inner();
    assert_eq!(retry.path, again.path);
    assert_eq!(retry.stat, again.stat, "the retry returns the first result");
    assert_eq!(
        retry.path, applied[0].path,
        "the retry answers with the first create's path"
    );
    let items = client.list("/q", ListOptions::new()).await?;
    assert_eq!(
        items
            .nodes
            .iter()
            .map(|n| n.path.clone())
            .collect::<Vec<_>>(),
        vec![retry.path.clone()],
        "the create sent three times was applied once"
    );
    // A new sequence is a new request.
    let next = direct
        .create(create_with_id("client-a/2"))
        .await?
        .into_inner();
    assert_ne!(next.path, retry.path);
    assert_eq!(client.list("/q", ListOptions::new()).await?.nodes.len(), 2);
    Ok(())
}

#[tokio::test]
async fn malformed_request_ids_are_refused_and_change_nothing() -> Result<()> {
    let server = Server::start().await?;
    let mut kv = KvClient::new(wire::channel(&server.endpoint()).await?);
    for bad in ["no-slash", "/1", "c/0", "c/x", "bad id/1"] {
        let err = kv.create(create_with_id(bad)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{bad}");
        assert!(
            err.message().contains("corral-request-id"),
            "{}",
            err.message()
        );
    }
    let client = server.client().await?;
    assert!(client.get("/q", None).await.is_err(), "nothing was created");
    Ok(())
}
