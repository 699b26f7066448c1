//! The accept loop of a TLS port: accepts TCP connections (with TCP_NODELAY), runs each
//! handshake on its own task with the configuration current at that moment, and hands
//! the finished connections to the server (tonic through [`Incoming`], axum through
//! [`TlsListener`]). A slow or silent client holds only its own task, never the accept
//! loop. Refused handshakes are logged with the reason, at most once per address and
//! reason per [`REFUSAL_LOG_INTERVAL`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

/// Longest a client may take to complete its handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Most handshakes in progress at once; past it, accepting waits for one to end (the
/// kernel's backlog holds the rest), so a flood of half-open connections costs bounded
/// memory.
const MAX_HANDSHAKES: usize = 1024;

/// Least time between two log lines about refused handshakes from one address for one
/// reason.
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(30);

/// Which port a loop serves, for log lines.
#[derive(Debug, Clone, Copy)]
pub struct Port {
    /// "client", "HTTP" or "peer".
    pub name: &'static str,
    /// The flag of the CA client certificates must be signed by, if they are required.
    pub ca_flag: Option<&'static str>,
    /// Refusals on the peer port are warnings (a member may be misconfigured, or an
    /// intruder is knocking); on the client ports, information.
    pub warn: bool,
}

/// Established TLS connections of one port, as tonic's `serve_with_incoming` takes them.
/// Dropping it stops the accept loop and closes the listener.
pub struct Incoming {
    rx: mpsc::Receiver<TlsStream<TcpStream>>,
}

impl Incoming {
    /// Starts the accept loop on `listener`; each handshake uses `config()` as it is
    /// when the connection arrives.
    pub fn spawn(
        listener: TcpListener,
        config: impl Fn() -> Arc<ServerConfig> + Send + Sync + 'static,
        port: Port,
    ) -> Self {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(accept_loop(listener, config, port, tx));
        Self { rx }
    }
}

impl futures::Stream for Incoming {
    type Item = Result<TlsStream<TcpStream>, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|c| c.map(Ok))
    }
}

/// [`Incoming`] as an axum listener, for the HTTP port.
pub struct TlsListener {
    incoming: Incoming,
    local_addr: SocketAddr,
}

impl TlsListener {
    /// Starts the accept loop on `listener` (see [`Incoming::spawn`]).
    pub fn spawn(
        listener: TcpListener,
        config: impl Fn() -> Arc<ServerConfig> + Send + Sync + 'static,
        port: Port,
    ) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        Ok(Self {
            incoming: Incoming::spawn(listener, config, port),
            local_addr,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.incoming.rx.recv().await {
                Some(tls) => {
                    // A connection reset since its handshake has no peer address; it
                    // is of no use to serve.
                    if let Ok(addr) = tls.get_ref().0.peer_addr() {
                        return (tls, addr);
                    }
                }
                // The accept loop ended (it only does when this side is dropped, so
                // not while serving); axum's contract is to never return an error.
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: impl Fn() -> Arc<ServerConfig> + Send + Sync + 'static,
    port: Port,
    tx: mpsc::Sender<TlsStream<TcpStream>>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    let refusals = Arc::new(Mutex::new(RefusalLog::new(REFUSAL_LOG_INTERVAL)));
    loop {
        let permit = tokio::select! {
            () = tx.closed() => return,
            permit = handshakes.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => return,
            },
        };
        let accepted = tokio::select! {
            () = tx.closed() => return,
            accepted = listener.accept() => accepted,
        };
        let (tcp, addr) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                // Errors of one connection (reset before accept) pass; running out of
                // file descriptors does too, after a pause instead of a busy loop.
                tracing::debug!("{} port: accept failed: {e}", port.name);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Without it a response split into small writes waits for the client's
        // delayed ACK (Nagle), ~40 ms a round.
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(config());
        let tx = tx.clone();
        let refusals = refusals.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let outcome = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
            let refused = match outcome {
                Ok(Ok(tls)) => {
                    // The server went away meanwhile: nothing to hand it to.
                    let _ = tx.send(tls).await;
                    return;
                }
                Ok(Err(e)) => describe_refusal(&e, port.ca_flag),
                Err(_) => Some(Refusal {
                    kind: "timeout",
                    text: format!("no complete handshake within {HANDSHAKE_TIMEOUT:?}"),
                }),
            };
            let Some(refusal) = refused else {
                return;
            };
            let report = refusals
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .note(addr.ip(), refusal.kind, Instant::now());
            if let Some(earlier) = report {
                let more = if earlier > 0 {
                    format!(" ({earlier} more refused from this address for this reason since the last line)")
                } else {
                    String::new()
                };
                if port.warn {
                    tracing::warn!(
                        "{} TLS handshake from {addr} refused: {}{more}",
                        port.name,
                        refusal.text
                    );
                } else {
                    tracing::info!(
                        "{} TLS handshake from {addr} refused: {}{more}",
                        port.name,
                        refusal.text
                    );
                }
            }
        });
    }
}

