//! Traffic: KV clients (put, linearizable get, compare-and-swap, delete on a small key
//! set), a watcher over the whole key space that resumes across member failures, and
//! lock contenders — each recording what it saw into the history.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use corral_proto::v1 as pb;
use corral_proto::v1::kv_client::KvClient;
use corral_proto::v1::watch_create_request::Scope;

use super::history::{History, KvRecord, Outcome};
use crate::common::wire::{self, WatchStream};

/// Keys the KV clients share: few, so operations contend.
pub const KEYS: usize = 8;
/// Parent of the keys.
pub const PREFIX: &str = "/rob";

/// A tiny deterministic generator (no extra dependency; runs repeat exactly).
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Next value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Whether a status leaves a call's outcome open (it may have been applied).
fn indefinite(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Cancelled
            | tonic::Code::Unknown
    )
}

/// KV calls over raw gRPC to the members in turn, writes carrying a request id so an
/// indefinite failure can be retried (on another member) until its outcome is known.
struct Kv {
    endpoints: Vec<String>,
    member: usize,
    client: Option<KvClient<tonic::transport::Channel>>,
    id: usize,
    seq: u64,
}

/// How long a write keeps being retried before its outcome is recorded as unknown.
const RESOLVE_FOR: Duration = Duration::from_secs(30);

impl Kv {
    async fn client(&mut self) -> Result<KvClient<tonic::transport::Channel>, tonic::Status> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let endpoint = &self.endpoints[self.member % self.endpoints.len()];
        let channel = wire::channel(endpoint)
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let c = KvClient::new(channel);
        self.client = Some(c.clone());
        Ok(c)
    }

    fn next_member(&mut self) {
        self.member += 1;
        self.client = None;
    }

    fn request<T>(&self, msg: T, seq: Option<u64>) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.set_timeout(Duration::from_secs(5));
        if let Some(seq) = seq {
            let id = format!("rob-{}/{seq}", self.id);
            if let Ok(v) = id.parse() {
                req.metadata_mut().insert("corral-request-id", v);
            }
        }
        req
    }

    /// Runs a write until its outcome is known (retrying the same request id), or
    /// gives up after [`RESOLVE_FOR`] with `None`.
    async fn write<T, R, F, Fut>(
        &mut self,
        msg: T,
        call: F,
    ) -> Result<Option<Result<R, tonic::Status>>>
    where
        T: Clone,
        F: Fn(KvClient<tonic::transport::Channel>, tonic::Request<T>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        self.seq += 1;
        let seq = self.seq;
        let give_up = std::time::Instant::now() + RESOLVE_FOR;
        loop {
            let result = match self.client().await {
                Ok(c) => call(c, self.request(msg.clone(), Some(seq))).await,
                Err(s) => Err(s),
            };
            match result {
                Ok(r) => return Ok(Some(Ok(r.into_inner()))),
                Err(s) if indefinite(&s) => {
                    if std::time::Instant::now() > give_up {
                        return Ok(None);
                    }
                    self.next_member();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(s) => return Ok(Some(Err(s))),
            }
        }
    }
}

/// One KV client's loop until `stop`.
pub async fn kv_client(
    id: usize,
    endpoints: Vec<String>,
    history: History,
    stop: Arc<AtomicBool>,
) -> Result<u64> {
    let mut rng = Rng::new(id as u64 + 1);
    let mut kv = Kv {
        member: id,
        endpoints,
        client: None,
        id,
        seq: 0,
    };
    let mut n = 0u64;
    let mut last_seen: Vec<String> = vec![String::new(); KEYS];
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let k = rng.below(KEYS as u64) as usize;
        let key = format!("{PREFIX}/k{k}");
        let value = format!("c{id}-{n}");
        let call = history.now();
        let pick = rng.below(100);
        let mut rec = KvRecord {
            client: id,
            op: "",
            key: &key,
            value: "",
            from: "",
            call,
            ret: 0,
            outcome: Outcome::Ok,
            found: false,
            succeeded: false,
            revision: 0,
        };
        let header_rev = |h: Option<pb::ResponseHeader>| h.map(|h| h.revision).unwrap_or(0);
        if pick < 35 {
            rec.op = "put";
            rec.value = &value;
            let msg = pb::PutRequest {
                path: key.clone(),
                data: value.clone().into_bytes(),
                create_if_missing: true,
                ..Default::default()
            };
            match kv
                .write(msg, |mut c, r| async move { c.put(r).await })
                .await?
            {
                Some(Ok(r)) => rec.revision = header_rev(r.header),
                Some(Err(s)) => bail!("put {key}: {s}"),
                None => rec.outcome = Outcome::Unknown,
            }
        } else if pick < 70 {
            rec.op = "get";
            let read;
            let req = kv.request(
                pb::GetRequest {
                    path: key.clone(),
                    ..Default::default()
                },
                None,
            );
            let result = match kv.client().await {
                Ok(mut c) => c.get(req).await,
                Err(s) => Err(s),
            };
            match result {
                Ok(r) => {
                    let data = r.into_inner().node.map(|n| n.data).unwrap_or_default();
                    read = String::from_utf8_lossy(&data).to_string();
                    rec.found = true;
                    rec.value = &read;
                    last_seen[k] = read.clone();
                }
                Err(s) if s.code() == tonic::Code::NotFound => rec.found = false,
                Err(s) if indefinite(&s) => {
                    rec.outcome = Outcome::Unknown;
                    kv.next_member();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(s) => bail!("get {key}: {s}"),
            }
            rec.ret = history.now();
            history.kv(rec);
            continue;
        } else if pick < 90 {
            rec.op = "cas";
            rec.value = &value;
            rec.from = &last_seen[k];
            let msg = pb::TxnRequest {
                compares: vec![pb::Compare {
                    path: key.clone(),
                    result: pb::compare::Result::Equal as i32,
                    target: Some(pb::compare::Target::Data(last_seen[k].clone().into_bytes())),
                }],
                success: vec![pb::Op {
                    op: Some(pb::op::Op::Put(pb::PutRequest {
                        path: key.clone(),
                        data: value.clone().into_bytes(),
                        ..Default::default()
                    })),
                }],
                failure: vec![],
            };
            match kv
                .write(msg, |mut c, r| async move { c.txn(r).await })
                .await?
            {
                Some(Ok(r)) => {
                    rec.succeeded = r.succeeded;
                    if r.succeeded {
                        rec.revision = header_rev(r.header);
                    }
                }
                Some(Err(s)) => bail!("cas {key}: {s}"),
                None => rec.outcome = Outcome::Unknown,
            }
        } else {
            rec.op = "delete";
            let msg = pb::DeleteRequest {
                path: key.clone(),
                ..Default::default()
            };
            match kv
                .write(msg, |mut c, r| async move { c.delete(r).await })
                .await?
            {
                Some(Ok(r)) => {
                    rec.succeeded = true;
                    rec.revision = header_rev(r.header);
                }
                Some(Err(s)) if s.code() == tonic::Code::NotFound => rec.succeeded = false,
                Some(Err(s)) => bail!("delete {key}: {s}"),
                None => rec.outcome = Outcome::Unknown,
            }
        }
        rec.ret = history.now();
        history.kv(rec);
    }
    Ok(n)
}

