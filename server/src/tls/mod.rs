//! TLS for a member's three ports, with rustls (ring): the client gRPC port and the HTTP
//! port share `--tls-cert`/`--tls-key` (and `--tls-client-ca` for mTLS); the peer port
//! and every peer client use `--peer-tls-*` (always mutual). Certificates, keys and CAs
//! are checked at start, and re-read when their files change or on SIGHUP: new
//! handshakes use the new material, established connections are left alone.
//!
//! Layout: `files` reads and checks PEM files, `material` turns them into rustls
//! configs and holds the current ones, `reload` watches the files, `incoming` is the
//! accept loop that handshakes each connection on its own task, `connector` dials peers,
//! and `identity` tells the API who a verified client is.

use std::path::PathBuf;

use thiserror::Error;

mod connector;
mod files;
pub mod identity;
mod incoming;
mod material;
mod reload;

pub use connector::{ConnectError, PeerConnector};
pub use files::{PeerTlsFiles, ServerTlsFiles};
pub use identity::client_identity;
pub use incoming::{Incoming, Port, TlsListener};
pub use material::{PeerTls, ServerTls};
pub use reload::{spawn_reloader, Reload};

/// Why TLS material cannot be used. Every variant names the flag (as written on the
/// command line; the config key is the same without `--`) and the file.
#[derive(Debug, Error)]
pub enum TlsError {
    /// The file is missing or cannot be read.
    #[error("{flag} {}: cannot read the file: {error}", path.display())]
    Read {
        /// The flag that names the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What the OS said (in the message, not a separate cause: printed once).
        error: std::io::Error,
    },
    /// The file is not PEM, or holds no item of the kind the flag needs.
    #[error("{flag} {}: {what}", path.display())]
    Pem {
        /// The flag that names the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with its contents.
        what: String,
    },
    /// A certificate in the file cannot be used.
    #[error("{flag} {}: {what}", path.display())]
    Certificate {
        /// The flag that names the file.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong with the certificate.
        what: String,
    },
    /// The private key cannot be used, or is not the certificate's.
    #[error("{flag} {}: {what}", path.display())]
    Key {
        /// The flag that names the key file.
        flag: &'static str,
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// rustls refused to build a configuration from material that passed the checks.
    #[error("TLS configuration from {files}: {reason}")]
    Config {
        /// The files involved, with their flags.
        files: String,
        /// rustls's reason.
        reason: String,
    },
}
