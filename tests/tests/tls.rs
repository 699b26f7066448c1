//! TLS against real `corral` processes, with certificates made in the test: the client
//! port refuses plaintext and, with `--tls-client-ca`, clients without a certificate the
//! CA signed; the HTTP port serves the same certificate; grpcurl works over TLS and mTLS
//! (reflection included); a peer-mTLS cluster keeps a member with another CA's
//! certificate out (no vote, no log, no snapshot) and its members log why, while a
//! member with a right certificate joins; certificates rotate under load (on a file
//! change and on SIGHUP) without an error on established connections; bad TLS settings
//! stop the start with a message naming the flag and the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use corral_proto::v1 as pb;
use corral_tests::{Cluster, NodeConfig, Ports, Server};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_stream::StreamExt;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

// ---- certificates -------------------------------------------------------------------

/// A certificate authority made for one test.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, as PEM, and the certificate's DER (what a handshake shows).
#[derive(Clone)]
struct Leaf {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

impl Ca {
    fn new(name: &str) -> Result<Ca> {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(Ca { cert, key })
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A certificate for `cn`, naming localhost and 127.0.0.1, good for serving and
    /// for client authentication; `configure` may change anything first.
    fn issue(&self, cn: &str, configure: impl FnOnce(&mut CertificateParams)) -> Result<Leaf> {
        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        configure(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().to_vec(),
        })
    }
}

/// Files of certificates and keys, in a temporary directory.
struct Files {
    dir: TempDir,
}

impl Files {
    fn new() -> Result<Files> {
        Ok(Files {
            dir: tempfile::Builder::new().prefix("corral-tls-").tempdir()?,
        })
    }

    fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// Writes `leaf` as `<name>.crt` and `<name>.key`.
    fn leaf(&self, name: &str, leaf: &Leaf) -> Result<(PathBuf, PathBuf)> {
        Ok((
            self.write(&format!("{name}.crt"), &leaf.cert_pem)?,
            self.write(&format!("{name}.key"), &leaf.key_pem)?,
        ))
    }
}

fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// `--tls-cert CERT --tls-key KEY`.
fn tls_flags(cert: &Path, key: &Path) -> Vec<String> {
    vec!["--tls-cert".into(), arg(cert), "--tls-key".into(), arg(key)]
}

/// `--peer-tls-cert CERT --peer-tls-key KEY --peer-tls-ca CA`.
fn peer_flags(cert: &Path, key: &Path, ca: &Path) -> Vec<String> {
    vec![
        "--peer-tls-cert".into(),
        arg(cert),
        "--peer-tls-key".into(),
        arg(key),
        "--peer-tls-ca".into(),
        arg(ca),
    ]
}

/// A gRPC client's TLS trusting `ca_pem` (one or more PEM certificates).
fn trusting(ca_pem: &str) -> ClientTlsConfig {
    ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca_pem))
}

/// ... presenting `leaf` as its client certificate.
fn presenting(tls: ClientTlsConfig, leaf: &Leaf) -> ClientTlsConfig {
    tls.identity(Identity::from_pem(&leaf.cert_pem, &leaf.key_pem))
}

// ---- servers and calls --------------------------------------------------------------

/// A single member started with `extra_args`, reached over TLS with `tls` until it
/// serves linearizable reads.
async fn start_tls_server(extra_args: Vec<String>, tls: ClientTlsConfig) -> Result<Server> {
    let mut config = NodeConfig::single()?;
    config.extra_args = extra_args;
    let mut server = Server::create(config)?.with_client_tls(tls);
    server.respawn()?;
    server.wait_ready().await?;
    Ok(server)
}

/// A new connection to the member's client port over TLS.
async fn tls_channel(server: &Server, tls: ClientTlsConfig) -> Result<Channel> {
    Ok(
        Endpoint::from_shared(format!("https://{}", server.client_addr()))?
            .tls_config(tls)?
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .connect()
            .await?,
    )
}

/// A linearizable `Get("/")` on a new connection: Ok if the member served it.
async fn get_root_over(server: &Server, tls: Option<ClientTlsConfig>) -> Result<()> {
    let channel = match tls {
        Some(tls) => tls_channel(server, tls).await?,
        None => {
            Endpoint::from_shared(format!("http://{}", server.client_addr()))?
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(5))
                .connect()
                .await?
        }
    };
    pb::kv_client::KvClient::new(channel)
        .get(pb::GetRequest {
            path: "/".into(),
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// The crypto provider of the raw handshakes below: ring, as the server and tonic use.
/// (rustls 0.23.48 deprecated it for lacking post-quantum key exchange, which these
/// tests do not need.)
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration trusting `ca_pems`, offering `alpn`, presenting
/// `identity` if given.
fn raw_client_config(
    ca_pems: &[&str],
    identity: Option<&Leaf>,
    alpn: &[u8],
) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for pem in ca_pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert?)?;
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some(leaf) => builder.with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(leaf.cert_pem.as_bytes())?],
            PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes())?,
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(Arc::new(config))
}

