//! The workloads: set-up (untimed), the measured phase, and the summary. put, get, txn,
//! lock and lease are closed loops (each client issues its next request when the last
//! one is answered); watch is paced writers plus watchers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use futures::future::BoxFuture;
use futures::stream::{self, StreamExt, TryStreamExt};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::args::{Config, Consistency, KeyOrder, LeaseEnd, Workload};
use crate::driver::{self, Conn, Contender};
use crate::stats::{Recorder, Summary};

/// Requests in flight while loading keys or opening sessions before a run.
const SETUP_PARALLELISM: usize = 64;
/// How long watchers may still receive events after the last put.
const WATCH_GRACE: Duration = Duration::from_secs(5);
/// Pause after a failed request, so an unreachable target is not spun on.
const ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// Runs the configured workload against the target and summarizes it.
pub async fn run(config: &Config) -> Result<Summary> {
    let conns = connect(config, config.conns).await?;
    // Every run writes under a directory of its own, so runs never see each other's keys.
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let dir = format!("{}/{}-{nonce}", config.prefix, config.workload.label());
    conns[0]
        .ensure_dir(&dir)
        .await
        .with_context(|| format!("creating {dir}"))?;
    match config.workload {
        Workload::Put { keys } => put(config, conns, dir, keys).await,
        Workload::Get { consistency } => get(config, conns, dir, consistency).await,
        Workload::Txn => txn(config, conns, dir).await,
        Workload::Watch { watchers, rate } => watch(config, conns, dir, watchers, rate).await,
        Workload::Lock => lock(config, conns, dir).await,
        Workload::Lease { ttl_ms, end } => lease(config, conns, dir, ttl_ms, end).await,
    }
}

/// Opens `n` connections, spread over the endpoints in turn.
async fn connect(config: &Config, n: usize) -> Result<Vec<Conn>> {
    let endpoints = &config.endpoints;
    stream::iter(0..n)
        .map(|i| {
            Conn::connect(
                config.target,
                &endpoints[i % endpoints.len()],
                &config.security,
            )
        })
        .buffered(SETUP_PARALLELISM)
        .try_collect()
        .await
}

fn key(dir: &str, index: u64) -> String {
    format!("{dir}/k{index:010}")
}

/// A small xorshift generator: random keys and incompressible values without a
/// dependency, seeded per client.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Fresh random bytes for every write, so no system gains from compressing values.
    fn value(&mut self, size: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(size + 8);
        while v.len() < size {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(size);
        v
    }
}

/// One closed-loop client.
trait Worker: Send + 'static {
    fn op(&mut self) -> BoxFuture<'_, Result<()>>;
}

/// Runs every worker in its own task: warm-up, then the measured window; returns the
/// merged recording and the measured time.
async fn closed_loop(
    config: &Config,
    workers: Vec<Box<dyn Worker>>,
) -> Result<(Recorder, Duration)> {
    let start = Instant::now();
    let measure_from = start + config.warmup;
    let end = measure_from + config.duration;
    let timeout = config.timeout;
    let tasks: Vec<_> = workers
        .into_iter()
        .map(|mut w| {
            tokio::spawn(async move {
                let mut rec = Recorder::new();
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let result = tokio::time::timeout(timeout, w.op()).await;
                    let took = t0.elapsed();
                    let error = match result {
                        Ok(Ok(())) => None,
                        Ok(Err(e)) => Some(format!("{e:#}")),
                        Err(_) => Some(format!("timed out after {timeout:?}")),
                    };
                    match error {
                        None if t0 >= measure_from => rec.ok(took),
                        None => {}
                        Some(e) => {
                            if t0 >= measure_from {
                                rec.error(e);
                            }
                            tokio::time::sleep(ERROR_BACKOFF).await;
                        }
                    }
                }
                rec
            })
        })
        .collect();
    let mut total = Recorder::new();
    for task in tasks {
        total.merge(task.await?);
    }
    Ok((total, config.duration))
}

/// Keys known to exist, for ZooKeeper's create-or-set (see [`Conn::put`]).
struct KnownKeys(Vec<AtomicBool>);

impl KnownKeys {
    fn new(n: u64) -> KnownKeys {
        KnownKeys((0..n).map(|_| AtomicBool::new(false)).collect())
    }

