//! Robustness: concurrent KV, watch and lock traffic against a 3-node cluster while
//! members are killed, paused and restarted; the recorded history is then checked by
//! `tests/lincheck` (porcupine) for linearizability (which also catches lost
//! acknowledged writes, through the final reads), watch gaps, duplicates and phantom
//! events, and overlapping lock holders.
//!
//! The CI-sized run lasts `CORRAL_ROBUSTNESS_SECS` (default 40 s), and at least one
//! round of every kind of fault; the soak in docs/reliability.md sets it to 1800.

#[path = "../common/mod.rs"]
mod common;
mod faults;
mod history;
mod traffic;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use corral_client::{Error, PutOptions};
use corral_tests::Cluster;
use history::{History, KvRecord, Outcome};

/// The checker binary: `$CORRAL_LINCHECK`, or built now from tests/lincheck.
fn lincheck() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("CORRAL_LINCHECK") {
        return Ok(PathBuf::from(p));
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("lincheck");
    let out = std::env::temp_dir().join(format!("corral-lincheck-{}", std::process::id()));
    let status = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(&src)
        .status()
        .context("running `go build` for tests/lincheck (is Go installed?)")?;
    if !status.success() {
        bail!("go build of tests/lincheck failed");
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_under_traffic_keep_linearizability_watches_and_locks() -> Result<()> {
    let secs: u64 = std::env::var("CORRAL_ROBUSTNESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let seed: u64 = std::env::var("CORRAL_ROBUSTNESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let checker = lincheck()?;
    // A proxy on every peer link (for partitions) and the slow-disk switch. Frequent
    // snapshots with a short log behind them, so that faults also hit snapshot making
    // and purging, and members that were cut off or down catch up by snapshot.
    let mut cluster = Cluster::start_with_links(
        3,
        &[
            "--unsafe-fault-injection",
            "--snapshot-every-entries",
            "300",
            "--logs-to-keep",
            "50",
        ],
    )
    .await?;
    let endpoints: Vec<String> = cluster
        .ids()
        .into_iter()
        .map(|id| cluster.member(id).endpoint())
        .collect();
    let setup = cluster.client_all(1).await?;
    let start_rev = setup
        .put(traffic::PREFIX, "", PutOptions::new().create_if_missing())
        .await?
        .header
        .revision;

    let history = History::new();
    let stop = Arc::new(AtomicBool::new(false));
    let mut kv = Vec::new();
    for id in 0..6 {
        kv.push(tokio::spawn(traffic::kv_client(
            id,
            endpoints.clone(),
            history.clone(),
            stop.clone(),
        )));
    }
    let watcher = tokio::spawn(traffic::watcher(
        endpoints.clone(),
        start_rev + 1,
        history.clone(),
        stop.clone(),
    ));
    let mut lockers = Vec::new();
    for id in 0..3 {
        lockers.push(tokio::spawn(traffic::locker(
            id,
            endpoints.clone(),
            history.clone(),
            stop.clone(),
        )));
    }

    let mut schedule = faults::Schedule::new(seed);
    let mut faults = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // At least one round, so that every kind of fault is injected once.
    while Instant::now() < end || faults.len() < faults::KINDS as usize {
        faults.push(schedule.next(&mut cluster).await?);
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut kv_ops = 0;
    for t in kv {
        kv_ops += t.await??;
    }
    let mut holds = 0;
    for t in lockers {
        holds += t.await??;
    }

    // Final linearizable reads of every key: a lost acknowledged write shows up here.
    cluster.wait_leader().await?;
    for k in 0..traffic::KEYS {
        let key = format!("{}/k{k}", traffic::PREFIX);
        let call = history.now();
        let (found, value) = match setup.get(key.clone(), None).await {
            Ok(r) => (true, String::from_utf8_lossy(&r.node.data).to_string()),
            Err(Error::NotFound { .. }) => (false, String::new()),
            Err(e) => return Err(e.into()),
        };
        history.kv(KvRecord {
            client: 99,
            op: "get",
            key: &key,
            value: &value,
            from: "",
            call,
            ret: history.now(),
            outcome: Outcome::Ok,
            found,
            succeeded: false,
            revision: 0,
        });
    }
    // Let the watcher catch up with every acknowledged write before it is stopped.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = watcher.await??;

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("history.jsonl");
    std::fs::write(&file, history.to_jsonl())?;
    let out = std::process::Command::new(&checker)
        .arg("--history")
        .arg(&file)
        .output()
        .context("running lincheck")?;
    let report = String::from_utf8_lossy(&out.stdout);
    let (ops, recorded_events, recorded_holds) = history.counts();
    eprintln!(
        "robustness: {secs} s, seed {seed}, {} faults injected:\n  {}\n\
         {ops} KV operations recorded ({kv_ops} issued), {recorded_events} watch events \
         ({events} delivered), {recorded_holds} lock holds ({holds})\nchecker report:\n{report}",
        faults.len(),
        faults.join("\n  ")
    );
    if !out.status.success() {
        let keep = std::env::temp_dir().join("corral-robustness-failed-history.jsonl");
        let _ = std::fs::copy(&file, &keep);
        bail!(
            "the checker found violations (history kept at {}): {}",
            keep.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(!faults.is_empty(), "faults were injected");
    assert!(recorded_events > 0 && recorded_holds > 0);
    Ok(())
}