/// A TLS handshake with 127.0.0.1:`port` on a new connection.
async fn handshake(
    port: u16,
    config: Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let tls = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .context("handshake timed out")??;
    Ok(tls)
}

/// The certificate a new connection to 127.0.0.1:`port` is served, and the negotiated
/// ALPN protocol.
async fn served_certificate(
    port: u16,
    config: Arc<rustls::ClientConfig>,
) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    let tls = handshake(port, config).await?;
    let (_, session) = tls.get_ref();
    let leaf = session
        .peer_certificates()
        .and_then(|c| c.first())
        .context("no server certificate")?
        .to_vec();
    Ok((leaf, session.alpn_protocol().map(<[u8]>::to_vec)))
}

/// `GET path` over HTTPS/1.1 on 127.0.0.1:`port`: the status code and body.
async fn https_get(
    port: u16,
    config: Arc<rustls::ClientConfig>,
    path: &str,
) -> Result<(u16, String)> {
    let mut tls = handshake(port, config).await?;
    let exchange = async {
        tls.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut response = Vec::new();
        tls.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .context("HTTPS request timed out")??;
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .with_context(|| format!("malformed HTTP response: {text:?}"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .with_context(|| format!("malformed status line: {head:?}"))?;
    Ok((code, body.to_string()))
}

/// The member's whole log.
fn log_of(server: &Server) -> String {
    std::fs::read_to_string(server.log_path()).unwrap_or_default()
}

// ---- client port and HTTP port ------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_clients_are_refused_on_a_tls_client_port_and_clients_trusting_the_ca_are_served(
) -> Result<()> {
    let files = Files::new()?;
    let ca = Ca::new("corral test CA")?;
    let (cert, key) = files.leaf("server", &ca.issue("corral-1", |_| {})?)?;
    let server = start_tls_server(tls_flags(&cert, &key), trusting(&ca.pem())).await?;

    // Handshakes run side by side: clients that connect and then say nothing (or
    // send garbage) hold only their own handshake, never the accept loop, and a real
    // client is served meanwhile (well within the 10 s a handshake may take).
    let client_addr = SocketAddr::from(([127, 0, 0, 1], server.ports().client));
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(tokio::net::TcpStream::connect(client_addr).await?);
    }
    let mut garbage = tokio::net::TcpStream::connect(client_addr).await?;
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3])
        .await?;
    let started = Instant::now();
    get_root_over(&server, Some(trusting(&ca.pem()))).await?;
    ensure!(
        started.elapsed() < Duration::from_secs(3),
        "a TLS client waited {:?} behind silent connections",
        started.elapsed()
    );
    drop((silent, garbage));

    let plain = get_root_over(&server, None).await;
    ensure!(plain.is_err(), "a plaintext Get was served on a TLS port");
    let stranger = Ca::new("another CA")?;
    let untrusted = get_root_over(&server, Some(trusting(&stranger.pem()))).await;
    ensure!(
        untrusted.is_err(),
        "a client that does not trust the server's CA got an answer"
    );

    // gRPC port: h2 by ALPN (grpc-go insists). HTTP port: the same certificate,
    // http/1.1, and nothing for plaintext.
    let (served, alpn) = served_certificate(
        server.ports().client,
        raw_client_config(&[&ca.pem()], None, b"h2")?,
    )
    .await?;
    ensure!(
        served == ca_leaf_der(&cert)?,
        "the client port serves --tls-cert"
    );
    ensure!(alpn.as_deref() == Some(&b"h2"[..]), "ALPN {alpn:?}");
    let http_config = raw_client_config(&[&ca.pem()], None, b"http/1.1")?;
    let (served, alpn) = served_certificate(server.ports().http, http_config.clone()).await?;
    ensure!(
        served == ca_leaf_der(&cert)?,
        "the HTTP port serves --tls-cert"
    );
    ensure!(alpn.as_deref() == Some(&b"http/1.1"[..]), "ALPN {alpn:?}");
    let (code, body) = https_get(server.ports().http, http_config, "/readyz").await?;
    ensure!(code == 200 && body.contains("ok"), "{code} {body}");
    ensure!(
        server.http_get("/readyz").await.is_err(),
        "plain HTTP was answered on a TLS HTTP port"
    );
    let log = log_of(&server);
    ensure!(
        log.contains("client TLS handshake from 127.0.0.1:")
            && log.contains("refused: not a TLS handshake (a plaintext client?)"),
        "the refused plaintext client is not in the log:\n{log}"
    );
    Ok(())
}