    /// Marks `index` known; true if it was not before.
    fn first_touch(&self, index: u64) -> bool {
        !self.0[index as usize].swap(true, Ordering::Relaxed)
    }
}

struct PutWorker {
    conn: Conn,
    dir: String,
    order: KeyOrder,
    key_space: u64,
    next: Arc<AtomicU64>,
    known: Arc<KnownKeys>,
    rng: Rng,
    value_size: usize,
}

impl Worker for PutWorker {
    fn op(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let index = match self.order {
                KeyOrder::Sequential => self.next.fetch_add(1, Ordering::Relaxed) % self.key_space,
                KeyOrder::Random => self.rng.below(self.key_space),
            };
            let fresh = self.known.first_touch(index);
            let value = self.rng.value(self.value_size);
            self.conn.put(&key(&self.dir, index), value, fresh).await
        })
    }
}

async fn put(config: &Config, conns: Vec<Conn>, dir: String, order: KeyOrder) -> Result<Summary> {
    let next = Arc::new(AtomicU64::new(0));
    let known = Arc::new(KnownKeys::new(config.key_space));
    let workers = (0..config.clients)
        .map(|i| {
            Box::new(PutWorker {
                conn: conns[i % conns.len()].clone(),
                dir: dir.clone(),
                order,
                key_space: config.key_space,
                next: next.clone(),
                known: known.clone(),
                rng: Rng::new(i as u64 + 1),
                value_size: config.value_size,
            }) as Box<dyn Worker>
        })
        .collect();
    let (rec, elapsed) = closed_loop(config, workers).await?;
    Ok(Summary::new(config, "put", rec, elapsed, BTreeMap::new()))
}

/// Writes every key of the key space once (untimed), spread over the connections.
async fn preload(config: &Config, conns: &[Conn], dir: &str) -> Result<()> {
    let mut rng = Rng::new(u64::MAX);
    let values: Vec<Vec<u8>> = (0..64).map(|_| rng.value(config.value_size)).collect();
    stream::iter(0..config.key_space)
        .map(|i| {
            let conn = &conns[i as usize % conns.len()];
            let value = values[i as usize % values.len()].clone();
            async move {
                let k = key(dir, i);
                conn.put(&k, value, true)
                    .await
                    .with_context(|| format!("loading {k}"))
            }
        })
        .buffer_unordered(SETUP_PARALLELISM)
        .try_collect::<()>()
        .await
}

struct GetWorker {
    conn: Conn,
    dir: String,
    key_space: u64,
    consistency: Consistency,
    rng: Rng,
}

impl Worker for GetWorker {
    fn op(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let index = self.rng.below(self.key_space);
            self.conn
                .get(&key(&self.dir, index), self.consistency)
                .await
        })
    }
}

async fn get(
    config: &Config,
    conns: Vec<Conn>,
    dir: String,
    consistency: Consistency,
) -> Result<Summary> {
    preload(config, &conns, &dir).await?;
    let workers = (0..config.clients)
        .map(|i| {
            Box::new(GetWorker {
                conn: conns[i % conns.len()].clone(),
                dir: dir.clone(),
                key_space: config.key_space,
                consistency,
                rng: Rng::new(i as u64 + 1),
            }) as Box<dyn Worker>
        })
        .collect();
    let (rec, elapsed) = closed_loop(config, workers).await?;
    Ok(Summary::new(config, "get", rec, elapsed, BTreeMap::new()))
}

struct TxnWorker {
    conn: Conn,
    /// This client's keys with the token each was last seen at.
    keys: Vec<(String, i64)>,
    next: usize,
    rng: Rng,
    value_size: usize,
}

impl Worker for TxnWorker {
    fn op(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let slot = self.next % self.keys.len();
            self.next += 1;
            let value = self.rng.value(self.value_size);
            let (k, token) = &self.keys[slot];
            match self.conn.cas(k, *token, value).await? {
                Some(new) => {
                    self.keys[slot].1 = new;
                    Ok(())
                }
                None => {
                    // Only this client writes the key: a failed compare is a bug.
                    let k = k.clone();
                    self.keys[slot].1 = self.conn.cas_token(&k).await?;
                    bail!("compare failed on {k}, which only this client writes")
                }
            }
        })
    }
}

