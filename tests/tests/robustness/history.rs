//! The recorded history: every operation's invocation and completion (or unknown
//! outcome), watch events and lock holds, written as JSON lines for the checker.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};

/// Outcome of a recorded operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Completed; result known.
    Ok,
    /// May or may not have been applied.
    Unknown,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Unknown => "unknown",
        }
    }
}

/// Shared, append-only record of the run.
#[derive(Clone)]
pub struct History {
    start: Instant,
    lines: Arc<Mutex<Vec<Value>>>,
}

/// One KV operation's record.
pub struct KvRecord<'a> {
    pub client: usize,
    pub op: &'a str,
    pub key: &'a str,
    pub value: &'a str,
    pub from: &'a str,
    pub call: u64,
    pub ret: u64,
    pub outcome: Outcome,
    pub found: bool,
    pub succeeded: bool,
    pub revision: i64,
}

impl History {
    /// An empty history whose clock starts now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            lines: Arc::default(),
        }
    }

    /// Nanoseconds since the history began (monotonic).
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn push(&self, v: Value) {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).push(v);
    }

    /// Records a KV operation.
    pub fn kv(&self, r: KvRecord<'_>) {
        let mut v = json!({
            "kind": "kv", "client": r.client, "op": r.op, "key": r.key, "value": r.value,
            "from": r.from, "call": r.call, "outcome": r.outcome.as_str(),
            "found": r.found, "succeeded": r.succeeded, "revision": r.revision,
        });
        if r.outcome != Outcome::Unknown {
            v["ret"] = json!(r.ret);
        }
        self.push(v);
    }

    /// Records a watch event.
    pub fn event(&self, watch: i64, start: i64, revision: i64, key: &str, kind: &str, value: &str) {
        self.push(json!({
            "kind": "event", "watch": watch, "start": start, "revision": revision,
            "key": key, "type": kind, "value": value,
        }));
    }

    /// Records a lock hold.
    pub fn lock(&self, client: usize, token: i64, acquired: u64, released: u64) {
        self.push(json!({
            "kind": "lock", "client": client, "token": token,
            "acquired": acquired, "released": released,
        }));
    }

    /// Counts of (kv ops, events, lock holds).
    pub fn counts(&self) -> (usize, usize, usize) {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let of = |k: &str| lines.iter().filter(|v| v["kind"] == k).count();
        (of("kv"), of("event"), of("lock"))
    }

    /// The history as JSON lines.
    pub fn to_jsonl(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        for v in lines.iter() {
            out.push_str(&v.to_string());
            out.push('\n');
        }
        out
    }
}
