//! The rustls configurations a member serves and dials with, built from the checked
//! files and swapped whole when they are reloaded. A handshake takes the configuration
//! current when it starts (an `Arc`), so a reload never touches a connection that is
//! established or half-way through its handshake.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::files::{self, KeyPair, Named, PeerTlsFiles, ServerTlsFiles};
use super::reload::Reload;
use super::TlsError;

/// ALPN of gRPC: grpc-go (so grpcurl) refuses a TLS server that does not select it.
const ALPN_H2: &[u8] = b"h2";
/// ALPN of the HTTP port, which speaks HTTP/1.1 only.
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A value replaced whole by a reload; readers get the one current when they ask.
#[derive(Debug)]
struct Current<T>(RwLock<Arc<T>>);

impl<T> Current<T> {
    fn new(value: T) -> Self {
        Self(RwLock::new(Arc::new(value)))
    }

    fn get(&self) -> Arc<T> {
        // A writer cannot panic half-way (it swaps one Arc), so a poisoned lock still
        // holds a whole value.
        self.0
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn set(&self, value: T) {
        *self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(value);
    }
}

/// The crypto every configuration uses: ring, as tonic's `tls-ring` does. rustls 0.23.48
/// deprecated it for lacking post-quantum key exchange; aws-lc-rs has it but needs a
/// cmake build of aws-lc-sys on every machine, which this project avoids for now.
#[allow(deprecated)]
pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn config_error(files: &[&Named], e: impl std::fmt::Display) -> TlsError {
    TlsError::Config {
        files: files
            .iter()
            .map(|f| f.describe())
            .collect::<Vec<_>>()
            .join(", "),
        reason: e.to_string(),
    }
}

/// A server configuration presenting `pair`, requiring client certificates signed by
/// `client_ca` when given, and offering `alpn`.
fn server_config(
    provider: &Arc<CryptoProvider>,
    pair: &KeyPair,
    client_ca: Option<Arc<RootCertStore>>,
    alpn: &[u8],
) -> Result<ServerConfig, String> {
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match client_ca {
        Some(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| e.to_string())?,
        ),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(pair.chain.clone(), pair.key.clone_key())
        .map_err(|e| e.to_string())?;
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(config)
}

/// TLS of the client gRPC port and the HTTP port: one certificate; with a client CA,
/// client certificates signed by it are required on both.
#[derive(Debug)]
pub struct ServerTls {
    cert: Named,
    key: Named,
    client_ca: Option<Named>,
    provider: Arc<CryptoProvider>,
    current: Current<ServerConfigs>,
}

#[derive(Debug)]
struct ServerConfigs {
    grpc: Arc<ServerConfig>,
    http: Arc<ServerConfig>,
    leaf: files::LeafInfo,
}

impl ServerTls {
    /// Reads and checks the files; the error names the flag and file at fault.
    pub fn load(files: &ServerTlsFiles) -> Result<Arc<Self>, TlsError> {
        let cert = Named::new("--tls-cert", &files.cert);
        let key = Named::new("--tls-key", &files.key);
        let client_ca = files
            .client_ca
            .as_deref()
            .map(|p| Named::new("--tls-client-ca", p));
        let provider = provider();
        let configs = Self::build(&cert, &key, client_ca.as_ref(), &provider)?;
        Ok(Arc::new(Self {
            cert,
            key,
            client_ca,
            provider,
            current: Current::new(configs),
        }))
    }

    fn build(
        cert: &Named,
        key: &Named,
        client_ca: Option<&Named>,
        provider: &Arc<CryptoProvider>,
    ) -> Result<ServerConfigs, TlsError> {
        let now = SystemTime::now();
        let pair = files::load_key_pair(cert, key, provider, now)?;
        let roots = client_ca.map(|ca| files::load_roots(ca, now)).transpose()?;
        let all: Vec<&Named> = [Some(cert), Some(key), client_ca]
            .into_iter()
            .flatten()
            .collect();
        let grpc = server_config(provider, &pair, roots.clone(), ALPN_H2)
            .map_err(|e| config_error(&all, e))?;
        let http =
            server_config(provider, &pair, roots, ALPN_HTTP1).map_err(|e| config_error(&all, e))?;
        Ok(ServerConfigs {
            grpc: Arc::new(grpc),
            http: Arc::new(http),
            leaf: pair.leaf,
        })
    }

