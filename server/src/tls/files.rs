//! Reads PEM certificates, private keys and CA bundles, and checks what can be checked
//! before any handshake: the file is there and readable, holds the right kind of PEM
//! item, the certificate is in its validity period, the key is the certificate's. Each
//! refusal names the flag and the file, so an operator knows which one to fix.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::TlsError;

/// The files of the client and HTTP ports' TLS (`--tls-cert`, `--tls-key`,
/// `--tls-client-ca`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsFiles {
    /// This member's certificate chain, leaf first (`--tls-cert`).
    pub cert: PathBuf,
    /// The leaf's private key (`--tls-key`).
    pub key: PathBuf,
    /// CAs that sign client certificates; when given, clients must present one
    /// (`--tls-client-ca`).
    pub client_ca: Option<PathBuf>,
}

/// The files of the peer port's mutual TLS (`--peer-tls-cert`, `--peer-tls-key`,
/// `--peer-tls-ca`): the same certificate serves and dials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTlsFiles {
    /// This member's certificate chain, leaf first (`--peer-tls-cert`).
    pub cert: PathBuf,
    /// The leaf's private key (`--peer-tls-key`).
    pub key: PathBuf,
    /// The CAs that sign every member's certificate (`--peer-tls-ca`).
    pub ca: PathBuf,
}

/// A file and the flag that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Named {
    pub flag: &'static str,
    pub path: PathBuf,
}

impl Named {
    pub fn new(flag: &'static str, path: &Path) -> Self {
        Self {
            flag,
            path: path.to_path_buf(),
        }
    }

    /// `--flag /path`, as error messages and logs write it.
    pub fn describe(&self) -> String {
        format!("{} {}", self.flag, self.path.display())
    }

    fn read(&self) -> Result<Vec<u8>, TlsError> {
        std::fs::read(&self.path).map_err(|error| TlsError::Read {
            flag: self.flag,
            path: self.path.clone(),
            error,
        })
    }

    fn pem_error(&self, what: impl Into<String>) -> TlsError {
        TlsError::Pem {
            flag: self.flag,
            path: self.path.clone(),
            what: what.into(),
        }
    }

    fn cert_error(&self, what: impl Into<String>) -> TlsError {
        TlsError::Certificate {
            flag: self.flag,
            path: self.path.clone(),
            what: what.into(),
        }
    }
}

/// A certificate chain with its private key, checked to belong together.
#[derive(Debug)]
pub(super) struct KeyPair {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    /// The leaf, for log lines.
    pub leaf: LeafInfo,
}

/// What a log line says about a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LeafInfo {
    pub subject: String,
    pub serial: String,
    pub not_after: String,
}

impl std::fmt::Display for LeafInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "subject {}, serial {}, valid until {}",
            self.subject, self.serial, self.not_after
        )
    }
}

/// Reads `cert` (a chain, leaf first) and `key`, and checks that the leaf is valid at
/// `now` and that the key is the leaf's.
pub(super) fn load_key_pair(
    cert: &Named,
    key: &Named,
    provider: &CryptoProvider,
    now: SystemTime,
) -> Result<KeyPair, TlsError> {
    let chain = read_certs(cert, "certificate")?;
    let leaf = check_validity(cert, &chain[0], now)?;
    let key_der = read_key(key)?;
    let signing_key = provider
        .key_provider
        .load_private_key(key_der.clone_key())
        .map_err(|e| TlsError::Key {
            flag: key.flag,
            path: key.path.clone(),
            what: format!("unusable private key: {e}"),
        })?;
    match CertifiedKey::new(chain.clone(), signing_key).keys_match() {
        // Unknown: the provider cannot derive this key type's public half; the first
        // handshake will fail instead if they differ.
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => {
            return Err(TlsError::Key {
                flag: key.flag,
                path: key.path.clone(),
                what: format!(
                    "the private key does not match the certificate in {}",
                    cert.describe()
                ),
            })
        }
        Err(e) => return Err(cert.cert_error(format!("unusable certificate: {e}"))),
    }
    Ok(KeyPair {
        chain,
        key: key_der,
        leaf,
    })
}

