//! Starts a member: storage, Raft node, the client gRPC port (KV, health, reflection),
//! the peer port, and the HTTP port (health, metrics), each over TLS when configured
//! (`crate::tls`); stops them on SIGTERM/SIGINT.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use corral_proto::v1::auth_server::AuthServer;
use corral_proto::v1::cluster_server::ClusterServer;
use corral_proto::v1::election_server::ElectionServer;
use corral_proto::v1::kv_server::KvServer;
use corral_proto::v1::lease_server::LeaseServer;
use corral_proto::v1::lock_server::LockServer;
use corral_proto::v1::maintenance_server::MaintenanceServer;
use corral_proto::v1::watch_server::WatchServer;
use futures::future::BoxFuture;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::api::access::CertUser;
use crate::api::auth::AuthService;
use crate::api::cluster::ClusterService;
use crate::api::election::ElectionService;
use crate::api::kv::KvService;
use crate::api::lease::LeaseService;
use crate::api::lock::LockService;
use crate::api::maintenance::MaintenanceService;
use crate::api::transport_errors::TransportErrorsLayer;
use crate::api::watch::WatchService;
use crate::api::ApiContext;
use crate::config::Config;
use crate::raft::peer_service::PeerService;
use crate::raft::{RaftNode, RaftSettings};
use crate::store::db::{Db, Sync};
use crate::tls::{self, PeerTls, Port, ServerTls};

mod http;

/// Largest client message: the data limit plus room for the rest of the request.
fn max_client_message(cfg: &Config) -> usize {
    cfg.max_data_bytes as usize + (1 << 20)
}

/// Accepted connections with TCP_NODELAY: the builder's `tcp_nodelay` applies only to
/// listeners tonic binds itself, and without it a response split into several small
/// writes waits ~40 ms for the client's delayed ACK (Nagle).
fn incoming(listener: TcpListener) -> TcpIncoming {
    TcpIncoming::from(listener).with_nodelay(Some(true))
}

async fn bind(addr: &str, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({what}); is another corral running?"))
}

/// openraft's modules that log every failed call to a peer (while one is down, two
/// or three lines every 0.5 s, each with the whole error chain), and the level they are
/// kept at: the peer client logs those failures itself, rate-limited
/// (`raft::peer_failure_log`).
const QUIETED: [(&str, &str); 2] = [
    // "error replication to target" (WARN) and "RPCError" (ERROR), per call.
    ("openraft::replication", "off"),
    // "update progress error" (WARN), per call.
    ("openraft::engine::handler::replication_handler", "error"),
];