async fn txn(config: &Config, conns: Vec<Conn>, dir: String) -> Result<Summary> {
    preload(config, &conns, &dir).await?;
    // Client i owns keys i, i + clients, i + 2·clients, …: no two clients conflict. The
    // token each key starts from is read before the run, many reads in flight.
    let clients = config.clients;
    let tokens: Vec<(u64, i64)> = stream::iter(0..config.key_space)
        .map(|index| {
            let conn = &conns[(index as usize % clients) % conns.len()];
            let dir = &dir;
            async move { Ok::<_, anyhow::Error>((index, conn.cas_token(&key(dir, index)).await?)) }
        })
        .buffer_unordered(SETUP_PARALLELISM)
        .try_collect()
        .await?;
    let mut keys: Vec<Vec<(String, i64)>> = vec![Vec::new(); clients];
    for (index, token) in tokens {
        keys[index as usize % clients].push((key(&dir, index), token));
    }
    let workers = keys
        .into_iter()
        .enumerate()
        .map(|(i, keys)| {
            Box::new(TxnWorker {
                conn: conns[i % conns.len()].clone(),
                keys,
                next: 0,
                rng: Rng::new(i as u64 + 1),
                value_size: config.value_size,
            }) as Box<dyn Worker>
        })
        .collect();
    let (rec, elapsed) = closed_loop(config, workers).await?;
    Ok(Summary::new(
        config,
        "txn (compare version + put)",
        rec,
        elapsed,
        BTreeMap::new(),
    ))
}

struct LockWorker {
    contender: Arc<Contender>,
    name: String,
}

impl Worker for LockWorker {
    fn op(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move { self.contender.lock_unlock(&self.name).await })
    }
}

async fn lock(config: &Config, conns: Vec<Conn>, dir: String) -> Result<Summary> {
    let name = format!("{dir}/lock");
    if let Conn::Zk(_) = conns[0] {
        conns[0].ensure_dir(&name).await?;
    }
    // Leases outlast the run (they are revoked at the end), so none needs keeping alive.
    let lease_ms = (config.warmup + config.duration + config.timeout).as_millis() as u64 + 60_000;
    let contenders: Vec<Arc<Contender>> = stream::iter(0..config.clients)
        .map(|i| {
            let conn = &conns[i % conns.len()];
            let endpoint = &config.endpoints[i % config.endpoints.len()];
            async move { Contender::new(conn, endpoint, lease_ms).await.map(Arc::new) }
        })
        .buffered(SETUP_PARALLELISM)
        .try_collect()
        .await?;
    let workers = contenders
        .iter()
        .map(|c| {
            Box::new(LockWorker {
                contender: c.clone(),
                name: name.clone(),
            }) as Box<dyn Worker>
        })
        .collect();
    let (rec, elapsed) = closed_loop(config, workers).await?;
    for contender in contenders {
        if let Ok(contender) = Arc::try_unwrap(contender) {
            contender.close().await.ok();
        }
    }
    Ok(Summary::new(
        config,
        "lock+unlock",
        rec,
        elapsed,
        BTreeMap::new(),
    ))
}

struct LeaseWorker {
    conn: Conn,
    endpoint: String,
    dir: String,
    client: usize,
    seq: u64,
    ttl_ms: u64,
    end: LeaseEnd,
    rng: Rng,
    value_size: usize,
}

impl Worker for LeaseWorker {
    fn op(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.seq += 1;
            let k = format!("{}/e{:05}-{:010}", self.dir, self.client, self.seq);
            let value = self.rng.value(self.value_size);
            driver::lease_cycle(&self.conn, &self.endpoint, &k, value, self.ttl_ms, self.end).await
        })
    }
}