/// The DER of the certificate in a PEM file.
fn ca_leaf_der(cert: &Path) -> Result<Vec<u8>> {
    Ok(CertificateDer::from_pem_file(cert)?.to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_client_ca_only_clients_presenting_a_certificate_it_signed_are_served() -> Result<()>
{
    let files = Files::new()?;
    let server_ca = Ca::new("corral server CA")?;
    let client_ca = Ca::new("corral client CA")?;
    let (cert, key) = files.leaf("server", &server_ca.issue("corral-1", |_| {})?)?;
    let client_ca_file = files.write("client-ca.crt", &client_ca.pem())?;
    let alice = client_ca.issue("alice", |_| {})?;
    let mut flags = tls_flags(&cert, &key);
    flags.extend(["--tls-client-ca".into(), arg(&client_ca_file)]);
    let server = start_tls_server(flags, presenting(trusting(&server_ca.pem()), &alice)).await?;

    get_root_over(
        &server,
        Some(presenting(trusting(&server_ca.pem()), &alice)),
    )
    .await?;
    let anonymous = get_root_over(&server, Some(trusting(&server_ca.pem()))).await;
    ensure!(
        anonymous.is_err(),
        "a client without a certificate was served"
    );
    let mallory = Ca::new("another CA")?.issue("mallory", |_| {})?;
    let foreign = get_root_over(
        &server,
        Some(presenting(trusting(&server_ca.pem()), &mallory)),
    )
    .await;
    ensure!(
        foreign.is_err(),
        "a client whose certificate another CA signed was served"
    );

    // The HTTP port asks for the same client certificates.
    let (code, _) = https_get(
        server.ports().http,
        raw_client_config(&[&server_ca.pem()], Some(&alice), b"http/1.1")?,
        "/livez",
    )
    .await?;
    ensure!(code == 200, "HTTPS with a client certificate: {code}");
    let anonymous = https_get(
        server.ports().http,
        raw_client_config(&[&server_ca.pem()], None, b"http/1.1")?,
        "/livez",
    )
    .await;
    ensure!(
        anonymous.is_err(),
        "HTTPS without a client certificate answered: {anonymous:?}"
    );

    let log = log_of(&server);
    ensure!(
        log.contains("refused: no client certificate presented; --tls-client-ca requires one")
            && log.contains("refused: certificate not signed by --tls-client-ca (UnknownIssuer)"),
        "the refused clients are not in the log:\n{log}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_client_certificate_names_the_caller_once_auth_is_on() -> Result<()> {
    let files = Files::new()?;
    let ca = Ca::new("corral test CA")?;
    let (cert, key) = files.leaf("server", &ca.issue("corral-1", |_| {})?)?;
    let ca_file = files.write("ca.crt", &ca.pem())?;
    let root = presenting(trusting(&ca.pem()), &ca.issue("root", |_| {})?);
    // No CN: the first DNS SAN names the caller.
    let bob = presenting(
        trusting(&ca.pem()),
        &ca.issue("", |p| {
            p.distinguished_name = rcgen::DistinguishedName::new();
            p.subject_alt_names = vec![SanType::DnsName(
                "bob.example.net".try_into().expect("a DNS name"),
            )];
        })?,
    );
    let mut flags = tls_flags(&cert, &key);
    flags.extend(["--tls-client-ca".into(), arg(&ca_file)]);
    let server = start_tls_server(flags, root.clone()).await?;

    let as_root = tls_channel(&server, root).await?;
    let mut auth = pb::auth_client::AuthClient::new(as_root.clone());
    auth.user_add(pb::AuthUserAddRequest {
        name: "root".into(),
        password: "a root password".into(),
    })
    .await?;
    auth.enable(pb::AuthEnableRequest {}).await?;
    // No token anywhere below: the certificate alone says who calls.
    let status = auth.status(pb::AuthStatusRequest {}).await?.into_inner();
    ensure!(status.enabled && status.user == "root", "{status:?}");
    pb::kv_client::KvClient::new(as_root)
        .create(pb::CreateRequest {
            path: "/made-by-root".into(),
            ..Default::default()
        })
        .await?;
    let as_bob = tls_channel(&server, bob).await?;
    let status = pb::auth_client::AuthClient::new(as_bob)
        .status(pb::AuthStatusRequest {})
        .await?
        .into_inner();
    ensure!(status.user == "bob.example.net", "{status:?}");
    Ok(())
}

// ---- grpcurl ------------------------------------------------------------------------

/// grpcurl: `$CORRAL_GRPCURL` (scripts/test.sh installs a pinned one and sets it), else
/// on PATH, else the clone's `.cache/gobin`. `None` when there is none, which fails the
/// test under CI (`CI=true`): there the test command has installed it.
fn grpcurl() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CORRAL_GRPCURL") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "CORRAL_GRPCURL={} is not a file",
            path.display()
        );
        return Some(path);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("grpcurl"))
            .find(|p| p.is_file())
    });
    let cached = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.cache/gobin/grpcurl");
    let found = on_path.or_else(|| cached.is_file().then_some(cached));
    if found.is_none() {
        let hint = "grpcurl not found: scripts/test.sh installs it (scripts/lib/go.sh, \
                    corral_install_grpcurl) and sets CORRAL_GRPCURL";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{hint}");
        eprintln!("skipping the grpcurl checks: {hint}");
    }
    found
}

