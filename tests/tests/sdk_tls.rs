//! The Rust client and corralctl over TLS against real servers, with certificates
//! made in the test: `host:port` endpoints dialled over TLS once a CA is given, a
//! server the CA did not sign refused, the name verified overridable, and under mTLS
//! the client certificate's CN taken as the user (a token, if sent, wins).
//!
//! The server's side of TLS (rotation, peers, grpcurl) is in tls.rs.

mod sdk_common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use corral_client::{Client, ClientBuilder, Error};
use corral_tests::{NodeConfig, Server, READY_TIMEOUT};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, SanType,
};
use sdk_common::{corralctl_bin, TIMEOUT};
use tempfile::TempDir;

/// A certificate authority made for one test.
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

/// A certificate and its key, as PEM.
struct Leaf {
    cert_pem: String,
    key_pem: String,
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

    /// A certificate with subject CN `cn` for the DNS names `dns` (and 127.0.0.1 when
    /// `localhost` is among them), for serving and for client authentication.
    fn issue(&self, cn: &str, dns: &[&str]) -> Result<Leaf> {
        let mut params =
            CertificateParams::new(dns.iter().map(|d| d.to_string()).collect::<Vec<_>>())?;
        if dns.contains(&"localhost") {
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
        }
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// PEM files in a temporary directory.
struct Files(TempDir);

impl Files {
    fn new() -> Result<Files> {
        Ok(Files(
            tempfile::Builder::new()
                .prefix("corral-sdk-tls-")
                .tempdir()?,
        ))
    }

    fn write(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// `<name>.crt` and `<name>.key`.
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

/// A single member with `extra` flags, waited for with clients from `client` (the
/// harness's own readiness check speaks plaintext).
async fn start(extra: Vec<String>, client: impl Fn(String) -> ClientBuilder) -> Result<Server> {
    let mut config = NodeConfig::single()?;
    config.extra_args = extra;
    let mut server = Server::spawn(config)?;
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut last = String::from("no attempt");
    while Instant::now() < deadline {
        ensure!(
            server.is_running(),
            "the server exited: {}",
            server.log_tail(20)
        );
        let attempt = async {
            let c = client(server.client_addr())
                .timeout(Duration::from_secs(2))
                .connect_timeout(Duration::from_secs(1))
                .connect()
                .await?;
            c.get("/", None).await
        };
        match attempt.await {
            Ok(_) => return Ok(server),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("not ready over TLS: {last}\n{}", server.log_tail(20))
}

/// Whether `err` is a failed handshake or connection (what a bad certificate gives).
fn is_transport(err: &Error) -> bool {
    matches!(err, Error::Transport { .. })
}

#[tokio::test]
async fn host_port_endpoints_are_dialled_over_tls_and_unverified_servers_refused() -> Result<()> {
    let ca = Ca::new("test CA")?;
    let files = Files::new()?;
    let (cert, key) = files.leaf("server", &ca.issue("member", &["localhost"])?)?;
    let ca_pem = ca.pem();
    let server = start(
        vec![
            "--tls-cert".into(),
            arg(&cert),
            "--tls-key".into(),
            arg(&key),
        ],
        |addr| Client::builder([addr]).tls_ca_pem(ca_pem.clone()),
    )
    .await?;
    let addr = server.client_addr();
    let client = Client::builder([addr.clone()])
        .timeout(TIMEOUT)
        .tls_ca_file(files.write("ca.pem", &ca.pem())?)
        .connect()
        .await?;
    client.create("/over-tls", "yes", None).await?;
    assert_eq!(client.get("/over-tls", None).await?.node.data, b"yes");
    assert_eq!(client.endpoints(), std::slice::from_ref(&addr));
    // https:// is the same thing spelled out.
    Client::builder([format!("https://{addr}")])
        .tls_ca_pem(ca.pem())
        .connect()
        .await?
        .get("/", None)
        .await?;
    // A server the CA did not sign is refused at the handshake.
    let other = Ca::new("another CA")?;
    let err = Client::builder([addr.clone()])
        .tls_ca_pem(other.pem())
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .expect_err("unknown issuer");
    assert!(is_transport(&err), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    // A plaintext client gets nothing from a TLS port.
    let plain = async {
        Client::builder([addr.clone()])
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_secs(3))
            .connect()
            .await?
            .get("/", None)
            .await
    };
    let err = plain.await.expect_err("plaintext refused");
    assert!(
        is_transport(&err) || matches!(err, Error::Timeout { .. }),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn tls_domain_verifies_the_certificate_against_the_name_given() -> Result<()> {
    let ca = Ca::new("test CA")?;
    let files = Files::new()?;
    // Issued for a DNS name only: dialled by IP it does not match.
    let (cert, key) = files.leaf("server", &ca.issue("member", &["corral.test"])?)?;
    let ca_pem = ca.pem();
    let server = start(
        vec![
            "--tls-cert".into(),
            arg(&cert),
            "--tls-key".into(),
            arg(&key),
        ],
        |addr| {
            Client::builder([addr])
                .tls_ca_pem(ca_pem.clone())
                .tls_domain("corral.test")
        },
    )
    .await?;
    let err = Client::builder([server.client_addr()])
        .tls_ca_pem(ca.pem())
        .connect_timeout(Duration::from_secs(3))
        .connect()
        .await
        .expect_err("127.0.0.1 is not corral.test");
    assert!(is_transport(&err), "{err:?}");
    Client::builder([server.client_addr()])
        .tls_ca_pem(ca.pem())
        .tls_domain("corral.test")
        .connect()
        .await?
        .get("/", None)
        .await?;
    Ok(())
}

#[tokio::test]
async fn under_mtls_the_certificates_cn_is_the_user_and_a_token_wins() -> Result<()> {
    let ca = Ca::new("test CA")?;
    let files = Files::new()?;
    let (cert, key) = files.leaf("server", &ca.issue("member", &["localhost"])?)?;
    let ca_path = files.write("ca.pem", &ca.pem())?;
    let root = ca.issue("root", &[])?;
    let bob = ca.issue("bob", &[])?;
    let ca_pem = ca.pem();
    let (root_cert, root_key) = (root.cert_pem.clone(), root.key_pem.clone());
    let server = start(
        vec![
            "--tls-cert".into(),
            arg(&cert),
            "--tls-key".into(),
            arg(&key),
            "--tls-client-ca".into(),
            arg(&ca_path),
        ],
        |addr| {
            Client::builder([addr])
                .tls_ca_pem(ca_pem.clone())
                .tls_identity(root_cert.clone(), root_key.clone())
        },
    )
    .await?;
    let addr = server.client_addr();
    let as_cert = |leaf: &Leaf| {
        Client::builder([addr.clone()])
            .timeout(TIMEOUT)
            .tls_ca_pem(ca.pem())
            .tls_identity(leaf.cert_pem.clone(), leaf.key_pem.clone())
    };
    let root_client = as_cert(&root).connect().await?;
    root_client.user_add("root", "root-pw").await?;
    root_client.auth_enable().await?;
    // No password anywhere: the certificate says who calls.
    assert_eq!(
        root_client.auth_status().await?.user.as_deref(),
        Some("root")
    );
    root_client.user_add("bob", "bob-pw").await?;
    root_client
        .create(
            "/bobs",
            "",
            corral_client::CreateOptions::new().acl(["user:bob=rw".parse()?]),
        )
        .await?;
    let bob_client = as_cert(&bob).connect().await?;
    assert_eq!(bob_client.auth_status().await?.user.as_deref(), Some("bob"));
    bob_client.put("/bobs", "by bob", None).await?;
    let err = bob_client.user_list().await.expect_err("bob is not root");
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    // With bob's certificate but root's credentials, the token decides.
    let both = as_cert(&bob)
        .credentials("root", "root-pw")
        .connect()
        .await?;
    assert_eq!(both.auth_status().await?.user.as_deref(), Some("root"));
    // Without a certificate, or with one from another CA, nothing is served (the
    // handshake fails, at connect or at the first call depending on TLS 1.3 timing).
    let anonymous = async {
        Client::builder([addr.clone()])
            .timeout(Duration::from_secs(3))
            .connect_timeout(Duration::from_secs(3))
            .tls_ca_pem(ca.pem())
            .connect()
            .await?
            .get("/", None)
            .await
    };
    ensure!(
        anonymous.await.is_err(),
        "a client without a certificate was served"
    );
    let stranger = Ca::new("another CA")?.issue("bob", &[])?;
    let call = async {
        Client::builder([addr.clone()])
            .timeout(Duration::from_secs(3))
            .tls_ca_pem(ca.pem())
            .tls_identity(stranger.cert_pem.clone(), stranger.key_pem.clone())
            .connect()
            .await?
            .get("/", None)
            .await
    };
    ensure!(
        call.await.is_err(),
        "a certificate from another CA was accepted"
    );
    Ok(())
}

/// Runs `corralctl --endpoints ENDPOINT ARGS...` with `env`.
async fn ctl(endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    let mut command = tokio::process::Command::new(corralctl_bin()?);
    for var in [
        "CORRALCTL_CACERT",
        "CORRALCTL_CERT",
        "CORRALCTL_KEY",
        "CORRALCTL_SERVER_NAME",
        "CORRALCTL_USER",
        "CORRALCTL_PASSWORD",
        "CORRAL_ENDPOINTS",
    ] {
        command.env_remove(var);
    }
    let output = command
        .arg("--endpoints")
        .arg(endpoint)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    Ok(tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .context("corralctl did not finish")??)
}

fn code_and_stderr(output: &Output) -> (Option<i32>, String) {
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn corralctl_speaks_tls_and_mtls() -> Result<()> {
    let ca = Ca::new("test CA")?;
    let files = Files::new()?;
    let (cert, key) = files.leaf("server", &ca.issue("member", &["localhost"])?)?;
    let ca_path = files.write("ca.pem", &ca.pem())?;
    let (bob_cert, bob_key) = files.leaf("bob", &ca.issue("bob", &[])?)?;
    let ca_pem = ca.pem();
    let bob = ca.issue("bob", &[])?;
    let server = start(
        vec![
            "--tls-cert".into(),
            arg(&cert),
            "--tls-key".into(),
            arg(&key),
            "--tls-client-ca".into(),
            arg(&ca_path),
        ],
        |addr| {
            Client::builder([addr])
                .tls_ca_pem(ca_pem.clone())
                .tls_identity(bob.cert_pem.clone(), bob.key_pem.clone())
        },
    )
    .await?;
    let e = server.client_addr();
    let tls = [
        "--cacert",
        &arg(&ca_path),
        "--cert",
        &arg(&bob_cert),
        "--key",
        &arg(&bob_key),
    ]
    .map(str::to_string);
    let with = |args: &[&str]| -> Vec<String> {
        tls.iter()
            .cloned()
            .chain(args.iter().map(|a| a.to_string()))
            .collect()
    };
    let args = with(&["create", "/via-ctl", "v"]);
    let out = ctl(
        &e,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    )
    .await?;
    ensure!(out.status.success(), "{:?}", code_and_stderr(&out));
    // The same from the environment.
    let env = [
        ("CORRALCTL_CACERT", arg(&ca_path)),
        ("CORRALCTL_CERT", arg(&bob_cert)),
        ("CORRALCTL_KEY", arg(&bob_key)),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = ctl(&e, &["get", "/via-ctl"], &env).await?;
    ensure!(out.status.success(), "{:?}", code_and_stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v\n");
    // Without the CA the server is not trusted: no member answers (exit 5).
    let out = ctl(&e, &["get", "/via-ctl"], &[]).await?;
    assert_eq!(out.status.code(), Some(5), "{:?}", code_and_stderr(&out));
    // Half a client identity, or a CA file that is not there: usage errors naming it.
    let out = ctl(
        &e,
        &[
            "--cacert",
            &arg(&ca_path),
            "--cert",
            &arg(&bob_cert),
            "get",
            "/",
        ],
        &[],
    )
    .await?;
    let (code, err) = code_and_stderr(&out);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--key"), "{err}");
    let out = ctl(&e, &["--cacert", "/nonexistent/ca.pem", "get", "/"], &[]).await?;
    let (code, err) = code_and_stderr(&out);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
    Ok(())
}

#[tokio::test]
async fn corralctl_under_mtls_is_the_certificates_user() -> Result<()> {
    let ca = Ca::new("test CA")?;
    let files = Files::new()?;
    let (cert, key) = files.leaf("server", &ca.issue("member", &["localhost"])?)?;
    let ca_path = files.write("ca.pem", &ca.pem())?;
    let root = ca.issue("root", &[])?;
    let (root_cert, root_key) = files.leaf("root", &root)?;
    let (bob_cert, bob_key) = files.leaf("bob", &ca.issue("bob", &[])?)?;
    let ca_pem = ca.pem();
    let server = start(
        vec![
            "--tls-cert".into(),
            arg(&cert),
            "--tls-key".into(),
            arg(&key),
            "--tls-client-ca".into(),
            arg(&ca_path),
        ],
        |addr| {
            Client::builder([addr])
                .tls_ca_pem(ca_pem.clone())
                .tls_identity(root.cert_pem.clone(), root.key_pem.clone())
        },
    )
    .await?;
    let e = server.client_addr();
    let run = |cert: &Path, key: &Path, args: &[&str]| {
        let mut all = vec![
            "--cacert".to_string(),
            arg(&ca_path),
            "--cert".into(),
            arg(cert),
            "--key".into(),
            arg(key),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        all
    };
    for args in [
        run(
            &root_cert,
            &root_key,
            &["user", "add", "root", "--new-password", "pw"],
        ),
        run(&root_cert, &root_key, &["auth", "enable"]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = ctl(&e, &args, &[]).await?;
        ensure!(
            out.status.success(),
            "{args:?}: {:?}",
            code_and_stderr(&out)
        );
    }
    let args = run(&bob_cert, &bob_key, &["-o", "json", "auth", "status"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ctl(&e, &args, &[]).await?;
    ensure!(out.status.success(), "{:?}", code_and_stderr(&out));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(status["user"], "bob");
    assert_eq!(status["enabled"], true);
    Ok(())
}
