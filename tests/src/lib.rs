//! The shared test harness: runs real `corral` processes on 127.0.0.1 with their own
//! temporary data directory, log file and free ports, and injects process faults
//! (kill -9, graceful stop, restart on the same data and ports).
//!
//! Every test gets its own [`Server`], so tests run in parallel. A single node is
//! [`Server::start`]; a multi-node cluster is a [`Cluster`] of such servers, each
//! [`Server::spawn`]ed with a [`NodeConfig`] naming the `--initial-cluster`, then
//! [`Server::wait_ready`]. Faults: kill -9, SIGSTOP/SIGCONT (pause), graceful stop,
//! restart on the same data and ports.
//!
//! The binary is `$CORRAL_BIN`, else `corral` next to the test executable
//! (`<target>/debug/corral`, built by `cargo build --bin corral`).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use corral_client::Client;
use tempfile::TempDir;

mod cluster;
pub mod proxy;
pub mod traffic;

pub use cluster::{Cluster, STATUS_TIMEOUT};

/// How long a node may take from spawn to answering a linearizable read.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`Server::stop`] waits after SIGTERM before it kills.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Per-call timeout of clients from [`Server::client`].
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Lines of the server log shown when a test fails.
const LOG_TAIL_LINES: usize = 60;

/// The three ports a member listens on, all on 127.0.0.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    /// gRPC client API (`--client-addr`).
    pub client: u16,
    /// Raft peer protocol (`--peer-addr`).
    pub peer: u16,
    /// Metrics and health over HTTP (`--http-addr`).
    pub http: u16,
}

/// Ports handed out by this process, never handed out twice: the OS may return a
/// just-released port to the next `bind(0)`, and a test must not get another's port.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

impl Ports {
    /// Picks three distinct free ports on 127.0.0.1 (bind port 0, note it, release).
    pub fn allocate() -> Result<Ports> {
        let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        let handed_out = handed_out.get_or_insert_with(HashSet::new);
        // Hold every listener until all three are picked so they differ.
        let mut held = Vec::new();
        let mut picked = Vec::new();
        while picked.len() < 3 {
            let listener = TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
            let port = listener.local_addr()?.port();
            if handed_out.insert(port) {
                picked.push(port);
            }
            held.push(listener);
        }
        Ok(Ports {
            client: picked[0],
            peer: picked[1],
            http: picked[2],
        })
    }
}

/// What one member is started with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Raft node id (`--node-id`).
    pub node_id: u64,
    /// Its listening ports.
    pub ports: Ports,
    /// `--initial-cluster` (`1=127.0.0.1:P1,2=127.0.0.1:P2,...`); `None` for a single node.
    pub initial_cluster: Option<String>,
    /// Further `corral serve` flags.
    pub extra_args: Vec<String>,
}

impl NodeConfig {
    /// A single-node cluster with node id 1 on fresh ports.
    pub fn single() -> Result<NodeConfig> {
        Ok(NodeConfig {
            node_id: 1,
            ports: Ports::allocate()?,
            initial_cluster: None,
            extra_args: Vec::new(),
        })
    }

    fn args(&self, data_dir: &Path) -> Vec<String> {
        let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port)).to_string();
        let mut args = vec![
            "serve".to_string(),
            "--node-id".into(),
            self.node_id.to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--client-addr".into(),
            addr(self.ports.client),
            "--peer-addr".into(),
            addr(self.ports.peer),
            "--http-addr".into(),
            addr(self.ports.http),
        ];
        if let Some(cluster) = &self.initial_cluster {
            args.push("--initial-cluster".into());
            args.push(cluster.clone());
        }
        args.extend(self.extra_args.iter().cloned());
        args
    }
}

/// One running (or stopped) `corral` process with its own data directory and log.
///
/// Dropping it kills the process and prints the log's tail (which the test runner
/// shows only for a failed test); with `CORRAL_TEST_KEEP=1` the directory is kept.
#[derive(Debug)]
pub struct Server {
    config: NodeConfig,
    bin: PathBuf,
    dir: Option<TempDir>,
    child: Option<Child>,
    /// Stopped with SIGSTOP and not yet continued.
    paused: bool,
    /// How [`Server::wait_ready`] reaches a client port that serves TLS
    /// (`--tls-cert`); `None`: plaintext.
    client_tls: Option<tonic::transport::ClientTlsConfig>,
}