/// Reads a CA bundle into a root store; every certificate in it must be valid at `now`
/// (an expired CA would fail every handshake it is meant to allow).
pub(super) fn load_roots(ca: &Named, now: SystemTime) -> Result<Arc<RootCertStore>, TlsError> {
    let certs = read_certs(ca, "CA certificate")?;
    let mut roots = RootCertStore::empty();
    for (i, der) in certs.into_iter().enumerate() {
        check_validity(ca, &der, now)?;
        roots.add(der).map_err(|e| {
            ca.cert_error(format!(
                "certificate {} of the file cannot be a trust anchor: {e}",
                i + 1
            ))
        })?;
    }
    Ok(Arc::new(roots))
}

/// Every certificate in the file (at least one).
fn read_certs(file: &Named, kind: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = file.read()?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file.pem_error(format!("not valid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(file.pem_error(format!(
            "no {kind} in the file (expected a PEM \"BEGIN CERTIFICATE\" block)"
        )));
    }
    Ok(certs)
}

/// The first private key in the file.
fn read_key(file: &Named) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = file.read()?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => file.pem_error(
            "no private key in the file (expected a PEM \"BEGIN PRIVATE KEY\", \
             \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)",
        ),
        e => file.pem_error(format!("not valid PEM: {e}")),
    })
}