/// Why a handshake failed, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    /// Groups refusals for the rate limit.
    pub kind: &'static str,
    pub text: String,
}

/// The reason for a failed server-side handshake, or `None` for a connection closed
/// before it said anything (port scanners, TCP health checks), which is not worth a line.
pub(super) fn describe_refusal(e: &std::io::Error, ca_flag: Option<&str>) -> Option<Refusal> {
    use rustls::{CertificateError, Error};
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) else {
        return match e.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe => None,
            _ => Some(Refusal {
                kind: "io",
                text: format!("connection failed during the handshake: {e}"),
            }),
        };
    };
    let ca = ca_flag.unwrap_or("the CA");
    let (kind, text) = match tls {
        Error::InvalidCertificate(CertificateError::UnknownIssuer) => (
            "unknown-issuer",
            format!("certificate not signed by {ca} (UnknownIssuer)"),
        ),
        Error::InvalidCertificate(
            CertificateError::Expired | CertificateError::ExpiredContext { .. },
        ) => ("expired", "certificate expired (Expired)".to_string()),
        Error::InvalidCertificate(
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. },
        ) => (
            "not-yet-valid",
            "certificate not valid yet (NotValidYet)".to_string(),
        ),
        Error::InvalidCertificate(other) => (
            "bad-certificate",
            format!("certificate refused ({other:?})"),
        ),
        Error::NoCertificatesPresented => (
            "no-certificate",
            format!("no client certificate presented; {ca} requires one signed by it"),
        ),
        Error::AlertReceived(alert) => (
            "alert",
            format!(
                "the other side aborted the handshake with alert {alert:?} (does it trust \
                 this member's certificate and CA?)"
            ),
        ),
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => (
            "not-tls",
            format!("not a TLS handshake (a plaintext client?): {tls}"),
        ),
        Error::NoApplicationProtocol => (
            "alpn",
            "no common application protocol (ALPN): the client does not offer what this \
             port speaks"
                .to_string(),
        ),
        other => ("other", other.to_string()),
    };
    Some(Refusal { kind, text })
}

/// Remembers when refusals were last logged, per (address, reason).
#[derive(Debug)]
pub(super) struct RefusalLog {
    interval: Duration,
    /// (address, kind) → (when last logged, refusals since, not logged).
    last: HashMap<(IpAddr, &'static str), (Instant, u64)>,
}

impl RefusalLog {
    /// Bound on remembered (address, reason) pairs; past it, the expired ones go.
    const MAX_ENTRIES: usize = 4096;

    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: HashMap::new(),
        }
    }

    /// Notes a refusal; `Some(n)` if it is to be logged, `n` being the refusals of the
    /// same kind from the same address left unlogged since the last line.
    pub fn note(&mut self, ip: IpAddr, kind: &'static str, now: Instant) -> Option<u64> {
        if self.last.len() >= Self::MAX_ENTRIES {
            let interval = self.interval;
            self.last
                .retain(|_, (at, _)| now.saturating_duration_since(*at) < interval);
        }
        match self.last.get_mut(&(ip, kind)) {
            Some((at, quiet)) if now.saturating_duration_since(*at) < self.interval => {
                *quiet += 1;
                None
            }
            Some((at, quiet)) => {
                let earlier = *quiet;
                *at = now;
                *quiet = 0;
                Some(earlier)
            }
            None => {
                self.last.insert((ip, kind), (now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_logged_once_per_address_and_reason_per_interval() {
        let mut log = RefusalLog::new(Duration::from_secs(30));
        let t0 = Instant::now();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        assert_eq!(log.note(a, "unknown-issuer", t0), Some(0));
        assert_eq!(
            log.note(a, "unknown-issuer", t0 + Duration::from_secs(1)),
            None
        );
        assert_eq!(
            log.note(a, "unknown-issuer", t0 + Duration::from_secs(2)),
            None
        );
        assert_eq!(log.note(a, "not-tls", t0 + Duration::from_secs(2)), Some(0));
        assert_eq!(
            log.note(b, "unknown-issuer", t0 + Duration::from_secs(2)),
            Some(0)
        );
        assert_eq!(
            log.note(a, "unknown-issuer", t0 + Duration::from_secs(31)),
            Some(2),
            "the line after the interval counts the quiet ones"
        );
    }

    #[test]
    fn refusal_reasons_name_the_ca_flag() {
        let e = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let r = describe_refusal(&e, Some("--peer-tls-ca")).expect("a refusal");
        assert_eq!(
            r.text,
            "certificate not signed by --peer-tls-ca (UnknownIssuer)"
        );
        let closed = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof");
        assert_eq!(describe_refusal(&closed, None), None);
    }
}
