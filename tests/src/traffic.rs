//! Write traffic for fault tests, and its validation: writers that each create their
//! own sequence of znodes and record every outcome (acknowledged, or unknown when the
//! call failed in a way that leaves it open), and the check of what a member shows
//! against that record: every acknowledged write present, nothing that was never sent.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use corral_client::{Client, Consistency, CreateOptions, Error, ListOptions, Node};
use tokio::task::JoinSet;

/// Pause after a write with an unknown outcome, so a writer does not spin while no
/// member can take writes.
const BACKOFF: Duration = Duration::from_millis(20);

/// What one writer sent: sequence numbers `0..next`, each acknowledged, unknown (the
/// call failed with `Unavailable`, `Transport` or `Timeout`: it may or may not have
/// been applied), or neither only while in flight.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Writes the cluster acknowledged.
    pub acked: BTreeSet<u64>,
    /// Writes whose outcome the writer cannot know.
    pub unknown: BTreeSet<u64>,
    /// The next sequence number to send.
    pub next: u64,
    /// Highest revision among the acknowledged writes.
    pub max_revision: i64,
}

/// Shared between a writer task and the [`Traffic`] that owns it.
#[derive(Debug, Default)]
struct Shared {
    stop: AtomicBool,
    acks: AtomicUsize,
    /// Set by [`Traffic::mark`].
    mark: Mutex<Option<Instant>>,
    /// When the first write sent after the mark was acknowledged.
    first_ack_after_mark: Mutex<Option<Instant>>,
}

/// Concurrent writers, writer `w` creating `<prefix>/w<w>/n<seq>` with data
/// [`data`]`(w, seq)` in sequence until stopped. Writes with an unknown outcome are
/// not retried (a retry could not tell its own success from the earlier one's); the
/// writer moves on to the next sequence number. Any other error stops that writer
/// and fails [`Traffic::stop`].
#[derive(Debug)]
pub struct Traffic {
    prefix: String,
    ledgers: Vec<Arc<Mutex<Ledger>>>,
    shared: Arc<Shared>,
    tasks: JoinSet<Result<()>>,
}

/// Path of writer `writer`'s parent znode.
pub fn parent(prefix: &str, writer: usize) -> String {
    format!("{prefix}/w{writer}")
}

/// Path of writer `writer`'s write number `seq`.
pub fn key(prefix: &str, writer: usize, seq: u64) -> String {
    format!("{}/n{seq:08}", parent(prefix, writer))
}

/// Data of writer `writer`'s write number `seq`.
pub fn data(writer: usize, seq: u64) -> Vec<u8> {
    format!("w{writer}-{seq}").into_bytes()
}

impl Traffic {
    /// Starts one writer per client, writer `w` on `clients[w]`, after creating the
    /// writers' parents (and `prefix`) through the first client.
    pub async fn start(prefix: &str, clients: Vec<Client>) -> Result<Traffic> {
        let ledgers = vec![Ledger::default(); clients.len()];
        Self::resume(prefix, clients, ledgers).await
    }