/// Watches the whole key space from `start`, reconnecting (to the next member) from
/// the last seen revision + 1 whenever a stream fails, until `stop`.
pub async fn watcher(
    endpoints: Vec<String>,
    start: i64,
    history: History,
    stop: Arc<AtomicBool>,
) -> Result<usize> {
    let mut next = start;
    let mut delivered = 0;
    let mut member = 0;
    while !stop.load(Ordering::Relaxed) {
        let endpoint = &endpoints[member % endpoints.len()];
        member += 1;
        let Ok(mut stream) = WatchStream::open(endpoint).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut req = wire::create(PREFIX, Scope::Subtree);
        req.start_revision = next;
        if stream.create(req).await.is_err() {
            continue;
        }
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(delivered);
            }
            let msg = tokio::time::timeout(Duration::from_millis(500), stream.rx.message()).await;
            let resp = match msg {
                Err(_) => continue,
                Ok(Ok(Some(resp))) => resp,
                Ok(_) => break,
            };
            if resp.canceled {
                bail!("watch canceled: {}", resp.cancel_reason);
            }
            for e in resp.events {
                let kind = pb::EventType::try_from(e.r#type)
                    .map(|t| t.as_str_name())
                    .unwrap_or("?");
                let (key, value) = e
                    .node
                    .map(|n| (n.path, String::from_utf8_lossy(&n.data).to_string()))
                    .unwrap_or_default();
                history.event(1, start, e.revision, &key, kind, &value);
                next = e.revision + 1;
                delivered += 1;
            }
        }
    }
    Ok(delivered)
}

/// A lock contender: holds `/rob-lock` briefly, over and over, recording each hold.
pub async fn locker(
    id: usize,
    endpoints: Vec<String>,
    history: History,
    stop: Arc<AtomicBool>,
) -> Result<usize> {
    // A long TTL: leader failovers must not expire it while it is kept alive.
    let mut holds = 0;
    let mut member = id;
    let lease = loop {
        match wire::grant(&endpoints[member % endpoints.len()], 30_000).await {
            Ok(l) => break l,
            Err(_) => {
                member += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    let keeper = {
        let endpoints = endpoints.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut m = id;
            while !stop.load(Ordering::Relaxed) {
                if let Ok((_s, task)) = wire::keep_alive(
                    &endpoints[m % endpoints.len()],
                    lease,
                    Duration::from_secs(2),
                )
                .await
                {
                    let _ = task.await;
                }
                m += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    while !stop.load(Ordering::Relaxed) {
        let endpoint = endpoints[member % endpoints.len()].clone();
        let Ok(mut locks) = wire::lock_client(&endpoint).await else {
            member += 1;
            continue;
        };
        let mut req = tonic::Request::new(pb::LockRequest {
            name: "/rob-lock".into(),
            lease_id: lease,
            wait_timeout_ms: 0,
        });
        req.set_timeout(Duration::from_secs(10));
        let held = match locks.lock(req).await {
            Ok(h) => h.into_inner(),
            Err(s) if s.code() == tonic::Code::NotFound => bail!("locker {id} lost its lease: {s}"),
            Err(_) => {
                member += 1;
                continue;
            }
        };
        let acquired = history.now();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let released = history.now();
        history.lock(id, held.fencing_token, acquired, released);
        holds += 1;
        loop {
            let Ok(mut c) = wire::lock_client(&endpoints[member % endpoints.len()]).await else {
                member += 1;
                continue;
            };
            match c
                .unlock(pb::UnlockRequest {
                    key: held.key.clone(),
                    lease_id: lease,
                })
                .await
            {
                Ok(_) => break,
                Err(_) if stop.load(Ordering::Relaxed) => break,
                Err(_) => member += 1,
            }
        }
    }
    keeper.abort();
    Ok(holds)
}
