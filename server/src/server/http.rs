//! The HTTP port: liveness, readiness and Prometheus metrics for operators and probes,
//! over plain TCP or, with `--tls-cert`, over TLS (`crate::tls::TlsListener`).

use std::fmt::Write;
use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::serve::Listener;
use axum::Router;

use crate::raft::RaftNode;

/// Serves `/livez`, `/readyz` and `/metrics` on `listener` (a `TcpListener`, or a
/// `TlsListener` handing over connections after their handshake) until `stop` resolves;
/// with `fault_injection`, also `PUT /debug/disk-delay-ms` (see [`disk_delay`]).
pub async fn serve<L>(
    listener: L,
    node: Arc<RaftNode>,
    fault_injection: bool,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    let mut app = Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics));
    if fault_injection {
        app = app.route("/debug/disk-delay-ms", put(disk_delay));
    }
    let app = app.with_state(node);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
}

/// Ready when this member knows a leader.
async fn ready(State(node): State<Arc<RaftNode>>) -> (StatusCode, String) {
    match node.leader() {
        Some(_) if !node.is_member() => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: this member was removed from the cluster\n".to_string(),
        ),
        Some(id) => (StatusCode::OK, format!("ok: leader is member {id}\n")),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no leader known\n".to_string(),
        ),
    }
}

/// Fault injection (`--unsafe-fault-injection` only): the body is a number of ms added
/// to every fsync from now on, as on a slow disk; 0 ends it.
async fn disk_delay(State(node): State<Arc<RaftNode>>, body: String) -> (StatusCode, String) {
    match body.trim().parse::<u64>() {
        Ok(ms) if ms <= 60_000 => {
            node.db()
                .set_fsync_delay(std::time::Duration::from_millis(ms));
            tracing::warn!("fault injection: every fsync now takes {ms} ms longer");
            (StatusCode::OK, format!("disk delay {ms} ms\n"))
        }
        _ => (
            StatusCode::BAD_REQUEST,
            format!("body must be a number of milliseconds from 0 to 60000, got {body:?}\n"),
        ),
    }
}

/// Prometheus text exposition of the member's Raft, store and watch state; 500 if
/// local storage cannot be read.
async fn metrics(State(node): State<Arc<RaftNode>>) -> (StatusCode, String) {
    let m = node.raft().metrics().borrow().clone();
    let status = match node.status() {
        Ok(status) => status,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read this member's status: {e}\n"),
            )
        }
    };
    let samples: [(&str, &str, &str, f64); 12] = [
        (
            "corral_raft_term",
            "gauge",
            "Current Raft term.",
            m.current_term as f64,
        ),
        (
            "corral_raft_is_leader",
            "gauge",
            "1 if this member is the leader.",
            f64::from(u8::from(m.current_leader == Some(node.id()))),
        ),
        (
            "corral_raft_last_log_index",
            "gauge",
            "Index of the last log entry.",
            m.last_log_index.unwrap_or(0) as f64,
        ),
        (
            "corral_raft_applied_index",
            "gauge",
            "Index of the last applied log entry.",
            m.last_applied.map(|l| l.index).unwrap_or(0) as f64,
        ),
        (
            "corral_revision",
            "gauge",
            "Cluster revision after the last applied write.",
            node.applied_revision() as f64,
        ),
        (
            "corral_snapshot_index",
            "gauge",
            "Last log index covered by this member's latest snapshot.",
            status.snapshot_index as f64,
        ),
        (
            "corral_snapshot_installs_total",
            "counter",
            "Snapshots received from a leader and installed since start.",
            status.snapshot_installs as f64,
        ),
        (
            "corral_watchers",
            "gauge",
            "Watchers following the live event ring.",
            node.hub().watchers() as f64,
        ),
        (
            "corral_watch_fallbacks_total",
            "counter",
            "Times a slow watcher fell behind the live ring and replayed from the history.",
            node.hub().fallbacks() as f64,
        ),
        (
            "corral_db_size_bytes",
            "gauge",
            "Approximate size of the RocksDB files.",
            node.db().size_bytes() as f64,
        ),
        (
            "corral_auth_tokens_issued_total",
            "counter",
            "Tokens this member issued (Auth/Authenticate) since start.",
            crate::auth::TOKENS_ISSUED.load(std::sync::atomic::Ordering::Relaxed) as f64,
        ),
        (
            "corral_auth_failures_total",
            "counter",
            "Auth/Authenticate calls refused for a wrong user name or password since start.",
            crate::auth::BAD_CREDENTIALS.load(std::sync::atomic::Ordering::Relaxed) as f64,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in samples {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    }
    (StatusCode::OK, out)
}