/// The log filter `spec` (`--log-filter`), with [`QUIETED`]'s modules turned down
/// unless `spec` names them.
fn log_filter(spec: &str) -> tracing_subscriber::EnvFilter {
    let mut filter = tracing_subscriber::EnvFilter::try_new(spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    for (target, level) in QUIETED {
        if spec.contains(target) {
            continue;
        }
        if let Ok(directive) = format!("{target}={level}").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// The client address other members may give clients for this one: `--client-addr`,
/// unless it is an unspecified address (0.0.0.0 or [::]), which no client can dial.
fn advertised_client_addr(client_addr: &str) -> Option<String> {
    match client_addr.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_unspecified() => None,
        _ => Some(client_addr.to_string()),
    }
}

/// Runs a member until SIGTERM or SIGINT.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(log_filter(&cfg.log_filter))
        .with_writer(std::io::stderr)
        // Colours only on a terminal, never in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();

    // Unusable TLS material stops the start with the flag and file at fault, before
    // anything listens.
    let client_tls = cfg
        .client_tls()
        .map(|files| ServerTls::load(&files))
        .transpose()?;
    let peer_tls = cfg
        .peer_tls()
        .map(|files| PeerTls::load(&files))
        .transpose()?;

    // Bind first, so a taken port fails fast with a clear message.
    let client_listener = bind(&cfg.client_addr, "client-addr").await?;
    let peer_listener = bind(&cfg.peer_addr, "peer-addr").await?;
    let http_listener = bind(&cfg.http_addr, "http-addr").await?;

    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data-dir {}", cfg.data_dir.display()))?;
    if cfg.unsafe_fault_injection {
        tracing::warn!("unsafe-fault-injection is set: PUT /debug/disk-delay-ms is served");
    }
    let sync = if cfg.unsafe_no_fsync {
        tracing::warn!("unsafe-no-fsync is set: acknowledged writes can be lost on a crash");
        Sync::Never
    } else {
        Sync::Always
    };
    let db_dir = cfg.data_dir.join("db");
    let db = Arc::new(
        Db::open(&db_dir, sync)
            .with_context(|| format!("cannot open the database in {}", db_dir.display()))?,
    );
    let settings = RaftSettings {
        node_id: cfg.node_id,
        initial_members: cfg.initial_members()?,
        join: cfg.join,
        heartbeat_interval: Duration::from_millis(cfg.heartbeat_interval_ms),
        election_timeout_min: Duration::from_millis(cfg.election_timeout_min_ms),
        election_timeout_max: Duration::from_millis(cfg.election_timeout_max_ms),
        snapshot_logs_since_last: cfg.snapshot_every_entries,
        logs_to_keep: cfg.logs_to_keep,
        max_batch: cfg.max_batch,
        snapshot_dir: cfg.data_dir.join("snapshots"),
        watch_ring_batches: 256,
        peer_routes: cfg.peer_routes()?,
        max_snapshot_bytes: crate::raft::snapshot_buffer::DEFAULT_MAX_SNAPSHOT_BYTES,
        client_addr: advertised_client_addr(&cfg.client_addr),
        peer_tls: peer_tls.clone(),
    };
    let node = RaftNode::start(settings, db).await.context("start raft")?;

    let (reporter, health_service) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", ServingStatus::NotServing)
        .await;
    reporter.set_not_serving::<KvServer<KvService>>().await;
    tokio::spawn(track_health(node.clone(), reporter));
    tokio::spawn(crate::lease::keeper::run(
        node.clone(),
        crate::lease::keeper::KeeperConfig {
            retain_revisions: cfg.history_retain_revisions,
            retain_age: Duration::from_millis(cfg.history_retain_ms),
            request_id_window: Duration::from_millis(cfg.request_id_window_ms),
            ..Default::default()
        },
    ));

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(corral_proto::V1_FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // Lets grpcurl decode the google.rpc.ErrorInfo carried by every error.
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(corral_proto::V1_FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let max_msg = max_client_message(&cfg);
    let cx = ApiContext {
        node: node.clone(),
        max_data_bytes: cfg.max_data_bytes as usize,
        max_message_bytes: max_msg,
        token_ttl_ms: cfg.auth_token_ttl_ms as i64,
    };
    let transport_errors = TransportErrorsLayer::new(cx.limits());
    let auth = AuthServer::new(AuthService::new(cx.clone()));
    let cluster = ClusterServer::new(ClusterService::new(cx.clone()));
    let lease = LeaseServer::new(LeaseService::new(cx.clone()));
    let lock = LockServer::new(LockService::new(cx.clone()));
    let election = ElectionServer::new(ElectionService::new(cx.clone()));
    let maintenance = MaintenanceServer::new(MaintenanceService::new(cx.clone()));
    let watch = WatchServer::new(WatchService::new(cx.clone())).max_encoding_message_size(64 << 20);
    let kv = KvServer::new(KvService::new(cx))
        .max_decoding_message_size(max_msg)
        .max_encoding_message_size(max_msg.max(16 << 20));

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };

    let client_router = Server::builder()
        .tcp_nodelay(true)
        .layer(tower::util::MapRequestLayer::new(name_cert_user))
        .layer(transport_errors)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(kv)
        .add_service(auth)
        .add_service(cluster)
        .add_service(lease)
        .add_service(lock)
        .add_service(election)
        .add_service(maintenance)
        .add_service(watch);
    let client: BoxFuture<'static, Result<(), tonic::transport::Error>> = match &client_tls {
        Some(tls) => {
            let tls = tls.clone();
            let port = Port {
                name: "client",
                ca_flag: tls.client_ca_flag(),
                warn: false,
            };
            let incoming = tls::Incoming::spawn(client_listener, move || tls.grpc(), port);
            Box::pin(client_router.serve_with_incoming_shutdown(incoming, stopped(stop_rx.clone())))
        }
        None => Box::pin(
            client_router
                .serve_with_incoming_shutdown(incoming(client_listener), stopped(stop_rx.clone())),
        ),
    };
    let peer_router = Server::builder()
        .tcp_nodelay(true)
        // Members are trusted. After a partition heals, every call a peer cancelled
        // while it was cut off arrives at once as opened-then-reset streams; h2's
        // reset-flood guard (default 20) would answer with GOAWAY and drop the link
        // again just as it recovers.
        .http2_max_pending_accept_reset_streams(Some(10_000))
        .add_service(PeerService::new(node.clone()).into_server());
    let peer: BoxFuture<'static, Result<(), tonic::transport::Error>> = match &peer_tls {
        // Only a member whose certificate the peer CA signed gets past the handshake,
        // so nothing it cannot prove reaches openraft (no vote, no append, no snapshot).
        Some(tls) => {
            let tls = tls.clone();
            let port = Port {
                name: "peer",
                ca_flag: Some(tls.ca_flag()),
                warn: true,
            };
            let incoming = tls::Incoming::spawn(peer_listener, move || tls.server(), port);
            Box::pin(peer_router.serve_with_incoming_shutdown(incoming, stopped(stop_rx.clone())))
        }
        None => Box::pin(
            peer_router
                .serve_with_incoming_shutdown(incoming(peer_listener), stopped(stop_rx.clone())),
        ),
    };
    let http: BoxFuture<'static, std::io::Result<()>> = match &client_tls {
        Some(tls) => {
            let tls = tls.clone();
            let port = Port {
                name: "HTTP",
                ca_flag: tls.client_ca_flag(),
                warn: false,
            };
            let listener = tls::TlsListener::spawn(http_listener, move || tls.http(), port)?;
            Box::pin(http::serve(
                listener,
                node.clone(),
                cfg.unsafe_fault_injection,
                stopped(stop_rx.clone()),
            ))
        }
        None => Box::pin(http::serve(
            http_listener,
            node.clone(),
            cfg.unsafe_fault_injection,
            stopped(stop_rx.clone()),
        )),
    };
    let mut reloadable: Vec<Arc<dyn tls::Reload>> = Vec::new();
    if let Some(tls) = &client_tls {
        tracing::info!(
            "client and HTTP ports serve TLS ({}), {}",
            tls.describe(),
            match tls.client_ca_flag() {
                Some(_) => "client certificates required (--tls-client-ca)",
                None => "no client certificates asked for",
            }
        );
        reloadable.push(tls.clone());
    }
    if let Some(tls) = &peer_tls {
        tracing::info!(
            "peer port and peer clients use mutual TLS ({})",
            tls.describe()
        );
        reloadable.push(tls.clone());
    }
    let reloader = tls::spawn_reloader(reloadable);

    tracing::info!(
        node_id = cfg.node_id,
        client = %cfg.client_addr,
        peer = %cfg.peer_addr,
        http = %cfg.http_addr,
        tls = client_tls.is_some(),
        peer_tls = peer_tls.is_some(),
        data_dir = %cfg.data_dir.display(),
        "corral serving"
    );
    let mut tasks = vec![
        ServerTask::spawn("client", &cfg.client_addr, async move {
            client.await.map_err(|e| e.to_string())
        }),
        ServerTask::spawn("peer", &cfg.peer_addr, async move {
            peer.await.map_err(|e| e.to_string())
        }),
        ServerTask::spawn("http", &cfg.http_addr, async move {
            http.await.map_err(|e| e.to_string())
        }),
    ];

    let outcome = supervise(&mut tasks, shutdown_signal()).await;
    tracing::info!("shutting down");
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    let _ = stop_tx.send(true);
    node.shutdown().await;
    for task in tasks {
        if let Err(e) = task.join().await {
            tracing::warn!("{e}");
        }
    }
    outcome
}