    /// The configuration new gRPC connections are served with.
    pub fn grpc(&self) -> Arc<ServerConfig> {
        self.current.get().grpc.clone()
    }

    /// The configuration new HTTP connections are served with.
    pub fn http(&self) -> Arc<ServerConfig> {
        self.current.get().http.clone()
    }

    /// The CA flag that verifies clients, if client certificates are required.
    pub fn client_ca_flag(&self) -> Option<&'static str> {
        self.client_ca.as_ref().map(|ca| ca.flag)
    }

    /// What the current certificate is, for log lines.
    pub fn describe(&self) -> String {
        self.current.get().leaf.to_string()
    }
}

impl Reload for ServerTls {
    fn what(&self) -> &'static str {
        "client and HTTP ports"
    }

    fn files(&self) -> Vec<PathBuf> {
        [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .map(|f| f.path.clone())
            .collect()
    }

    fn reload(&self) -> Result<String, TlsError> {
        let configs = Self::build(
            &self.cert,
            &self.key,
            self.client_ca.as_ref(),
            &self.provider,
        )?;
        let leaf = configs.leaf.to_string();
        self.current.set(configs);
        Ok(leaf)
    }
}

/// Mutual TLS between members: the peer server requires a client certificate signed by
/// the peer CA, and the peer client presents the same certificate and accepts only a
/// server certificate signed by that CA.
#[derive(Debug)]
pub struct PeerTls {
    cert: Named,
    key: Named,
    ca: Named,
    provider: Arc<CryptoProvider>,
    current: Current<PeerConfigs>,
}

#[derive(Debug)]
struct PeerConfigs {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
    leaf: files::LeafInfo,
}

impl PeerTls {
    /// Reads and checks the files; the error names the flag and file at fault.
    pub fn load(files: &PeerTlsFiles) -> Result<Arc<Self>, TlsError> {
        let cert = Named::new("--peer-tls-cert", &files.cert);
        let key = Named::new("--peer-tls-key", &files.key);
        let ca = Named::new("--peer-tls-ca", &files.ca);
        let provider = provider();
        let configs = Self::build(&cert, &key, &ca, &provider)?;
        Ok(Arc::new(Self {
            cert,
            key,
            ca,
            provider,
            current: Current::new(configs),
        }))
    }

    fn build(
        cert: &Named,
        key: &Named,
        ca: &Named,
        provider: &Arc<CryptoProvider>,
    ) -> Result<PeerConfigs, TlsError> {
        let now = SystemTime::now();
        let pair = files::load_key_pair(cert, key, provider, now)?;
        let roots = files::load_roots(ca, now)?;
        let all = [cert, key, ca];
        let server = server_config(provider, &pair, Some(roots.clone()), ALPN_H2)
            .map_err(|e| config_error(&all, e))?;
        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| config_error(&all, e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(pair.chain.clone(), pair.key.clone_key())
            .map_err(|e| config_error(&all, e))?;
        client.alpn_protocols = vec![ALPN_H2.to_vec()];
        Ok(PeerConfigs {
            server: Arc::new(server),
            client: Arc::new(client),
            leaf: pair.leaf,
        })
    }

    /// The configuration new connections to the peer port are served with.
    pub fn server(&self) -> Arc<ServerConfig> {
        self.current.get().server.clone()
    }

    /// The configuration new connections to other members are made with.
    pub fn client(&self) -> Arc<ClientConfig> {
        self.current.get().client.clone()
    }

    /// The flag of the CA every member's certificate must be signed by.
    pub fn ca_flag(&self) -> &'static str {
        self.ca.flag
    }

    /// What the current certificate is, for log lines.
    pub fn describe(&self) -> String {
        self.current.get().leaf.to_string()
    }
}

impl Reload for PeerTls {
    fn what(&self) -> &'static str {
        "peer port"
    }

    fn files(&self) -> Vec<PathBuf> {
        [&self.cert, &self.key, &self.ca]
            .into_iter()
            .map(|f| f.path.clone())
            .collect()
    }

    fn reload(&self) -> Result<String, TlsError> {
        let configs = Self::build(&self.cert, &self.key, &self.ca, &self.provider)?;
        let leaf = configs.leaf.to_string();
        self.current.set(configs);
        Ok(leaf)
    }
}