/// Runs grpcurl with `args`: its exit success, stdout and stderr.
async fn run_grpcurl(grpcurl: &Path, args: &[&str]) -> Result<(bool, String, String)> {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(grpcurl)
            .args(["-connect-timeout", "3", "-max-time", "10"])
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("grpcurl ran for 30 s")??;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_services_and_calls_kv_over_tls_and_mtls() -> Result<()> {
    let Some(grpcurl) = grpcurl() else {
        return Ok(());
    };
    let files = Files::new()?;
    let ca = Ca::new("corral test CA")?;
    let ca_file = files.write("ca.crt", &ca.pem())?;
    let ca_arg = arg(&ca_file);
    let (cert, key) = files.leaf("server", &ca.issue("corral-1", |_| {})?)?;
    let (alice_cert, alice_key) = files.leaf("alice", &ca.issue("alice", |_| {})?)?;
    let (alice_cert, alice_key) = (arg(&alice_cert), arg(&alice_key));

    // TLS: -cacert is enough; reflection lists the services.
    let tls = start_tls_server(tls_flags(&cert, &key), trusting(&ca.pem())).await?;
    let target = tls.client_addr();
    let target = target.as_str();
    let (ok, out, err) = run_grpcurl(&grpcurl, &["-cacert", &ca_arg, target, "list"]).await?;
    ensure!(
        ok && out.contains("corral.v1.KV") && out.contains("grpc.health.v1.Health"),
        "grpcurl list over TLS: {out}{err}"
    );
    let (ok, out, err) = run_grpcurl(
        &grpcurl,
        &[
            "-cacert",
            &ca_arg,
            "-d",
            r#"{"path":"/"}"#,
            target,
            "corral.v1.KV/Get",
        ],
    )
    .await?;
    ensure!(
        ok && out.contains(r#""path": "/""#),
        "grpcurl KV/Get over TLS: {out}{err}"
    );
    let (ok, out, err) = run_grpcurl(&grpcurl, &["-plaintext", target, "list"]).await?;
    ensure!(
        !ok,
        "grpcurl -plaintext listed services on a TLS port: {out}{err}"
    );

    // mTLS: the client certificate is needed.
    let mut flags = tls_flags(&cert, &key);
    flags.extend(["--tls-client-ca".into(), ca_arg.clone()]);
    let mtls = start_tls_server(
        flags,
        presenting(trusting(&ca.pem()), &ca.issue("ready", |_| {})?),
    )
    .await?;
    let target = mtls.client_addr();
    let target = target.as_str();
    let with_cert: [&str; 6] = ["-cacert", &ca_arg, "-cert", &alice_cert, "-key", &alice_key];
    let (ok, out, err) =
        run_grpcurl(&grpcurl, &[&with_cert[..], &[target, "list"]].concat()).await?;
    ensure!(
        ok && out.contains("corral.v1.KV"),
        "grpcurl list over mTLS: {out}{err}"
    );
    let (ok, out, err) = run_grpcurl(
        &grpcurl,
        &[
            &with_cert[..],
            &[
                "-d",
                r#"{"path":"/mtls","data":"aGk="}"#,
                target,
                "corral.v1.KV/Create",
            ],
        ]
        .concat(),
    )
    .await?;
    ensure!(
        ok && out.contains("/mtls"),
        "grpcurl KV/Create over mTLS: {out}{err}"
    );
    let (ok, out, err) = run_grpcurl(
        &grpcurl,
        &[
            &with_cert[..],
            &["-d", r#"{"path":"/mtls"}"#, target, "corral.v1.KV/Get"],
        ]
        .concat(),
    )
    .await?;
    ensure!(
        ok && out.contains(r#""data": "aGk=""#),
        "grpcurl KV/Get over mTLS: {out}{err}"
    );
    let (ok, out, err) = run_grpcurl(&grpcurl, &["-cacert", &ca_arg, target, "list"]).await?;
    ensure!(
        !ok,
        "grpcurl without a client certificate listed services on an mTLS port: {out}{err}"
    );
    Ok(())
}

// ---- peers --------------------------------------------------------------------------

/// Each member's (term, leader) as it reports them.
async fn terms(cluster: &Cluster) -> Result<Vec<(u64, u64, Option<u64>)>> {
    let mut out = Vec::new();
    for id in cluster.ids() {
        let s = cluster.status(id).await?;
        out.push((id, s.raft_term, s.leader_id));
    }
    Ok(out)
}

/// Writes through `client` until `stop`; the number written, or the first error.
async fn write_until(
    client: corral_client::Client,
    prefix: &str,
    stop: Arc<AtomicBool>,
) -> Result<u64> {
    client.create(prefix, "", None).await?;
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        client
            .create(format!("{prefix}/n{n}"), n.to_string(), None)
            .await
            .with_context(|| format!("write {n} under {prefix}"))?;
        n += 1;
    }
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_with_a_certificate_from_another_ca_cannot_join_or_disturb_a_peer_tls_cluster(
) -> Result<()> {
    let files = Files::new()?;
    let ca = Ca::new("corral peer CA")?;
    let ca_file = files.write("peer-ca.crt", &ca.pem())?;
    let (cert, key) = files.leaf("member", &ca.issue("corral-member", |_| {})?)?;
    let flags = peer_flags(&cert, &key, &ca_file);
    let flag_refs: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut cluster = Cluster::start_with(3, &flag_refs).await?;
    let leader = cluster.wait_leader().await?;
    let before = terms(&cluster).await?;

    // The members' peer port refuses a plaintext call before it reaches the service
    // (which would answer a malformed message with INVALID_ARGUMENT).
    let plain = Endpoint::from_shared(format!(
        "http://127.0.0.1:{}",
        cluster.member(leader).ports().peer
    ))?
    .connect_timeout(Duration::from_secs(2))
    .timeout(Duration::from_secs(5))
    .connect_lazy();
    let refused = corral_proto::raft::raft_client::RaftClient::new(plain)
        .vote(corral_proto::raft::RaftMessage::default())
        .await;
    match refused {
        Ok(_) => bail!("a plaintext peer call was answered on a peer-TLS port"),
        Err(status) => ensure!(
            !matches!(
                status.code(),
                tonic::Code::InvalidArgument | tonic::Code::FailedPrecondition
            ),
            "a plaintext peer call reached the peer service: {status:?}"
        ),
    }

    // An intruder with a certificate from another CA, which trusts the cluster's CA (so
    // the members' certificates pass on its side) and claims a place in the initial
    // cluster: it campaigns, and its vote requests must not reach any member.
    let other_ca = Ca::new("an intruder's CA")?;
    let (bad_cert, bad_key) = files.leaf("intruder", &other_ca.issue("corral-member", |_| {})?)?;
    let both_cas = files.write("both-cas.crt", &format!("{}{}", ca.pem(), other_ca.pem()))?;
    let ports = Ports::allocate()?;
    let mut initial: Vec<String> = cluster
        .ids()
        .into_iter()
        .map(|id| format!("{id}=127.0.0.1:{}", cluster.member(id).ports().peer))
        .collect();
    initial.push(format!("4=127.0.0.1:{}", ports.peer));
    let intruder = Server::spawn(NodeConfig {
        node_id: 4,
        ports,
        initial_cluster: Some(initial.join(",")),
        extra_args: peer_flags(&bad_cert, &bad_key, &both_cas),
    })?;

    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn(write_until(
        cluster.client_all(leader).await?,
        "/peer-tls",
        stop.clone(),
    ));
    // Several of the intruder's election timeouts (at most 1.5 s each).
    tokio::time::sleep(Duration::from_secs(8)).await;
    stop.store(true, Ordering::SeqCst);
    let written = writer.await??;
    ensure!(
        written > 0,
        "no write completed while the intruder campaigned"
    );
    let after = terms(&cluster).await?;
    ensure!(
        before == after,
        "the intruder changed the cluster's terms or leader: {before:?} -> {after:?}"
    );
    let (code, body) = intruder.http_get("/readyz").await?;
    ensure!(code == 503, "the intruder found a leader: {code} {body}");
    for id in cluster.ids() {
        let log = log_of(cluster.member(id));
        let lines = log
            .lines()
            .filter(|l| {
                l.contains("peer TLS handshake from 127.0.0.1:")
                    && l.contains(
                        "refused: certificate not signed by --peer-tls-ca (UnknownIssuer)",
                    )
            })
            .count();
        // Once per address and reason per 30 s, though the intruder kept calling.
        ensure!(
            lines == 1,
            "member {id} logged the refused intruder {lines} times (want once):\n{log}"
        );
    }
    drop(intruder);

    // Another intruder, started to join and then added by MemberAdd: the leader cannot
    // reach it (its certificate is not the cluster CA's), so it gets no entry and no
    // snapshot.
    let ports = Ports::allocate()?;
    let joiner = Server::spawn(NodeConfig {
        node_id: 4,
        ports,
        initial_cluster: None,
        extra_args: [
            peer_flags(
                &bad_cert,
                &bad_key,
                &files.write("other-ca.crt", &other_ca.pem())?,
            ),
            vec!["--join".into()],
        ]
        .concat(),
    })?;
    // Listening before it is added: the leader's first failed call to it (the one
    // logged) is then the handshake, not a refused connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(joiner.http_get("/livez").await, Ok((200, _))) {
        ensure!(
            Instant::now() < deadline,
            "the joining intruder does not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let admin = cluster.client_all(leader).await?;
    admin
        .member_add(4, format!("127.0.0.1:{}", ports.peer))
        .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let joiner_status = joiner.client().await?.status().await?;
    ensure!(
        joiner_status.applied_index == 0
            && joiner_status.snapshot_installs == 0
            && joiner_status.leader_id.is_none(),
        "the intruder added as a learner received something: {joiner_status:?}"
    );
    let leader_log = log_of(cluster.member(cluster.wait_leader().await?));
    ensure!(
        leader_log.contains("member 4 at 127.0.0.1:")
            && leader_log
                .contains("its certificate is not signed by --peer-tls-ca (UnknownIssuer)"),
        "the leader does not say why it cannot reach the intruder:\n{leader_log}"
    );
    admin.member_remove(4).await?;
    drop(joiner);
    let after = terms(&cluster).await?;
    ensure!(
        after.iter().map(|(_, term, _)| term).collect::<Vec<_>>()
            == before.iter().map(|(_, term, _)| term).collect::<Vec<_>>(),
        "terms changed: {before:?} -> {after:?}"
    );

    // A member with a certificate the cluster's CA signed joins and catches up.
    let peer_addr = cluster.add_learner_process(5)?;
    admin.member_add(5, peer_addr).await?;
    let commit = cluster
        .status(cluster.wait_leader().await?)
        .await?
        .commit_index;
    let learner = cluster.wait_applied(5, commit).await?;
    ensure!(
        learner.is_learner && learner.applied_index >= commit,
        "{learner:?}"
    );
    Ok(())
}

// ---- rotation -----------------------------------------------------------------------

/// PEM files padded to this length (PEM parsers skip text outside the blocks), so that
/// a certificate can be rewritten in place at the same length: then only SIGHUP, not
/// the file poll, can tell it changed.
const PADDED: usize = 4096;

fn padded(pem: &str) -> Result<String> {
    ensure!(pem.len() < PADDED, "PEM longer than {PADDED}");
    Ok(format!("{pem}{}", "\n".repeat(PADDED - pem.len())))
}

/// Replaces `path` by a rename (a new inode), as deployment tools do.
fn replace(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Rewrites `path` in place with `text` of the same length and gives it back its
/// modification time: same inode, length and mtime, so the file poll sees no change.
fn rewrite_unnoticed(path: &Path, text: &str) -> Result<()> {
    let meta = std::fs::metadata(path)?;
    ensure!(meta.len() == text.len() as u64, "length must not change");
    std::fs::write(path, text)?;
    std::fs::File::options()
        .write(true)
        .open(path)?
        .set_modified(meta.modified()?)?;
    Ok(())
}

/// Waits up to `within` for new connections to be served `want`.
async fn wait_served(
    port: u16,
    config: &Arc<rustls::ClientConfig>,
    want: &[u8],
    within: Duration,
) -> Result<Duration> {
    let start = Instant::now();
    loop {
        let (served, _) = served_certificate(port, config.clone()).await?;
        if served == want {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            bail!("new connections still get the old certificate after {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_rotate_under_load_without_an_error_and_new_connections_see_the_new_one(
) -> Result<()> {
    let files = Files::new()?;
    let old_ca = Ca::new("corral CA 2026")?;
    let new_ca = Ca::new("corral CA 2027")?;
    let first = old_ca.issue("corral-a", |_| {})?;
    let second = new_ca.issue("corral-b", |_| {})?;
    let third = new_ca.issue("corral-c", |_| {})?;
    let cert = files.write("server.crt", &padded(&first.cert_pem)?)?;
    let key = files.write("server.key", &padded(&first.key_pem)?)?;
    let both = format!("{}{}", old_ca.pem(), new_ca.pem());
    let server = start_tls_server(tls_flags(&cert, &key), trusting(&both)).await?;
    let port = server.ports().client;
    let raw = raw_client_config(&[&old_ca.pem(), &new_ca.pem()], None, b"h2")?;
    ensure!(served_certificate(port, raw.clone()).await?.0 == first.der);

    // One connection: a watch stream and a writer on it, through the rotation.
    let channel = tls_channel(&server, trusting(&both)).await?;
    pb::kv_client::KvClient::new(channel.clone())
        .create(pb::CreateRequest {
            path: "/rotate".into(),
            ..Default::default()
        })
        .await?;
    let (watch_tx, watch_rx) = tokio::sync::mpsc::channel(16);
    watch_tx
        .send(pb::WatchRequest {
            request: Some(pb::watch_request::Request::Create(pb::WatchCreateRequest {
                path: "/rotate".into(),
                scope: pb::watch_create_request::Scope::Subtree as i32,
                ..Default::default()
            })),
        })
        .await?;
    let mut events = pb::watch_client::WatchClient::new(channel.clone())
        .watch(tokio_stream::wrappers::ReceiverStream::new(watch_rx))
        .await?
        .into_inner();
    // Why the traffic stopped, if it did.
    let failure = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let note = |failure: &Arc<std::sync::Mutex<Vec<String>>>, what: String| {
        failure.lock().unwrap_or_else(|e| e.into_inner()).push(what);
    };
    let seen = Arc::new(AtomicU64::new(0));
    let watcher = {
        let (seen, failure) = (seen.clone(), failure.clone());
        tokio::spawn(async move {
            while let Some(response) = events.next().await {
                match response {
                    Ok(r) => seen.fetch_add(r.events.len() as u64, Ordering::SeqCst),
                    Err(e) => return note(&failure, format!("the watch stream failed: {e:?}")),
                };
            }
            note(&failure, "the watch stream ended".into());
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, written, failure) = (stop.clone(), written.clone(), failure.clone());
        let mut kv = pb::kv_client::KvClient::new(channel);
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let n = written.load(Ordering::SeqCst);
                let put = kv
                    .put(pb::PutRequest {
                        path: "/rotate/k".into(),
                        data: n.to_string().into_bytes(),
                        create_if_missing: true,
                        ..Default::default()
                    })
                    .await;
                if let Err(e) = put {
                    return note(&failure, format!("write {n} failed: {e:?}"));
                }
                written.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let progress = |what: &str| {
        let (w, s) = (written.load(Ordering::SeqCst), seen.load(Ordering::SeqCst));
        eprintln!("{what}: {w} writes, {s} events");
        (w, s)
    };
    let failed = || failure.lock().unwrap_or_else(|e| e.into_inner()).clone();
    tokio::time::sleep(Duration::from_secs(1)).await;
    progress("before rotation");

    // A half-written certificate is not taken: the old one stays in use.
    std::fs::write(&cert, &first.cert_pem[..first.cert_pem.len() / 2])?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    ensure!(
        served_certificate(port, raw.clone()).await?.0 == first.der,
        "a broken certificate file replaced the working one"
    );
    let log = log_of(&server);
    ensure!(
        log.contains("TLS material of the client and HTTP ports not reloaded (a file changed), keeping the previous one: --tls-cert"),
        "the failed reload is not logged:\n{log}"
    );

    // Rotation: new files (a new CA, which the clients already trust).
    replace(&key, &padded(&second.key_pem)?)?;
    replace(&cert, &padded(&second.cert_pem)?)?;
    let took = wait_served(port, &raw, &second.der, Duration::from_secs(10)).await?;
    eprintln!("new connections got the new certificate {took:?} after the files changed");
    let (w0, s0) = progress("at rotation");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (w1, s1) = progress("after rotation");
    ensure!(
        w1 > w0 && s1 > s0 && failed().is_empty(),
        "traffic on the established connection stopped: {:?}",
        failed()
    );

    // SIGHUP: a rewrite the file poll cannot see is picked up on the signal.
    rewrite_unnoticed(&key, &padded(&third.key_pem)?)?;
    rewrite_unnoticed(&cert, &padded(&third.cert_pem)?)?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    ensure!(
        served_certificate(port, raw.clone()).await?.0 == second.der,
        "the unnoticed rewrite was picked up without SIGHUP: the test shows nothing"
    );
    ensure!(failed().is_empty(), "traffic stopped: {:?}", failed());
    let pid = libc::pid_t::try_from(server.pid().context("server not running")?)?;
    // SAFETY: kill(2) has no memory effects; the server process is our live child.
    ensure!(
        unsafe { libc::kill(pid, libc::SIGHUP) } == 0,
        "kill -HUP failed"
    );
    wait_served(port, &raw, &third.der, Duration::from_secs(5)).await?;

    stop.store(true, Ordering::SeqCst);
    writer.await?;
    let (w2, s2) = progress("end");
    ensure!(
        w2 > w1 && s2 > s1 && failed().is_empty(),
        "the connection stopped working after SIGHUP: {:?}",
        failed()
    );
    watcher.abort();
    let log = log_of(&server);
    ensure!(
        log.contains("reloaded (a file changed); new handshakes use subject CN=corral-b")
            && log.contains("reloaded (SIGHUP); new handshakes use subject CN=corral-c"),
        "the reloads are not logged:\n{log}"
    );
    Ok(())
}

// ---- start-up checks ----------------------------------------------------------------

/// Runs `corral serve` with `args` (and `env`) on free ports; it must exit non-zero
/// within 20 s. Returns what it printed on stderr.
async fn refused_start(args: &[String], env: &[(&str, &Path)]) -> Result<String> {
    let data = tempfile::tempdir()?;
    let ports = Ports::allocate()?;
    let addr = |p: u16| format!("127.0.0.1:{p}");
    let mut command = tokio::process::Command::new(corral_tests::corral_bin()?);
    command
        .arg("serve")
        .args(["--data-dir", &arg(data.path())])
        .args(["--client-addr", &addr(ports.client)])
        .args(["--peer-addr", &addr(ports.peer)])
        .args(["--http-addr", &addr(ports.http)])
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("CORRAL_")) {
            command.env_remove(key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let out = tokio::time::timeout(Duration::from_secs(20), command.output())
        .await
        .with_context(|| format!("corral serve {args:?} did not exit: it started"))??;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    ensure!(
        !out.status.success(),
        "corral serve {args:?} exited successfully: {stderr}"
    );
    Ok(stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tls_settings_stop_the_start_with_the_flag_and_the_file_named() -> Result<()> {
    let files = Files::new()?;
    let ca = Ca::new("corral test CA")?;
    let ca_file = files.write("ca.crt", &ca.pem())?;
    let (cert, key) = files.leaf("good", &ca.issue("corral-1", |_| {})?)?;
    let (_, other_key) = files.leaf("other", &ca.issue("corral-2", |_| {})?)?;
    let (expired_cert, expired_key) = files.leaf(
        "expired",
        &ca.issue("corral-old", |p| {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2021, 1, 1);
        })?,
    )?;
    let missing = files.dir.path().join("missing.key");
    let not_pem = files.write("notes.txt", "this is not a certificate\n")?;
    let s = |p: &Path| arg(p);

    let cases: Vec<(Vec<String>, Vec<String>)> = vec![
        (
            tls_flags(&cert, &missing),
            vec!["--tls-key".into(), s(&missing)],
        ),
        (
            tls_flags(&cert, &other_key),
            vec![
                "--tls-key".into(),
                s(&other_key),
                "does not match the certificate in --tls-cert".into(),
                s(&cert),
            ],
        ),
        (
            tls_flags(&expired_cert, &expired_key),
            vec!["--tls-cert".into(), s(&expired_cert), "expired on".into()],
        ),
        (
            tls_flags(&not_pem, &key),
            vec![
                "--tls-cert".into(),
                s(&not_pem),
                "no certificate in the file".into(),
            ],
        ),
        (
            vec!["--tls-cert".into(), s(&cert)],
            vec!["tls-cert".into(), s(&cert), "needs tls-key".into()],
        ),
        (
            vec!["--tls-key".into(), s(&key)],
            vec!["tls-key".into(), s(&key), "needs tls-cert".into()],
        ),
        (
            [
                tls_flags(&cert, &key),
                vec!["--tls-client-ca".into(), s(&key)],
            ]
            .concat(),
            vec![
                "--tls-client-ca".into(),
                s(&key),
                "no CA certificate".into(),
            ],
        ),
        (
            peer_flags(&cert, &other_key, &ca_file),
            vec![
                "--peer-tls-key".into(),
                s(&other_key),
                "does not match".into(),
            ],
        ),
        (
            peer_flags(&expired_cert, &expired_key, &ca_file),
            vec!["--peer-tls-cert".into(), s(&expired_cert), "expired".into()],
        ),
        (
            vec![
                "--peer-tls-cert".into(),
                s(&cert),
                "--peer-tls-key".into(),
                s(&key),
            ],
            vec!["peer-tls-cert".into(), "missing: peer-tls-ca".into()],
        ),
    ];
    for (args, want) in &cases {
        let stderr = refused_start(args, &[]).await?;
        for part in want {
            ensure!(
                stderr.contains(part.as_str()),
                "corral serve {args:?}: {part:?} not in its message: {stderr}"
            );
        }
    }
    // The same checks apply to the environment's settings.
    let stderr = refused_start(
        &[],
        &[("CORRAL_TLS_CERT", &cert), ("CORRAL_TLS_KEY", &other_key)],
    )
    .await?;
    ensure!(
        stderr.contains("--tls-key") && stderr.contains(&s(&other_key)),
        "{stderr}"
    );
    Ok(())
}
