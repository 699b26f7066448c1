//! Measures how much a stalled watcher (subscribed, never reading) slows writers: the
//! same write load without one, with one, and without one again (a control for the
//! database growing), against a running server.
//!
//! Usage: watch-stall-bench <endpoint> [writes] [clients] [value-bytes]
//! (defaults 20000, 32, 256). Prints writes/s for both phases and their ratio.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use corral_proto::v1 as pb;
use corral_proto::v1::kv_client::KvClient;
use corral_proto::v1::watch_client::WatchClient;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

async fn phase(
    channel: &Channel,
    prefix: &str,
    writes: usize,
    clients: usize,
    value: usize,
) -> Result<f64> {
    let mut kv = KvClient::new(channel.clone());
    kv.create(pb::CreateRequest {
        path: prefix.to_string(),
        create_parents: true,
        ..Default::default()
    })
    .await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut kv = kv.clone();
        let prefix = prefix.to_string();
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while i < writes {
                kv.create(pb::CreateRequest {
                    path: format!("{prefix}/k{i:08}"),
                    data: vec![b'v'; value],
                    ..Default::default()
                })
                .await?;
                i += clients;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(writes as f64 / started.elapsed().as_secs_f64())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(endpoint) = args.get(1) else {
        bail!("usage: watch-stall-bench <endpoint> [writes] [clients] [value-bytes]");
    };
    let num = |i: usize, default: usize| -> Result<usize> {
        match args.get(i) {
            Some(v) => v
                .parse()
                .with_context(|| format!("argument {i} ({v}) must be a number")),
            None => Ok(default),
        }
    };
    let (writes, clients, value) = (num(2, 20_000)?, num(3, 32)?, num(4, 256)?);
    if writes == 0 || clients == 0 {
        bail!("writes and clients must be ≥ 1");
    }
    let channel = Channel::from_shared(endpoint.clone())?.connect().await?;
    let run = format!("/stall-bench-{}", std::process::id());

    let free = phase(&channel, &format!("{run}/free"), writes, clients, value).await?;

    // A watcher on everything that never reads: its stream backs up, it falls off the
    // live ring, and must not hold writers back.
    // Its own connection, as a separate slow client would have: on a shared HTTP/2
    // connection an unread stream would also hold up the writers' responses, on the
    // client side.
    let watch_channel = Channel::from_shared(endpoint.clone())?.connect().await?;
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut stalled = WatchClient::new(watch_channel)
        .watch(ReceiverStream::new(rx))
        .await?
        .into_inner();
    tx.send(pb::WatchRequest {
        request: Some(pb::watch_request::Request::Create(pb::WatchCreateRequest {
            path: run.clone(),
            scope: pb::watch_create_request::Scope::Subtree as i32,
            ..Default::default()
        })),
    })
    .await?;
    let created = stalled.message().await?.context("watch not created")?;
    if !created.created {
        bail!("watch not created: {created:?}");
    }
    let with_stall = phase(&channel, &format!("{run}/stalled"), writes, clients, value).await?;
    drop(tx);
    drop(stalled);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The same load again without the watcher, as a control for the database growing.
    let free_again = phase(
        &channel,
        &format!("{run}/free-again"),
        writes,
        clients,
        value,
    )
    .await?;
    let baseline = (free + free_again) / 2.0;
    println!(
        "writes={writes} clients={clients} value={value}B\n\
         without a stalled watcher (before): {free:.0} writes/s\n\
         with a stalled watcher:             {with_stall:.0} writes/s\n\
         without a stalled watcher (after):  {free_again:.0} writes/s\n\
         slowdown factor (mean of the runs without / run with): {:.2}",
        baseline / with_stall
    );
    Ok(())
}
