//! Dials another member's peer port over mutual TLS, for tonic channels
//! (`Endpoint::connect_with_connector_lazy`). Each new connection takes the peer
//! configuration current at that moment, so a channel picks up reloaded certificates
//! on its next reconnect without being rebuilt, and its open connection is left alone.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use super::incoming::describe_refusal;
use super::PeerTls;

/// Why a connection to a peer could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URI tonic asked for has no host and port.
    #[error("peer URI {0} has no host:port")]
    NoAuthority(String),
    /// The member's address has a host that cannot be a TLS server name.
    #[error(
        "peer address {addr}: {host:?} is not an IP address or DNS name a certificate can name"
    )]
    ServerName {
        /// The member's address.
        addr: String,
        /// Its host part.
        host: String,
    },
    /// The TCP connection failed.
    #[error("connect to {addr}: {error}")]
    Tcp {
        /// Where it dialled.
        addr: String,
        /// What the OS said (in the message, not a separate cause: printed once).
        error: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("TLS handshake with {addr} failed: {reason}")]
    Handshake {
        /// Where it dialled.
        addr: String,
        /// Why, in words (the certificate's issuer, an alert from the other side, ...).
        reason: String,
    },
}

/// A connector to one member: TCP to whatever address the channel dials (the member's,
/// or a `--peer-routes` stand-in), TLS verifying the certificate against the member's
/// own address as written in the membership (an IP SAN or a DNS SAN).
#[derive(Clone)]
pub struct PeerConnector {
    tls: Arc<PeerTls>,
    name: ServerName<'static>,
}

impl PeerConnector {
    /// A connector verifying the peer at `member_addr` (`host:port`, the address the
    /// membership gives it).
    pub fn new(tls: Arc<PeerTls>, member_addr: &str) -> Result<Self, ConnectError> {
        let name = server_name(member_addr)?;
        Ok(Self { tls, name })
    }
}

/// The TLS server name of `host:port` (`[v6]:port` too; a scheme is ignored).
fn server_name(addr: &str) -> Result<ServerName<'static>, ConnectError> {
    let bare = addr
        .strip_prefix("https://")
        .or_else(|| addr.strip_prefix("http://"))
        .unwrap_or(addr);
    let host = match bare.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => bare,
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(host.to_string()).map_err(|_| ConnectError::ServerName {
        addr: addr.to_string(),
        host: host.to_string(),
    })
}

impl tower::Service<http::Uri> for PeerConnector {
    type Response = TokioIo<TlsStream<TcpStream>>;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, ConnectError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let config = self.tls.client();
        let ca_flag = self.tls.ca_flag();
        let name = self.name.clone();
        Box::pin(async move {
            let addr = uri
                .authority()
                .map(|a| a.as_str().to_string())
                .ok_or_else(|| ConnectError::NoAuthority(uri.to_string()))?;
            let tcp = TcpStream::connect(&addr)
                .await
                .map_err(|error| ConnectError::Tcp {
                    addr: addr.clone(),
                    error,
                })?;
            let _ = tcp.set_nodelay(true);
            let tls = TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| ConnectError::Handshake {
                    addr: addr.clone(),
                    reason: client_side_reason(&e, ca_flag),
                })?;
            Ok(TokioIo::new(tls))
        })
    }
}

/// Why the handshake failed as the dialling side sees it: the other member's
/// certificate was refused here, or this member's was refused there.
fn client_side_reason(e: &std::io::Error, ca_flag: &str) -> String {
    use rustls::{CertificateError, Error};
    match e.get_ref().and_then(|inner| inner.downcast_ref::<Error>()) {
        Some(Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {
            format!("its certificate is not signed by {ca_flag} (UnknownIssuer)")
        }
        Some(Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => "its certificate does not name the address it was dialled at (NotValidForName)"
            .to_string(),
        _ => describe_refusal(e, Some(ca_flag))
            .map(|r| r.text)
            .unwrap_or_else(|| format!("connection closed during the handshake: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_come_from_the_host_part() {
        for (addr, want) in [
            ("127.0.0.1:2480", "127.0.0.1"),
            ("localhost:2480", "localhost"),
            ("https://node-1.corral.svc:2480", "node-1.corral.svc"),
            ("[::1]:2480", "::1"),
        ] {
            let name = server_name(addr).expect(addr);
            assert_eq!(name.to_str(), want, "{addr}");
        }
        assert!(server_name("bad host:1").is_err());
    }
}