    /// Starts writers that continue `ledgers` (from an earlier [`Traffic::stop`]),
    /// writer `w` on `clients[w]` from sequence number `ledgers[w].next`.
    pub async fn resume(
        prefix: &str,
        clients: Vec<Client>,
        ledgers: Vec<Ledger>,
    ) -> Result<Traffic> {
        ensure!(
            clients.len() == ledgers.len(),
            "one client per writer: {} clients, {} ledgers",
            clients.len(),
            ledgers.len()
        );
        let first = clients.first().context("no writers")?;
        for writer in 0..clients.len() {
            match first
                .create(
                    parent(prefix, writer),
                    "",
                    CreateOptions::new().create_parents(),
                )
                .await
            {
                Ok(_) | Err(Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(e).context("creating the writers' parents"),
            }
        }
        let shared = Arc::new(Shared::default());
        let ledgers: Vec<_> = ledgers
            .into_iter()
            .map(|l| Arc::new(Mutex::new(l)))
            .collect();
        let mut tasks = JoinSet::new();
        for (writer, (client, ledger)) in clients.into_iter().zip(&ledgers).enumerate() {
            tasks.spawn(write(
                client,
                prefix.to_string(),
                writer,
                ledger.clone(),
                shared.clone(),
            ));
        }
        Ok(Traffic {
            prefix: prefix.to_string(),
            ledgers,
            shared,
            tasks,
        })
    }

    /// The prefix the writers write under.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Writes acknowledged so far.
    pub fn acks(&self) -> usize {
        self.shared.acks.load(Ordering::SeqCst)
    }

    /// Waits until `count` writes in all have been acknowledged; fails after `timeout`
    /// or as soon as a writer has failed.
    pub async fn wait_acks(&mut self, count: usize, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while self.acks() < count {
            if let Some(joined) = self.tasks.try_join_next() {
                joined.context("a writer panicked")??;
                bail!("a writer stopped early");
            }
            ensure!(
                Instant::now() < deadline,
                "only {} of {count} writes acknowledged within {timeout:?}",
                self.acks()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// Notes the present instant: [`Traffic::first_ack_after_mark`] then reports the
    /// first acknowledgement of a write sent after it.
    pub fn mark(&self) -> Instant {
        let now = Instant::now();
        *self.shared.mark.lock().unwrap() = Some(now);
        *self.shared.first_ack_after_mark.lock().unwrap() = None;
        now
    }

    /// When the first write sent after [`Traffic::mark`] was acknowledged, if one was.
    pub fn first_ack_after_mark(&self) -> Option<Instant> {
        *self.shared.first_ack_after_mark.lock().unwrap()
    }

    /// Waits (up to `timeout`) for a write sent after [`Traffic::mark`] to be
    /// acknowledged, and returns when it was.
    pub async fn wait_first_ack_after_mark(&mut self, timeout: Duration) -> Result<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.first_ack_after_mark() {
                return Ok(at);
            }
            if let Some(joined) = self.tasks.try_join_next() {
                joined.context("a writer panicked")??;
                bail!("a writer stopped early");
            }
            ensure!(
                Instant::now() < deadline,
                "no write sent after the mark was acknowledged within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the writers (each finishes its write in flight) and returns their
    /// ledgers; fails if a writer failed.
    pub async fn stop(mut self) -> Result<Vec<Ledger>> {
        self.shared.stop.store(true, Ordering::SeqCst);
        while let Some(joined) = self.tasks.join_next().await {
            joined.context("a writer panicked")??;
        }
        Ok(self
            .ledgers
            .iter()
            .map(|l| l.lock().unwrap().clone())
            .collect())
    }
}

/// One writer: creates its znodes in sequence until told to stop.
async fn write(
    client: Client,
    prefix: String,
    writer: usize,
    ledger: Arc<Mutex<Ledger>>,
    shared: Arc<Shared>,
) -> Result<()> {
    while !shared.stop.load(Ordering::SeqCst) {
        let seq = {
            let mut ledger = ledger.lock().unwrap();
            ledger.next += 1;
            ledger.next - 1
        };
        let sent = Instant::now();
        match client
            .create(key(&prefix, writer, seq), data(writer, seq), None)
            .await
        {
            Ok(created) => {
                {
                    let mut ledger = ledger.lock().unwrap();
                    ledger.acked.insert(seq);
                    ledger.max_revision = ledger.max_revision.max(created.header.revision);
                }
                shared.acks.fetch_add(1, Ordering::SeqCst);
                let marked = *shared.mark.lock().unwrap();
                if marked.is_some_and(|mark| sent >= mark) {
                    let mut first = shared.first_ack_after_mark.lock().unwrap();
                    first.get_or_insert_with(Instant::now);
                }
            }
            Err(Error::Unavailable { .. } | Error::Transport { .. } | Error::Timeout { .. }) => {
                ledger.lock().unwrap().unknown.insert(seq);
                tokio::time::sleep(BACKOFF).await;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("writer {writer}: create {}", key(&prefix, writer, seq))
                })
            }
        }
    }
    Ok(())
}

/// Reads every writer's znodes through `client` with `consistency` and checks them
/// against the ledgers: every acknowledged write is there with its data, and every
/// znode there was sent (acknowledged or unknown). Returns the znodes read, in path
/// order, to compare members with each other.
pub async fn check(
    client: &Client,
    prefix: &str,
    ledgers: &[Ledger],
    consistency: Consistency,
) -> Result<Vec<Node>> {
    let mut all = Vec::new();
    for (writer, ledger) in ledgers.iter().enumerate() {
        let listing = client
            .list_all(
                parent(prefix, writer),
                ListOptions::new()
                    .with_data()
                    .limit(1000)
                    .consistency(consistency),
            )
            .await
            .with_context(|| format!("listing {}", parent(prefix, writer)))?;
        let member = listing.header.member_id;
        let mut present = BTreeSet::new();
        for node in &listing.nodes {
            let seq = node
                .path
                .rsplit_once("/n")
                .and_then(|(_, n)| n.parse::<u64>().ok())
                .with_context(|| format!("member {member}: unexpected znode {}", node.path))?;
            ensure!(
                node.path == key(prefix, writer, seq) && node.data == data(writer, seq),
                "member {member}: {} holds {:?}, not what was written",
                node.path,
                String::from_utf8_lossy(&node.data)
            );
            ensure!(
                ledger.acked.contains(&seq) || ledger.unknown.contains(&seq),
                "member {member}: {} exists but was never sent",
                node.path
            );
            present.insert(seq);
        }
        let lost: Vec<u64> = ledger.acked.difference(&present).copied().collect();
        ensure!(
            lost.is_empty(),
            "member {member} ({consistency:?} read) lost {} acknowledged writes of writer {writer}: {lost:?}",
            lost.len()
        );
        all.extend(listing.nodes);
    }
    Ok(all)
}