impl Server {
    /// Starts a single-node cluster and waits until it serves linearizable reads.
    pub async fn start() -> Result<Server> {
        // Another process may grab a port between allocation and the server's bind;
        // only then is a retry on fresh ports right.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut server = Server::spawn(NodeConfig::single()?)?;
            match server.wait_ready().await {
                Ok(()) => return Ok(server),
                Err(e) if attempt < 3 && server.lost_port_race() => {
                    eprintln!("corral-tests: port taken, retrying on new ports: {e:#}");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Spawns a member without waiting for it (a cluster's members must all be up
    /// before any can elect a leader); follow with [`Server::wait_ready`].
    pub fn spawn(config: NodeConfig) -> Result<Server> {
        let mut server = Server::create(config)?;
        server.launch()?;
        Ok(server)
    }

    /// Makes a member's directory without starting its process (see [`Server::restore`]
    /// and [`Server::respawn`]).
    pub fn create(config: NodeConfig) -> Result<Server> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("corral-node{}-", config.node_id))
            .tempdir()
            .context("creating the node's temp dir")?;
        Ok(Server {
            config,
            bin: corral_bin()?,
            dir: Some(dir),
            child: None,
            paused: false,
            client_tls: None,
        })
    }

    /// Makes [`Server::wait_ready`] reach the client port over TLS with `tls` (for a
    /// member started with `--tls-cert`, given in [`NodeConfig::extra_args`]); set it
    /// before the process starts ([`Server::create`], then [`Server::respawn`]).
    pub fn with_client_tls(mut self, tls: tonic::transport::ClientTlsConfig) -> Self {
        self.client_tls = Some(tls);
        self
    }

    /// Runs `corral restore BACKUP` for this member (not running) with its own node id,
    /// data directory and initial cluster, and returns what the command printed.
    pub fn restore(&self, backup: &Path) -> Result<String> {
        let mut command = Command::new(&self.bin);
        command
            .arg("restore")
            .arg(backup)
            .args(["--node-id", &self.config.node_id.to_string()])
            .arg("--data-dir")
            .arg(self.data_dir());
        if let Some(cluster) = &self.config.initial_cluster {
            command.args(["--initial-cluster", cluster]);
        } else {
            command.args([
                "--peer-addr",
                &SocketAddr::from(([127, 0, 0, 1], self.config.ports.peer)).to_string(),
            ]);
        }
        let out = command
            .stdin(Stdio::null())
            .output()
            .context("running corral restore")?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if !out.status.success() {
            bail!("corral restore failed ({}): {stderr}", out.status);
        }
        Ok(stdout)
    }

    /// Waits until the member answers a linearizable `get("/")`, which needs an
    /// elected leader. Fails early, with the log's tail, if the process exits.
    pub async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_error = String::from("no attempt made");
        while Instant::now() < deadline {
            if let Some(status) = self.exit_status()? {
                bail!(
                    "corral node {} exited during startup ({status}){}",
                    self.config.node_id,
                    self.log_context()
                );
            }
            match self.try_read_root().await {
                Ok(()) => return Ok(()),
                Err(e) => last_error = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "corral node {} not ready within {READY_TIMEOUT:?}; last error: {last_error}{}",
            self.config.node_id,
            self.log_context()
        )
    }

    async fn try_read_root(&self) -> Result<()> {
        if let Some(tls) = &self.client_tls {
            // The Rust client has no TLS options (yet): a raw linearizable Get.
            let channel =
                tonic::transport::Endpoint::from_shared(format!("https://{}", self.client_addr()))?
                    .tls_config(tls.clone())?
                    .connect_timeout(Duration::from_secs(1))
                    .timeout(Duration::from_secs(2))
                    .connect()
                    .await?;
            corral_proto::v1::kv_client::KvClient::new(channel)
                .get(corral_proto::v1::GetRequest {
                    path: "/".into(),
                    ..Default::default()
                })
                .await?;
            return Ok(());
        }
        let client = Client::builder([self.endpoint()])
            .timeout(Duration::from_secs(2))
            .connect_timeout(Duration::from_secs(1))
            .connect()
            .await?;
        client.get("/", None).await?;
        Ok(())
    }

    /// The member's node id.
    pub fn node_id(&self) -> u64 {
        self.config.node_id
    }

    /// Its listening ports.
    pub fn ports(&self) -> Ports {
        self.config.ports
    }

    /// `127.0.0.1:<client port>`.
    pub fn client_addr(&self) -> String {
        format!("127.0.0.1:{}", self.config.ports.client)
    }

    /// `http://127.0.0.1:<client port>`, for [`Client::connect`].
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.client_addr())
    }