/// One of a member's servers (client gRPC, peer gRPC, HTTP), running as a task.
struct ServerTask {
    name: &'static str,
    addr: String,
    handle: tokio::task::JoinHandle<Result<(), String>>,
}

impl ServerTask {
    fn spawn(
        name: &'static str,
        addr: &str,
        serve: impl std::future::Future<Output = Result<(), String>> + Send + 'static,
    ) -> Self {
        Self {
            name,
            addr: addr.to_string(),
            handle: tokio::spawn(serve),
        }
    }

    /// Waits for the task to end; an error says which server failed and why.
    async fn join(self) -> anyhow::Result<()> {
        let why = match self.handle.await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(e) => format!("task failed: {e}"),
        };
        anyhow::bail!("the {} server on {} failed: {why}", self.name, self.addr)
    }
}

/// Runs until `shutdown` resolves or one of `tasks` ends, whichever comes first. A
/// server that ends before shutdown (it failed, or stopped serving) is an error naming
/// it and its address: the member must not run on without one of its ports. That task
/// is taken out of `tasks`, the others are left to be stopped and joined.
async fn supervise(
    tasks: &mut Vec<ServerTask>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    if tasks.is_empty() {
        shutdown.await;
        return Ok(());
    }
    let ended = {
        let any = futures::future::select_all(tasks.iter_mut().map(|t| &mut t.handle));
        tokio::select! {
            () = shutdown => None,
            (result, index, _) = any => Some((result, index)),
        }
    };
    let Some((result, index)) = ended else {
        return Ok(());
    };
    let task = tasks.remove(index);
    let why = match result {
        Ok(Ok(())) => "it stopped serving".to_string(),
        Ok(Err(e)) => e,
        Err(e) => format!("its task failed: {e}"),
    };
    let e = anyhow::anyhow!(
        "the {} server on {} stopped before shutdown: {why}",
        task.name,
        task.addr
    );
    tracing::error!("{e:#}; stopping this member");
    Err(e)
}

