//! The TLS settings of a client: the CA that verifies the members' certificates, an
//! optional client certificate and key (mTLS, where the certificate's CN is the user),
//! and an optional name to verify instead of the endpoint's host. Files are read, and
//! everything checked, when the client connects, so errors name the file.

use std::fmt;
use std::path::PathBuf;

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::error::{Error, Result};

/// PEM text given as bytes or as a file to read at connect time.
#[derive(Clone)]
pub(crate) enum Pem {
    /// PEM bytes.
    Bytes(Vec<u8>),
    /// A PEM file.
    File(PathBuf),
}

impl Pem {
    /// The PEM text; `what` names it in errors ("CA certificate").
    fn read(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Pem::Bytes(bytes) => Ok(bytes.clone()),
            Pem::File(path) => std::fs::read(path).map_err(|e| Error::TlsConfig {
                message: format!("cannot read the {what} file {}: {e}", path.display()),
            }),
        }
    }

    /// Where the PEM came from, for errors.
    fn origin(&self) -> String {
        match self {
            Pem::Bytes(_) => "given as PEM bytes".into(),
            Pem::File(path) => format!("in {}", path.display()),
        }
    }

    /// The PEM text after checking it holds a block whose label ends with `label`
    /// (`CERTIFICATE`, `PRIVATE KEY`): rustls would otherwise fail later with an error
    /// that names neither the file nor what it should hold.
    fn read_block(&self, what: &str, label: &str) -> Result<Vec<u8>> {
        let pem = self.read(what)?;
        let text = String::from_utf8_lossy(&pem);
        let has_block = text.lines().any(|line| {
            line.trim()
                .strip_prefix("-----BEGIN ")
                .and_then(|rest| rest.strip_suffix("-----"))
                .is_some_and(|found| found.ends_with(label))
        });
        if !has_block {
            return Err(Error::TlsConfig {
                message: format!("no PEM \"{label}\" block in the {what} {}", self.origin()),
            });
        }
        Ok(pem)
    }
}

impl fmt::Debug for Pem {
    // Never prints the bytes: a client key is a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::Bytes(bytes) => write!(f, "<{} bytes of PEM>", bytes.len()),
            Pem::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// What [`ClientBuilder`](crate::ClientBuilder)'s `tls_*` options collected.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsSettings {
    /// CA bundle that verifies the members' certificates.
    pub(crate) ca: Option<Pem>,
    /// Client certificate and key, for mTLS.
    pub(crate) identity: Option<(Pem, Pem)>,
    /// Name to verify the members' certificates against instead of the endpoint's host.
    pub(crate) domain: Option<String>,
}

impl TlsSettings {
    /// Whether any TLS option was given: then every endpoint is dialled over TLS.
    pub(crate) fn enabled(&self) -> bool {
        self.ca.is_some() || self.identity.is_some() || self.domain.is_some()
    }

    /// tonic's TLS configuration for these settings, reading the files.
    pub(crate) fn config(&self) -> Result<ClientTlsConfig> {
        // The client trusts no built-in roots: members are verified against the CA given.
        let Some(ca) = &self.ca else {
            return Err(Error::TlsConfig {
                message: "TLS needs the CA that signed the members' certificates \
                          (ClientBuilder::tls_ca_file / tls_ca_pem, corralctl --cacert)"
                    .into(),
            });
        };
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(
            ca.read_block("CA certificate", "CERTIFICATE")?,
        ));
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(
                cert.read_block("client certificate", "CERTIFICATE")?,
                key.read_block("client key", "PRIVATE KEY")?,
            ));
        }
        if let Some(domain) = &self.domain {
            config = config.domain_name(domain.clone());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &[u8] = b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

    #[test]
    fn tls_is_on_once_any_option_is_given() {
        assert!(!TlsSettings::default().enabled());
        let domain = TlsSettings {
            domain: Some("corral.local".into()),
            ..Default::default()
        };
        assert!(domain.enabled());
    }

    #[test]
    fn a_ca_is_required() {
        let settings = TlsSettings {
            identity: Some((Pem::Bytes(CERT.into()), Pem::Bytes(KEY.into()))),
            ..Default::default()
        };
        let err = settings.config().expect_err("no CA");
        assert!(matches!(err, Error::TlsConfig { ref message } if message.contains("CA")));
    }

    #[test]
    fn unreadable_files_and_pem_without_the_right_block_are_named() {
        let missing = TlsSettings {
            ca: Some(Pem::File("/nonexistent/ca.pem".into())),
            ..Default::default()
        };
        let err = missing.config().expect_err("missing file");
        assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
        let key_as_ca = TlsSettings {
            ca: Some(Pem::Bytes(KEY.into())),
            ..Default::default()
        };
        let err = key_as_ca.config().expect_err("a key is no CA");
        assert!(err.to_string().contains("CERTIFICATE"), "{err}");
        let cert_as_key = TlsSettings {
            ca: Some(Pem::Bytes(CERT.into())),
            identity: Some((Pem::Bytes(CERT.into()), Pem::Bytes(CERT.into()))),
            ..Default::default()
        };
        let err = cert_as_key.config().expect_err("a certificate is no key");
        assert!(err.to_string().contains("client key"), "{err}");
        // RSA and EC keys have their own labels.
        let rsa_key = b"-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----\n";
        let rsa = TlsSettings {
            ca: Some(Pem::Bytes(CERT.into())),
            identity: Some((Pem::Bytes(CERT.into()), Pem::Bytes(rsa_key.to_vec()))),
            ..Default::default()
        };
        assert!(rsa.config().is_ok());
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let settings = TlsSettings {
            ca: Some(Pem::File("/etc/corral/ca.pem".into())),
            identity: Some((Pem::Bytes(CERT.into()), Pem::Bytes(KEY.into()))),
            domain: None,
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("MIIE"), "{shown}");
        assert!(shown.contains("/etc/corral/ca.pem"), "{shown}");
    }
}
