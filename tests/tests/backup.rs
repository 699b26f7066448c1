//! Backups (`Maintenance/Snapshot`) under load: concurrent backups of a large state all
//! succeed, identical, and the server's memory does not grow with their number. A new
//! cluster started with `corral restore` from a backup serves exactly the backed-up
//! state and carries on from its revision.

use anyhow::{ensure, Context, Result};
use corral_client::{Client, GetOptions, PutOptions, SnapshotInfo, WatchOptions};
use corral_tests::{Cluster, Server};
use tokio::task::JoinSet;

/// Peak resident memory of a process (`VmHWM`), from /proc.
fn peak_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .context("no VmHWM in /proc/<pid>/status")?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .context("malformed VmHWM")?
        .parse()?;
    Ok(kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_backups_of_a_large_state_take_bounded_memory() -> Result<()> {
    // Found by the gRPC fuzz pass: every Snapshot call built the whole dump in memory
    // (plus a copy per chunk) at once, so N concurrent calls took N times that.
    const VALUES: usize = 24;
    const VALUE_BYTES: usize = 1_000_000;
    const BACKUPS: usize = 8;
    let server = Server::start().await?;
    let client = server.client().await?;
    for i in 0..VALUES {
        let data = vec![b'a' + (i % 26) as u8; VALUE_BYTES];
        client
            .put(
                format!("/big-{i}"),
                data,
                PutOptions::new().create_if_missing(),
            )
            .await?;
    }
    let pid = server.pid().context("server not running")?;
    let before = peak_rss(pid)?;

    let mut backups = JoinSet::new();
    for _ in 0..BACKUPS {
        let client = client.clone();
        backups.spawn(async move {
            let mut out = Vec::new();
            client.snapshot(&mut out).await.map(|_| out)
        });
    }
    let mut sizes = Vec::new();
    while let Some(backup) = backups.join_next().await {
        sizes.push(backup??.len());
    }
    let state = VALUES * VALUE_BYTES;
    ensure!(
        sizes.iter().all(|&n| n == sizes[0] && n >= state),
        "backups differ or are too small: {sizes:?}"
    );
    let grew = peak_rss(pid)?.saturating_sub(before);
    eprintln!(
        "{BACKUPS} concurrent backups of {} MiB: peak RSS grew by {} MiB",
        state >> 20,
        grew >> 20
    );
    // One backup at a time peaked at about 6 times the state here (the dump, its
    // encoding, allocator arenas of the blocking threads); eight at once took about 25
    // times (555–666 MiB for a 22 MiB state) before backups took turns.
    ensure!(
        grew < (12 * state) as u64,
        "peak RSS grew by {} MiB for {BACKUPS} backups of a {} MiB state",
        grew >> 20,
        state >> 20
    );
    Ok(())
}

/// The backup's file name in the directory [`fill_and_back_up`] returns.
const BACKUP: &str = "corral.backup";

/// Puts `{prefix}00` = `v0` … up to `n` znodes, then saves a backup of the state into
/// a new temporary directory.
async fn fill_and_back_up(
    client: &Client,
    prefix: &str,
    n: usize,
) -> Result<(tempfile::TempDir, SnapshotInfo)> {
    for i in 0..n {
        client
            .put(
                format!("{prefix}{i:02}"),
                format!("v{i}"),
                PutOptions::new().create_if_missing(),
            )
            .await?;
    }
    let dir = tempfile::tempdir()?;
    let mut file = tokio::fs::File::create(dir.path().join(BACKUP)).await?;
    let info = client.snapshot(&mut file).await?;
    drop(file);
    Ok((dir, info))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_cluster_restored_from_a_backup_serves_it_and_carries_on() -> Result<()> {
    let old = Cluster::start(3).await?;
    let client = old.client_all(1).await?;
    client.create("/app", "config", None).await?;
    let (dir, info) = fill_and_back_up(&client, "/app/k", 50).await?;
    let backup = dir.path().join(BACKUP);
    let backed_up = info.header.revision;
    // Written after the backup: the restored cluster must not have it.
    client.put("/app/k00", "after the backup", None).await?;
    drop(old);

    let new = Cluster::start_restored(3, &backup, &[1, 2, 3]).await?;
    let restored = new.client_all(2).await?;
    for id in new.ids() {
        let member = new.client(id).await?;
        let got = member
            .get("/app/k00", GetOptions::new().serializable())
            .await?;
        assert_eq!(
            got.node.data, b"v0",
            "member {id} serves the backed-up value"
        );
        assert_eq!(member.list_all("/app", None).await?.nodes.len(), 50);
    }
    let status = new.status(1).await?;
    ensure!(
        status.revision >= backed_up,
        "revision {} went back from the backup's {backed_up}",
        status.revision
    );
    // History came along: a watch from before the backup replays the backed-up writes.
    let mut watch = restored
        .watch("/app/k49", WatchOptions::new().start_revision(backed_up))
        .await?;
    let event = watch.next().await.context("watch ended")??;
    assert_eq!(event.revision, backed_up);
    // The new cluster writes on from the backup's revision.
    let put = restored.put("/app/k00", "new cluster", None).await?;
    assert_eq!(put.header.revision, backed_up + 1);
    let again = restored.get("/app/k00", None).await?;
    assert_eq!(again.node.data, b"new cluster");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_started_empty_beside_restored_ones_is_sent_the_restored_state() -> Result<()> {
    let old = Server::start().await?;
    let client = old.client().await?;
    let (dir, info) = fill_and_back_up(&client, "/k", 20).await?;
    let backup = dir.path().join(BACKUP);
    // Member 3 was forgotten: it bootstraps an empty log of its own, which must lose to
    // the restored majority's, and then receive their state rather than keep its own.
    let new = Cluster::start_restored(3, &backup, &[1, 2]).await?;
    let forgotten = new.client(3).await?;
    let got = forgotten.get("/k19", None).await?;
    assert_eq!(got.node.data, b"v19");
    assert_eq!(got.header.member_id, 3);
    ensure!(got.header.revision >= info.header.revision);
    assert_eq!(forgotten.list_all("/", None).await?.nodes.len(), 20);
    Ok(())
}

#[tokio::test]
async fn restore_refuses_a_used_data_dir_and_a_file_that_is_no_backup() -> Result<()> {
    let server = Server::start().await?;
    let dir = tempfile::tempdir()?;
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"this is not a backup")?;
    // The running member's directory holds a database already.
    let err = server
        .restore(&junk)
        .expect_err("a used data dir is refused");
    ensure!(err.to_string().contains("already exists"), "{err:#}");
    let fresh = Server::create(corral_tests::NodeConfig::single()?)?;
    let err = fresh.restore(&junk).expect_err("junk is refused");
    ensure!(
        err.to_string().contains("not a usable Corral backup"),
        "{err:#}"
    );
    // The reason reads as one: not bincode's "encoding: io error: : io error:".
    ensure!(
        err.to_string().contains("not a Corral backup or snapshot")
            && !err.to_string().contains("io error"),
        "{err:#}"
    );
    // Nothing was left behind: the same directory still takes a real backup.
    let mut file = tokio::fs::File::create(dir.path().join("real")).await?;
    server.client().await?.snapshot(&mut file).await?;
    drop(file);
    let out = fresh.restore(&dir.path().join("real"))?;
    ensure!(out.contains("restored revision"), "{out}");
    Ok(())
}