async fn lease(
    config: &Config,
    conns: Vec<Conn>,
    dir: String,
    ttl_ms: u64,
    end: LeaseEnd,
) -> Result<Summary> {
    let workers = (0..config.clients)
        .map(|i| {
            Box::new(LeaseWorker {
                conn: conns[i % conns.len()].clone(),
                endpoint: config.endpoints[i % config.endpoints.len()].clone(),
                dir: dir.clone(),
                client: i,
                seq: 0,
                ttl_ms,
                end,
                rng: Rng::new(i as u64 + 1),
                value_size: config.value_size,
            }) as Box<dyn Worker>
        })
        .collect();
    let (mut rec, elapsed) = closed_loop(config, workers).await?;
    let mut extra = BTreeMap::new();
    if end == LeaseEnd::Expire {
        // Every abandoned lease must end by itself, deleting its ephemeral znode: wait for
        // the directory to empty, up to twice the TTL plus a margin.
        let ended = Instant::now();
        let ttl = Duration::from_millis(ttl_ms);
        let limit = ttl * 2 + Duration::from_secs(30);
        let left = loop {
            let left = conns[0].children(&dir).await?;
            if left == 0 || ended.elapsed() > limit {
                break left;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        extra.insert("expire_drain_s".into(), ended.elapsed().as_secs_f64());
        rec.errors_n(
            left,
            format!("ephemeral znodes left {limit:?} after the run"),
        );
    }
    let measures = match end {
        LeaseEnd::Revoke => "grant+create ephemeral+keepalive+revoke",
        LeaseEnd::Expire => "grant+create ephemeral+keepalive",
    };
    Ok(Summary::new(config, measures, rec, elapsed, extra))
}

/// Key names carry the time they were written (ns since the run's start), so a watcher
/// computes put→event latency from the name alone, with the same clock.
fn watch_key(dir: &str, seq: u64, t_ns: u64) -> String {
    format!("{dir}/w{seq:010}-{t_ns}")
}

/// The (sequence number, time) a watch key was written with; `None` for other paths.
fn watch_key_parts(path: &str) -> Option<(u64, u64)> {
    let name = path.rsplit_once('/')?.1.strip_prefix('w')?;
    let (seq, t_ns) = name.split_once('-')?;
    Some((seq.parse().ok()?, t_ns.parse().ok()?))
}

async fn watch(
    config: &Config,
    conns: Vec<Conn>,
    dir: String,
    watchers: usize,
    rate: f64,
) -> Result<Summary> {
    // Corral and etcd multiplex watch streams over the connections; ZooKeeper keeps one
    // watch per path per session, so each watcher gets a session of its own.
    let endpoints = &config.endpoints;
    let streams: Vec<driver::Watch> = stream::iter(0..watchers)
        .map(|i| {
            let conns = &conns;
            let dir = &dir;
            async move {
                match &conns[0] {
                    Conn::Zk(_) => {
                        Conn::connect(
                            config.target,
                            &endpoints[i % endpoints.len()],
                            &config.security,
                        )
                        .await?
                        .watch(dir)
                        .await
                    }
                    _ => conns[i % conns.len()].watch(dir).await,
                }
            }
        })
        .buffered(SETUP_PARALLELISM)
        .try_collect()
        .await
        .context("opening watches")?;

    let t0 = Instant::now();
    let measure_from = config.warmup;
    let measure_from_ns = measure_from.as_nanos() as u64;
    let stop_at = measure_from + config.duration;
    let received = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = watch::channel(false);

    let watcher_tasks: Vec<_> = streams
        .into_iter()
        .map(|mut w| {
            let received = received.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let mut rec = Recorder::new();
                // Each event must arrive once per watch: count repeats as errors.
                let mut seen = std::collections::HashSet::new();
                // Measured events, by the writer's sequence number, checked against the
                // acknowledged puts at the end.
                let mut counted = Vec::new();
                loop {
                    tokio::select! {
                        _ = stop.changed() => break,
                        next = w.next() => match next {
                            Ok(Some(paths)) => {
                                let now_ns = t0.elapsed().as_nanos() as u64;
                                for p in paths {
                                    let Some((seq, t)) = watch_key_parts(&p) else { continue };
                                    if !seen.insert(seq) {
                                        rec.error(format!("event delivered twice to one watch: {p}"));
                                        continue;
                                    }
                                    if t >= measure_from_ns {
                                        rec.ok(Duration::from_nanos(now_ns.saturating_sub(t)));
                                        received.fetch_add(1, Ordering::Relaxed);
                                        counted.push(seq);
                                    }
                                }
                            }
                            Ok(None) => {
                                rec.error("watch stream ended");
                                break;
                            }
                            Err(e) => {
                                rec.error(format!("watch: {e:#}"));
                                break;
                            }
                        },
                    }
                }
                (rec, counted)
            })
        })
        .collect();

    // Writers: `clients` paced loops sharing the rate; each put creates a new key.
    let per_writer = Duration::from_secs_f64(config.clients as f64 / rate);
    let seq = Arc::new(AtomicU64::new(0));
    let writer_tasks: Vec<_> = (0..config.clients)
        .map(|i| {
            let conn = conns[i % conns.len()].clone();
            let dir = dir.clone();
            let seq = seq.clone();
            let timeout = config.timeout;
            let value_size = config.value_size;
            let writers = config.clients;
            tokio::spawn(async move {
                let mut rec = Recorder::new();
                let mut rng = Rng::new(i as u64 + 1);
                // Writers are spread evenly over one pacing interval.
                let offset = per_writer.mul_f64(i as f64 / writers as f64);
                let mut ticks = tokio::time::interval_at((t0 + offset).into(), per_writer);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                let mut acked = Vec::new();
                loop {
                    ticks.tick().await;
                    let at = t0.elapsed();
                    if at >= stop_at {
                        break;
                    }
                    let n = seq.fetch_add(1, Ordering::Relaxed);
                    let k = watch_key(&dir, n, at.as_nanos() as u64);
                    let value = rng.value(value_size);
                    let result = tokio::time::timeout(timeout, conn.create(&k, value)).await;
                    let counted = at >= measure_from;
                    match result {
                        Ok(Ok(())) if counted => {
                            rec.ok(t0.elapsed() - at);
                            acked.push(n);
                        }
                        Ok(Ok(())) => {}
                        Ok(Err(e)) if counted => rec.error(format!("put: {e:#}")),
                        Err(_) if counted => rec.error("put timed out"),
                        _ => {}
                    }
                }
                (rec, acked)
            })
        })
        .collect();
    let mut put_rec = Recorder::new();
    let mut acked = std::collections::HashSet::new();
    for task in writer_tasks {
        let (rec, seqs) = task.await?;
        put_rec.merge(rec);
        acked.extend(seqs);
    }
    let puts = acked.len() as u64;
    let expected = puts * watchers as u64;
    let writers_done = Instant::now();
    while received.load(Ordering::Relaxed) < expected && writers_done.elapsed() < WATCH_GRACE {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop_tx.send(true).ok();
    let mut rec = Recorder::new();
    let mut unacknowledged = 0u64;
    for task in watcher_tasks {
        let (watcher_rec, counted) = task.await?;
        rec.merge(watcher_rec);
        for seq in counted.into_iter().filter(|s| !acked.contains(s)) {
            unacknowledged += 1;
            rec.error(format!(
                "event for key w{seq:010}-…, whose put was not acknowledged"
            ));
        }
    }
    let got = received.load(Ordering::Relaxed);
    rec.errors_n(
        expected.saturating_sub(got),
        format!("events not delivered within {WATCH_GRACE:?} of the last put"),
    );
    let put_errors = put_rec.errors();
    let put_summary = Summary::new(config, "put", put_rec, config.duration, BTreeMap::new());
    let mut extra = BTreeMap::new();
    extra.insert("puts".into(), puts as f64);
    extra.insert("put_errors".into(), put_errors as f64);
    extra.insert("put_p50_ms".into(), put_summary.latency_ms.p50);
    extra.insert("put_p99_ms".into(), put_summary.latency_ms.p99);
    extra.insert("events_expected".into(), expected as f64);
    extra.insert("events_received".into(), got as f64);
    extra.insert("events_unacknowledged".into(), unacknowledged as f64);
    Ok(Summary::new(
        config,
        "put→event (every watcher, every event)",
        rec,
        config.duration,
        extra,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_keys_carry_their_time() {
        let k = watch_key("/b/watch-1", 7, 123_456_789);
        assert_eq!(k, "/b/watch-1/w0000000007-123456789");
        assert_eq!(watch_key_parts(&k), Some((7, 123_456_789)));
        assert_eq!(watch_key_parts("/b/watch-1"), None);
        assert_eq!(watch_key_parts("/b/w-1"), None);
        assert_eq!(watch_key_parts("/b/x"), None);
    }

    #[test]
    fn values_have_the_asked_size_and_differ() {
        let mut rng = Rng::new(1);
        let a = rng.value(256);
        let b = rng.value(256);
        assert_eq!(a.len(), 256);
        assert_ne!(a, b);
        assert_eq!(rng.value(0).len(), 0);
        assert_eq!(rng.value(3).len(), 3);
    }

    #[test]
    fn keys_sort_in_index_order() {
        assert!(key("/d", 9) < key("/d", 10));
        let known = KnownKeys::new(2);
        assert!(known.first_touch(1));
        assert!(!known.first_touch(1));
    }
}
