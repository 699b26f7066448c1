//! Who a client is, by its certificate: on a client port with `--tls-client-ca`, every
//! connection presented a certificate the CA verified during the handshake, and its
//! subject's common name (or, without one, its first DNS or email SAN) is the client's
//! identity for authentication.

use rustls_pki_types::CertificateDer;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

/// The identity of the client that sent `request`: its verified certificate's subject
/// CN, else its first DNS or email SAN. `None` on a connection without a verified client
/// certificate (plaintext, or TLS without `--tls-client-ca`), or if the certificate
/// names nobody.
///
/// Works for requests served through [`super::Incoming`]: tonic puts the connection's
/// `TlsConnectInfo` (with the certificates rustls verified) in the request's extensions.
pub fn client_identity<T>(request: &tonic::Request<T>) -> Option<String> {
    let certs = request.peer_certs()?;
    certs.first().and_then(certificate_identity)
}

/// [`client_identity`] for an `http::Request`'s extensions, where a tower layer in
/// front of the gRPC services sees them (`server.rs` names the caller there for the
/// auth code).
pub fn connection_identity(extensions: &http::Extensions) -> Option<String> {
    let certs = extensions
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    certs.first().and_then(certificate_identity)
}

/// The identity a certificate names: its subject CN, else its first DNS or email SAN.
pub fn certificate_identity(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(cert.as_ref()).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .find_map(|cn| cn.as_str().ok())
        .filter(|cn| !cn.is_empty());
    if let Some(cn) = cn {
        return Some(cn.to_string());
    }
    let san = cert.subject_alternative_name().ok().flatten()?;
    san.value.general_names.iter().find_map(|name| match name {
        GeneralName::DNSName(n) | GeneralName::RFC822Name(n) if !n.is_empty() => {
            Some(n.to_string())
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rustls::server::WebPkiClientVerifier;
    use rustls::{ClientConfig, RootCertStore, ServerConfig};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{PrivateKeyDer, ServerName};
    use tokio::net::{TcpListener, TcpStream};
    use tonic::transport::server::Connected;

    use super::*;
    use crate::tls::files::tests::TestCa;

    fn cert(pem: &str) -> CertificateDer<'static> {
        CertificateDer::from_pem_slice(pem.as_bytes()).expect("cert pem")
    }

    fn key(pem: &str) -> PrivateKeyDer<'static> {
        PrivateKeyDer::from_pem_slice(pem.as_bytes()).expect("key pem")
    }

    #[test]
    fn the_identity_is_the_cn_else_the_first_dns_or_email_san() {
        let ca = TestCa::new("test CA");
        let (with_cn, _) = ca.leaf("alice", |_| {});
        assert_eq!(
            certificate_identity(&cert(&with_cn)).as_deref(),
            Some("alice")
        );
        let (no_cn, _) = ca.leaf("", |p| {
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.subject_alt_names = vec![
                rcgen::SanType::IpAddress([127, 0, 0, 1].into()),
                rcgen::SanType::Rfc822Name("bob@example.com".try_into().expect("email")),
                rcgen::SanType::DnsName("bob.example.com".try_into().expect("dns")),
            ];
        });
        assert_eq!(
            certificate_identity(&cert(&no_cn)).as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(
            certificate_identity(&CertificateDer::from(vec![1, 2, 3])),
            None
        );
    }

    /// A real mutual-TLS handshake over loopback; the server side's connection info
    /// goes into a request's extensions as tonic's server puts it there.
    #[tokio::test]
    async fn a_request_over_verified_mtls_carries_the_client_cn() {
        let provider = crate::tls::material::provider();
        let ca = TestCa::new("test CA");
        let (server_cert, server_key) = ca.leaf("server", |_| {});
        let (client_cert, client_key) = ca.leaf("carol", |_| {});
        let mut roots = RootCertStore::empty();
        roots.add(cert(&ca.cert.pem())).expect("root");
        let roots = Arc::new(roots);
        let server_config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .build()
                    .expect("verifier"),
            )
            .with_single_cert(vec![cert(&server_cert)], key(&server_key))
            .expect("server config");
        let client_config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(vec![cert(&client_cert)], key(&client_key))
            .expect("client config");

        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let client = tokio::spawn(async move {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            let name = ServerName::try_from("localhost").expect("name");
            tokio_rustls::TlsConnector::from(Arc::new(client_config))
                .connect(name, tcp)
                .await
                .expect("client handshake")
        });
        let (tcp, _) = listener.accept().await.expect("accept");
        let tls = tokio_rustls::TlsAcceptor::from(Arc::new(server_config))
            .accept(tcp)
            .await
            .expect("server handshake");
        let _client = client.await.expect("client task");

        let mut request = tonic::Request::new(());
        request.extensions_mut().insert(tls.connect_info());
        assert_eq!(client_identity(&request).as_deref(), Some("carol"));
        let mut http_request = http::Request::new(());
        http_request.extensions_mut().insert(tls.connect_info());
        assert_eq!(
            connection_identity(http_request.extensions()).as_deref(),
            Some("carol")
        );
        assert_eq!(connection_identity(&http::Extensions::new()), None);
        assert!(request.remote_addr().is_some());
        assert_eq!(client_identity(&tonic::Request::new(())), None, "no TLS");
    }
}