/// Names the request's caller for the auth code (`CertUser`) when its connection
/// presented a client certificate that `--tls-client-ca` verified: the certificate's
/// subject CN, else its first DNS or email SAN. Extensions cannot come from the wire, so
/// a client cannot name itself this way.
fn name_cert_user(
    mut req: ::http::Request<tonic::body::Body>,
) -> ::http::Request<tonic::body::Body> {
    if let Some(user) = tls::identity::connection_identity(req.extensions()) {
        req.extensions_mut().insert(CertUser(user));
    }
    req
}

/// Health is SERVING while this member knows a leader (it can serve requests).
async fn track_health(node: Arc<RaftNode>, reporter: tonic_health::server::HealthReporter) {
    let mut metrics = node.raft().metrics();
    let mut last: Option<bool> = None;
    loop {
        let has_leader = metrics.borrow().current_leader.is_some() && node.is_member();
        if last != Some(has_leader) {
            let status = if has_leader {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            };
            reporter.set_service_status("", status).await;
            reporter.set_service_status("corral.v1.KV", status).await;
            last = Some(has_leader);
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_server_that_stops_before_shutdown_ends_the_member_with_an_error_naming_it() {
        let mut tasks = vec![
            ServerTask::spawn("client", "127.0.0.1:2479", std::future::pending()),
            ServerTask::spawn("peer", "127.0.0.1:2480", async {
                Err("accept failed: too many open files".to_string())
            }),
        ];
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            supervise(&mut tasks, std::future::pending()),
        )
        .await
        .expect("supervise returns when a server stops, without a shutdown signal");
        let err = outcome
            .expect_err("a stopped server is an error")
            .to_string();
        assert!(
            err.contains("peer") && err.contains("127.0.0.1:2480") && err.contains("too many"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_shutdown_signal_ends_the_member_cleanly() {
        let mut tasks = vec![ServerTask::spawn(
            "client",
            "127.0.0.1:2479",
            std::future::pending(),
        )];
        supervise(&mut tasks, async {}).await.expect("clean stop");
    }
}