    /// `GET http://127.0.0.1:<http port><path>` (the health and metrics port): the
    /// status code and body. Plain HTTP/1.1 with `Connection: close`.
    pub async fn http_get(&self, path: &str) -> Result<(u16, String)> {
        self.http("GET", path, "").await
    }

    /// Makes every fsync of this member `ms` milliseconds slower (0 ends it), through
    /// `PUT /debug/disk-delay-ms`: the member must run with `--unsafe-fault-injection`.
    pub async fn set_disk_delay(&self, ms: u64) -> Result<()> {
        let (code, body) = self
            .http("PUT", "/debug/disk-delay-ms", &ms.to_string())
            .await?;
        if code != 200 {
            bail!("PUT /debug/disk-delay-ms answered {code}: {body}");
        }
        Ok(())
    }

    /// One HTTP/1.1 request with `Connection: close` to the HTTP port.
    async fn http(&self, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = SocketAddr::from(([127, 0, 0, 1], self.config.ports.http));
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(addr).await?;
            let request = format!(
                "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(request.as_bytes()).await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            Ok::<_, std::io::Error>(response)
        };
        let response = tokio::time::timeout(CLIENT_TIMEOUT, exchange)
            .await
            .with_context(|| format!("{method} {path} at {addr} timed out"))?
            .with_context(|| format!("{method} {path} at {addr}"))?;
        let text = String::from_utf8_lossy(&response);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .with_context(|| format!("malformed HTTP response: {text:?}"))?;
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .with_context(|| format!("malformed HTTP status line: {head:?}"))?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)?
        } else {
            body.to_string()
        };
        Ok((code, body))
    }

    /// The directory given as `--data-dir`.
    pub fn data_dir(&self) -> PathBuf {
        self.dir().join("data")
    }

    /// The file the process's stdout and stderr go to (appended across restarts).
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("server.log")
    }

    fn dir(&self) -> &Path {
        self.dir
            .as_ref()
            .expect("the temp dir lives as long as the server")
            .path()
    }

    /// A new client of this member with [`CLIENT_TIMEOUT`] per call.
    pub async fn client(&self) -> Result<Client> {
        Client::builder([self.endpoint()])
            .timeout(CLIENT_TIMEOUT)
            .connect()
            .await
            .with_context(|| format!("connecting to corral node {}", self.config.node_id))
    }

    /// Whether the process is running (a paused process is running).
    pub fn is_running(&mut self) -> bool {
        matches!(self.exit_status(), Ok(None))
    }

    /// The process id while it runs (for reading its /proc entries).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(std::process::Child::id)
    }

    /// Whether the process is paused by [`Server::pause`].
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Whether the harness started the process and has not killed or stopped it
    /// since; unlike [`Server::is_running`] it does not notice a crash, and needs no
    /// `&mut`.
    pub fn is_launched(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the process with SIGKILL, giving it no chance to flush anything, and
    /// reaps it. Does nothing if it is not running. A paused process is killed too.
    pub fn kill9(&mut self) -> Result<()> {
        self.paused = false;
        if let Some(mut child) = self.child.take() {
            // `Child::kill` is SIGKILL on unix; it fails only if the process was reaped.
            let _ = child.kill();
            child.wait().context("reaping the killed corral process")?;
        }
        Ok(())
    }

    /// Freezes the process with SIGSTOP: it keeps its sockets and state but does
    /// nothing (no heartbeats, no answers) until [`Server::resume`], like a long GC
    /// pause or a VM stall. Connections to it stay open; calls on them hang.
    pub fn pause(&mut self) -> Result<()> {
        self.signal(libc::SIGSTOP).context("sending SIGSTOP")?;
        self.paused = true;
        Ok(())
    }

    /// Continues a paused process with SIGCONT; its timers fire late, all at once.
    pub fn resume(&mut self) -> Result<()> {
        self.signal(libc::SIGCONT).context("sending SIGCONT")?;
        self.paused = false;
        Ok(())
    }

    /// Sends `signal` to the running process.
    fn signal(&self, signal: libc::c_int) -> Result<()> {
        let Some(child) = self.child.as_ref() else {
            bail!("corral node {} is not running", self.config.node_id);
        };
        let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;
        // SAFETY: kill(2) has no memory effects; `child` is not reaped yet, so `pid`
        // still names our child and not a recycled process.
        if unsafe { libc::kill(pid, signal) } != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// Stops the process with SIGTERM and waits for it to exit; kills it and fails if
    /// it has not exited after [`STOP_TIMEOUT`]. Returns its exit status. A paused
    /// process is continued after the SIGTERM so that it can act on it.
    pub async fn stop(&mut self) -> Result<ExitStatus> {
        self.signal(libc::SIGTERM).context("sending SIGTERM")?;
        if self.paused {
            self.resume()?;
        }
        let Some(mut child) = self.child.take() else {
            bail!("corral node {} is not running", self.config.node_id);
        };
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "corral node {} ignored SIGTERM for {STOP_TIMEOUT:?}{}",
                    self.config.node_id,
                    self.log_context()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the process again on the same data directory and ports (stopping it
    /// gracefully first if it is running) and waits until it is ready.
    pub async fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            self.stop().await?;
        }
        self.launch()?;
        self.wait_ready().await
    }

    /// Starts the stopped or killed process again on the same data directory and
    /// ports without waiting (a cluster's members must all be up before any can elect
    /// a leader); follow with [`Server::wait_ready`]. Fails if it is running.
    pub fn respawn(&mut self) -> Result<()> {
        if self.is_running() {
            bail!("corral node {} is still running", self.config.node_id);
        }
        self.launch()
    }

    /// Starts the process, appending its output to the log.
    fn launch(&mut self) -> Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .context("opening the server log")?;
        let args = self.config.args(&self.data_dir());
        let mut command = Command::new(&self.bin);
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Flags decide the node's setup, not whatever CORRAL_* the test runner has
        // (CORRAL_LOG_FILTER aside, to debug a test).
        for (key, _) in std::env::vars_os() {
            if let Some(key) = key.to_str() {
                if key.starts_with("CORRAL_") && key != "CORRAL_LOG_FILTER" {
                    command.env_remove(key);
                }
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("spawning {} {}", self.bin.display(), args.join(" ")))?;
        self.child = Some(child);
        Ok(())
    }

    /// The exit status if the process has exited (and is then reaped), else `None`.
    fn exit_status(&mut self) -> Result<Option<ExitStatus>> {
        let Some(child) = self.child.as_mut() else {
            bail!("corral node {} is not running", self.config.node_id);
        };
        let status = child.try_wait()?;
        if status.is_some() {
            self.child = None;
        }
        Ok(status)
    }

    /// Whether startup failed because a port was taken by someone else.
    pub(crate) fn lost_port_race(&self) -> bool {
        let tail = self.log_tail(LOG_TAIL_LINES).to_lowercase();
        tail.contains("address already in use") || tail.contains("addrinuse")
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        read_tail(&self.log_path(), lines)
            .unwrap_or_else(|e| format!("<cannot read {}: {e}>", self.log_path().display()))
    }

    fn log_context(&self) -> String {
        format!(
            "\n--- last lines of {} ---\n{}",
            self.log_path().display(),
            self.log_tail(LOG_TAIL_LINES)
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill9();
        // Always printed: the test runner captures it and shows it only when the test
        // fails, which it cannot tell here (a test may fail by returning `Err`).
        eprintln!(
            "corral node {} (client {}):{}",
            self.config.node_id,
            self.client_addr(),
            self.log_context()
        );
        if std::env::var_os("CORRAL_TEST_KEEP").is_some() {
            if let Some(dir) = self.dir.take() {
                eprintln!("kept {}", dir.keep().display());
            }
        }
    }
}

/// The `corral` binary: `$CORRAL_BIN`, else next to the test executable.
pub fn corral_bin() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("CORRAL_BIN") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            bail!("CORRAL_BIN={} is not a file", bin.display());
        }
        return Ok(bin);
    }
    // Test executables live in <target>/<profile>/deps/.
    let exe = std::env::current_exe().context("locating the test executable")?;
    let mut dir = exe.parent().context("test executable has no directory")?;
    if dir.ends_with("deps") {
        dir = dir.parent().context("deps has no parent")?;
    }
    let bin = dir.join(format!("corral{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!(
            "{} not found: run `cargo build --bin corral` first, or set CORRAL_BIN",
            bin.display()
        );
    }
    Ok(bin)
}

/// The body of a `Transfer-Encoding: chunked` response.
fn dechunk(mut body: &str) -> Result<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").context("truncated chunk size")?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .with_context(|| format!("bad chunk size {size:?}"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest.get(..size).context("truncated chunk")?;
        out.push_str(chunk);
        body = rest[size..]
            .strip_prefix("\r\n")
            .context("chunk without CRLF")?;
    }
}

/// The last `lines` lines of a file, reading at most its last 64 KiB.
fn read_tail(path: &Path, lines: usize) -> std::io::Result<String> {
    const MAX: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(MAX)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n"))
}