/// Parses `der` and checks that `now` is inside its validity period.
fn check_validity(
    file: &Named,
    der: &CertificateDer<'_>,
    now: SystemTime,
) -> Result<LeafInfo, TlsError> {
    let (_, cert) = X509Certificate::from_der(der.as_ref())
        .map_err(|e| file.cert_error(format!("not a valid X.509 certificate: {e}")))?;
    let info = LeafInfo {
        subject: cert.subject().to_string(),
        serial: cert.raw_serial_as_string(),
        not_after: cert.validity().not_after.to_string(),
    };
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(_) => 0,
    };
    let validity = cert.validity();
    if now < validity.not_before.timestamp() {
        return Err(file.cert_error(format!(
            "certificate ({}, serial {}) is not valid yet: valid from {}",
            info.subject, info.serial, validity.not_before
        )));
    }
    if now > validity.not_after.timestamp() {
        return Err(file.cert_error(format!(
            "certificate ({}, serial {}) expired on {}",
            info.subject, info.serial, validity.not_after
        )));
    }
    Ok(info)
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        SanType,
    };

    use super::*;

    /// A CA that signs test certificates.
    pub struct TestCa {
        pub cert: rcgen::Certificate,
        pub key: KeyPair,
    }

    impl TestCa {
        pub fn new(name: &str) -> Self {
            let mut params = CertificateParams::default();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let key = KeyPair::generate().expect("key");
            let cert = params.self_signed(&key).expect("self-sign");
            Self { cert, key }
        }

        /// A leaf for `cn` with 127.0.0.1 and localhost SANs: (cert PEM, key PEM).
        pub fn leaf(
            &self,
            cn: &str,
            configure: impl FnOnce(&mut CertificateParams),
        ) -> (String, String) {
            let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            configure(&mut params);
            let key = KeyPair::generate().expect("key");
            let cert = params.signed_by(&key, &self.cert, &self.key).expect("sign");
            (cert.pem(), key.serialize_pem())
        }
    }

    fn provider() -> CryptoProvider {
        (*crate::tls::material::provider()).clone()
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn pair(dir: &Path, cert: &str, key: &str) -> Result<super::KeyPair, TlsError> {
        load_key_pair(
            &Named::new("--tls-cert", &write(dir, "cert.pem", cert)),
            &Named::new("--tls-key", &write(dir, "key.pem", key)),
            &provider(),
            SystemTime::now(),
        )
    }

    #[test]
    fn a_matching_valid_pair_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new("test CA");
        let (cert, key) = ca.leaf("member-1", |_| {});
        let loaded = pair(dir.path(), &cert, &key).expect("loads");
        assert!(
            loaded.leaf.subject.contains("member-1"),
            "{:?}",
            loaded.leaf
        );
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new("test CA");
        let (cert, _) = ca.leaf("a", |_| {});
        let (_, other_key) = ca.leaf("b", |_| {});
        let err = pair(dir.path(), &cert, &other_key)
            .expect_err("refused")
            .to_string();
        assert!(
            err.starts_with("--tls-key ")
                && err.contains("key.pem")
                && err.contains("does not match")
                && err.contains("--tls-cert ")
                && err.contains("cert.pem"),
            "{err}"
        );
    }

    #[test]
    fn an_expired_or_future_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new("test CA");
        let (cert, key) = ca.leaf("old", |p| {
            p.not_before = rcgen::date_time_ymd(2019, 1, 1);
            p.not_after = rcgen::date_time_ymd(2020, 1, 1);
        });
        let err = pair(dir.path(), &cert, &key)
            .expect_err("refused")
            .to_string();
        assert!(
            err.starts_with("--tls-cert ") && err.contains("expired on"),
            "{err}"
        );
        let (cert, key) = ca.leaf("future", |p| {
            p.not_before = rcgen::date_time_ymd(2999, 1, 1);
            p.not_after = rcgen::date_time_ymd(3000, 1, 1);
        });
        let err = pair(dir.path(), &cert, &key)
            .expect_err("refused")
            .to_string();
        assert!(err.contains("not valid yet"), "{err}");
    }

    #[test]
    fn missing_empty_and_swapped_files_are_refused_with_their_flag() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new("test CA");
        let (cert, key) = ca.leaf("a", |_| {});
        let missing = load_key_pair(
            &Named::new("--peer-tls-cert", &dir.path().join("nope.pem")),
            &Named::new("--peer-tls-key", &write(dir.path(), "key.pem", &key)),
            &provider(),
            SystemTime::now(),
        )
        .expect_err("refused")
        .to_string();
        assert!(
            missing.starts_with("--peer-tls-cert ") && missing.contains("nope.pem"),
            "{missing}"
        );
        let empty = pair(dir.path(), "", &key).expect_err("refused").to_string();
        assert!(empty.contains("no certificate in the file"), "{empty}");
        // The key given as the certificate and the certificate as the key.
        let swapped = pair(dir.path(), &key, &cert)
            .expect_err("refused")
            .to_string();
        assert!(swapped.starts_with("--tls-cert "), "{swapped}");
        let no_key = pair(dir.path(), &cert, &cert)
            .expect_err("refused")
            .to_string();
        assert!(
            no_key.starts_with("--tls-key ") && no_key.contains("no private key"),
            "{no_key}"
        );
        let garbage = pair(
            dir.path(),
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
            &key,
        )
        .expect_err("refused")
        .to_string();
        assert!(garbage.starts_with("--tls-cert "), "{garbage}");
    }

    #[test]
    fn a_ca_bundle_needs_a_certificate_in_its_validity_period() {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = TestCa::new("test CA");
        let good = write(dir.path(), "ca.pem", &ca.cert.pem());
        assert_eq!(
            load_roots(&Named::new("--peer-tls-ca", &good), SystemTime::now())
                .expect("loads")
                .len(),
            1
        );
        let later = SystemTime::now() + Duration::from_secs(3600 * 24 * 365 * 5000);
        let err = load_roots(&Named::new("--peer-tls-ca", &good), later)
            .expect_err("expired")
            .to_string();
        assert!(
            err.starts_with("--peer-tls-ca ") && err.contains("expired"),
            "{err}"
        );
        let empty = write(dir.path(), "empty.pem", "");
        let err = load_roots(&Named::new("--tls-client-ca", &empty), SystemTime::now())
            .expect_err("empty")
            .to_string();
        assert!(
            err.starts_with("--tls-client-ca ") && err.contains("no CA certificate"),
            "{err}"
        );
    }
}
