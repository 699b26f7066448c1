//! `corralctl` end to end: the built binary (`cargo build -p corral-client --bins`)
//! run as a process against real servers, checking its output, its exit statuses and
//! that every failure is one line on stderr.

mod sdk_common;

use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use corral_client::{Client, GetOptions};
use corral_proto::v1 as pb;
use corral_tests::Server;
use sdk_common::{cluster3, corralctl_bin, Proxy};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// Runs `corralctl --endpoints ENDPOINTS ARGS...` to completion.
async fn ctl(endpoints: &str, args: &[&str]) -> Result<Output> {
    ctl_with_stdin(endpoints, args, None).await
}

async fn ctl_with_stdin(endpoints: &str, args: &[&str], stdin: Option<&[u8]>) -> Result<Output> {
    ctl_with_env(endpoints, args, stdin, &[]).await
}

/// The `CORRALCTL_*` variables corralctl reads: removed from every run so that a
/// developer's own settings cannot change what a test sees.
const CTL_ENV: [&str; 6] = [
    "CORRALCTL_CACERT",
    "CORRALCTL_CERT",
    "CORRALCTL_KEY",
    "CORRALCTL_SERVER_NAME",
    "CORRALCTL_USER",
    "CORRALCTL_PASSWORD",
];

/// As [`ctl_with_stdin`], with environment variables `env` set.
async fn ctl_with_env(
    endpoints: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
    env: &[(&str, &str)],
) -> Result<Output> {
    let mut command = Command::new(corralctl_bin()?);
    for var in CTL_ENV {
        command.env_remove(var);
    }
    command
        .arg("--endpoints")
        .arg(endpoints)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("CORRAL_ENDPOINTS")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn()?;
    if let Some(bytes) = stdin {
        let mut input = child.stdin.take().context("stdin")?;
        input.write_all(bytes).await?;
        // Dropped here: corralctl sees the end of its input.
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .with_context(|| format!("corralctl {args:?} did not finish"))??;
    Ok(output)
}

/// Starts `corralctl` in the background with its stdout piped.
fn spawn(endpoints: &str, args: &[&str]) -> Result<Child> {
    Ok(Command::new(corralctl_bin()?)
        .arg("--endpoints")
        .arg(endpoints)
        .args(args)
        .env_remove("CORRAL_ENDPOINTS")
        .env_remove("CORRALCTL_USER")
        .env_remove("CORRALCTL_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Succeeded; returns stdout.
fn ok(output: Output) -> Result<String> {
    ensure!(
        output.status.success(),
        "corralctl failed ({}): {}",
        output.status,
        stderr(&output)
    );
    Ok(stdout(&output))
}

/// Failed with `code` and exactly one line on stderr, `corralctl: ...`, mentioning
/// `mentions`; nothing on stdout, no panic.
fn fails(output: Output, code: i32, mentions: &str) -> Result<String> {
    let err = stderr(&output);
    ensure!(
        output.status.code() == Some(code),
        "expected exit {code}, got {} (stderr {err:?})",
        output.status
    );
    ensure!(
        err.lines().count() == 1 && err.starts_with("corralctl: ") && err.ends_with('\n'),
        "expected one line on stderr, got {err:?}"
    );
    ensure!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "a panic: {err:?}"
    );
    ensure!(
        err.to_lowercase().contains(&mentions.to_lowercase()),
        "{err:?} should mention {mentions:?}"
    );
    ensure!(output.stdout.is_empty(), "stdout: {:?}", stdout(&output));
    Ok(err)
}

fn json(text: &str) -> Result<Value> {
    serde_json::from_str(text).with_context(|| format!("not JSON: {text:?}"))
}

/// Sends SIGINT (Ctrl-C) to a child process.
fn interrupt(child: &Child) -> Result<()> {
    let pid = child.id().context("the process already exited")?;
    // SAFETY: kill(2) has no memory effects; the child is not reaped yet.
    let rc = unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    ensure!(rc == 0, "kill: {}", std::io::Error::last_os_error());
    Ok(())
}

#[tokio::test]
async fn kv_commands_create_list_draw_and_delete_znodes() -> Result<()> {
    let server = Server::start().await?;
    let e = server.client_addr();
    let e = e.as_str();
    assert_eq!(ok(ctl(e, &["create", "/app", "v1"]).await?)?, "/app\n");
    assert_eq!(
        ok(ctl(e, &["create", "-p", "/app/config/db", "url"]).await?)?,
        "/app/config/db\n"
    );
    let seq = ok(ctl(e, &["create", "-s", "/app/job-", "x"]).await?)?;
    assert_eq!(
        seq, "/app/job-0000000001\n",
        "the counter of /app (config was 0)"
    );
    assert_eq!(ok(ctl(e, &["get", "/app"]).await?)?, "v1\n");
    assert_eq!(
        ok(ctl(e, &["put", "/app", "v2", "--expected-version", "0"]).await?)?
            .split_whitespace()
            .next(),
        Some("OK")
    );
    fails(
        ctl(e, &["put", "/app", "v3", "--expected-version", "0"]).await?,
        4,
        "version",
    )?;
    fails(ctl(e, &["create", "/app", ""]).await?, 4, "/app")?;
    fails(ctl(e, &["get", "/nope"]).await?, 3, "/nope")?;

    assert_eq!(
        ok(ctl(e, &["ls", "/app"]).await?)?,
        "config\njob-0000000001\n"
    );
    assert_eq!(
        ok(ctl(e, &["ls", "-R", "/app"]).await?)?,
        "/app/config\n/app/config/db\n/app/job-0000000001\n"
    );
    assert_eq!(
        ok(ctl(e, &["tree", "/app"]).await?)?,
        "/app\n├── config\n│   └── db\n└── job-0000000001\n"
    );
    let stat = ok(ctl(e, &["stat", "/app"]).await?)?;
    assert!(stat.contains("version           1\n"), "{stat}");
    assert!(stat.contains("num_children      2\n"), "{stat}");
    let got = json(&ok(ctl(e, &["-o", "json", "get", "/app"]).await?)?)?;
    assert_eq!(got["node"]["data"], "djI=", "v2 in base64");
    assert_eq!(
        got["node"]["stat"]["version"], "1",
        "64-bit integers are strings"
    );
    // A cluster id is a random 64-bit number: as a JSON number, jq would round it.
    let header = server.client().await?.get("/app", None).await?.header;
    assert_eq!(got["header"]["clusterId"], header.cluster_id.to_string());
    assert!(got["node"]["stat"].get("createRevision").is_some(), "{got}");

    // Ephemeral (on a lease from `lease grant`), TTL and container znodes.
    let lease = ok(ctl(e, &["lease", "grant", "30s"]).await?)?;
    let lease = lease.trim();
    ok(ctl(e, &["create", "-e", "--lease", lease, "/app/eph", "me"]).await?)?;
    let eph = json(&ok(ctl(e, &["-o", "json", "stat", "/app/eph"]).await?)?)?;
    assert_eq!(
        eph["node"]["stat"]["kind"],
        pb::NodeKind::Ephemeral.as_str_name()
    );
    assert_eq!(eph["node"]["stat"]["leaseId"], lease);
    ok(ctl(e, &["create", "--ttl", "1m", "/app/ttl"]).await?)?;
    let ttl = json(&ok(ctl(e, &["-o", "json", "stat", "/app/ttl"]).await?)?)?;
    assert_eq!(ttl["node"]["stat"]["kind"], pb::NodeKind::Ttl.as_str_name());
    assert_eq!(ttl["node"]["stat"]["ttlMs"], "60000");
    ok(ctl(e, &["create", "--container", "/box"]).await?)?;
    let boxed = json(&ok(ctl(e, &["-o", "json", "stat", "/box"]).await?)?)?;
    assert_eq!(
        boxed["node"]["stat"]["kind"],
        pb::NodeKind::Container.as_str_name()
    );
    let listed = ok(ctl(e, &["lease", "ttl", lease, "--nodes"]).await?)?;
    assert!(listed.contains("/app/eph"), "{listed}");
    ok(ctl(e, &["lease", "revoke", lease]).await?)?;
    fails(ctl(e, &["get", "/app/eph"]).await?, 3, "/app/eph")?;

    fails(ctl(e, &["rm", "/app"]).await?, 4, "/app")?;
    assert_eq!(ok(ctl(e, &["rm", "-r", "/app"]).await?)?, "deleted 5\n");
    fails(ctl(e, &["ls", "/app"]).await?, 3, "/app")?;
    Ok(())
}

#[tokio::test]
async fn watch_prints_each_event_once_in_order_and_stops_on_ctrl_c() -> Result<()> {
    let server = Server::start().await?;
    let e = server.client_addr();
    let client = server.client().await?;
    client.create("/w", "", None).await?;
    let from = client
        .get("/", GetOptions::new().stat_only())
        .await?
        .header
        .revision
        + 1;
    let from = from.to_string();
    let counted = spawn(
        &e,
        &[
            "watch", "-R", "/w", "--rev", &from, "--count", "4", "--prev",
        ],
    )?;
    let json_watch = spawn(
        &e,
        &["-o", "json", "watch", "--children", "/w", "--rev", &from],
    )?;
    client.create("/w/a", "1", None).await?;
    client.put("/w/a", "2", None).await?;
    client.create("/elsewhere", "", None).await?;
    client.create("/w/a/deep", "3", None).await?;
    client.delete("/w/a/deep", None).await?;
    let out =
        ok(tokio::time::timeout(Duration::from_secs(30), counted.wait_with_output()).await??)?;
    let lines: Vec<&str> = out.lines().collect();
    let r = from.parse::<i64>()?;
    assert_eq!(
        lines,
        [
            format!("{r} CREATED /w/a 1"),
            format!("{} UPDATED /w/a 2 (was 1)", r + 1),
            format!("{} CREATED /w/a/deep 3", r + 3),
            format!("{} DELETED /w/a/deep 3 (was 3)", r + 4),
        ]
    );

    // The JSON watcher (children only) printed two objects and runs until Ctrl-C.
    let mut json_watch = json_watch;
    let mut reader = BufReader::new(json_watch.stdout.take().context("stdout")?).lines();
    let mut events = Vec::new();
    for _ in 0..2 {
        let line = tokio::time::timeout(Duration::from_secs(30), reader.next_line())
            .await??
            .context("the watch ended")?;
        events.push(json(&line)?);
    }
    assert_eq!(events[0]["type"], pb::EventType::Created.as_str_name());
    assert_eq!(events[0]["node"]["path"], "/w/a");
    assert_eq!(events[1]["type"], pb::EventType::Updated.as_str_name());
    assert_eq!(events[1]["revision"], (r + 1).to_string());
    interrupt(&json_watch)?;
    let status = tokio::time::timeout(Duration::from_secs(30), json_watch.wait()).await??;
    assert!(status.success(), "Ctrl-C ends a watch cleanly: {status}");
    Ok(())
}

/// Whether the `start PID` / `end PID` lines of a lock-protected log pair up with no
/// interleaving; returns how many critical sections it holds.
fn sections(log: &str) -> Result<usize> {
    let lines: Vec<&str> = log.lines().collect();
    ensure!(
        lines.chunks_exact(2).remainder().is_empty(),
        "unpaired lines: {lines:?}"
    );
    for pair in lines.chunks(2) {
        let (start, end) = (pair[0], pair[1]);
        ensure!(
            start.strip_prefix("start ").is_some()
                && end.strip_prefix("end ") == start.strip_prefix("start "),
            "critical sections overlap: {start:?} then {end:?} in {lines:?}"
        );
    }
    Ok(lines.len() / 2)
}

#[tokio::test]
async fn lock_runs_commands_one_at_a_time_and_exits_with_their_status() -> Result<()> {
    let (_slot, cluster) = cluster3().await?;
    let endpoints: Vec<String> = cluster
        .ids()
        .into_iter()
        .map(|id| cluster.member(id).client_addr())
        .collect();
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("log");
    let tokens = dir.path().join("tokens");
    let script = format!(
        "echo start $$ >> {log}; echo $CORRAL_FENCING_TOKEN >> {tokens}; sleep 0.2; echo end $$ >> {log}",
        log = log.display(),
        tokens = tokens.display()
    );
    // Six processes at once, each through a different first member.
    let mut runs = Vec::new();
    for i in 0..6 {
        let mut order = endpoints.clone();
        order.rotate_left(i % 3);
        let endpoints = order.join(",");
        let script = script.clone();
        runs.push(tokio::spawn(async move {
            ctl(
                &endpoints,
                &["lock", "/locks/shared", "--", "sh", "-c", &script],
            )
            .await
        }));
    }
    for run in runs {
        ok(run.await??)?;
    }
    let text = std::fs::read_to_string(&log)?;
    assert_eq!(sections(&text)?, 6, "{text}");
    let tokens: Vec<i64> = std::fs::read_to_string(&tokens)?
        .lines()
        .map(|t| t.parse())
        .collect::<Result<_, _>>()?;
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "fencing tokens increase with each holder: {tokens:?}"
    );

    let e = endpoints.join(",");
    let status = ctl(&e, &["lock", "/locks/shared", "--", "sh", "-c", "exit 7"]).await?;
    assert_eq!(status.status.code(), Some(7), "{}", stderr(&status));
    fails(
        ctl(&e, &["lock", "/locks/shared", "--", "/no/such/program"]).await?,
        2,
        "cannot run",
    )?;

    // Held without a command until Ctrl-C; meanwhile another waits in vain.
    let mut holder = spawn(&e, &["lock", "/locks/held"])?;
    let mut reader = BufReader::new(holder.stdout.take().context("stdout")?).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), reader.next_line())
        .await??
        .context("no key printed")?;
    assert!(line.starts_with("/locks/held/"), "{line}");
    fails(
        ctl(
            &e,
            &["lock", "/locks/held", "--wait", "300ms", "--", "true"],
        )
        .await?,
        5,
        "",
    )?;
    interrupt(&holder)?;
    assert!(tokio::time::timeout(Duration::from_secs(30), holder.wait())
        .await??
        .success());
    ok(ctl(&e, &["lock", "/locks/held", "--wait", "10s", "--", "true"]).await?)?;
    Ok(())
}

#[tokio::test]
async fn elect_leads_until_ctrl_c_and_listen_follows_the_leader() -> Result<()> {
    let server = Server::start().await?;
    let e = server.client_addr();
    let mut leader = spawn(&e, &["elect", "/elections/e", "host-a"])?;
    let mut reader = BufReader::new(leader.stdout.take().context("stdout")?).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), reader.next_line())
        .await??
        .context("no leader key printed")?;
    assert!(
        line.starts_with("/elections/e/") && line.ends_with(" host-a"),
        "{line}"
    );
    let seen = ok(ctl(
        &e,
        &["-o", "json", "elect", "-l", "/elections/e", "--count", "1"],
    )
    .await?)?;
    assert_eq!(
        json(&seen)?["leader"]["value"],
        "aG9zdC1h",
        "host-a in base64"
    );
    interrupt(&leader)?;
    assert!(tokio::time::timeout(Duration::from_secs(30), leader.wait())
        .await??
        .success());
    let client = server.client().await?;
    assert_eq!(
        client.leader("/elections/e").await?,
        None,
        "resigned on Ctrl-C"
    );
    assert_eq!(
        ok(ctl(&e, &["elect", "-l", "/elections/e", "--count", "1"]).await?)?,
        "(no leader)\n"
    );
    Ok(())
}

#[tokio::test]
async fn txn_reads_json_from_stdin_or_a_file_and_reports_its_branch() -> Result<()> {
    let server = Server::start().await?;
    let e = server.client_addr();
    let text = r#"{
      "compare": [{"path": "/flag", "target": "exists", "value": false}],
      "success": [
        {"op": "create", "path": "/flag", "data": "on"},
        {"op": "create", "path": "/jobs/job-", "sequential": true, "parents": true}
      ],
      "failure": [{"op": "get", "path": "/flag"}]
    }"#;
    let first = ok(ctl_with_stdin(&e, &["txn"], Some(text.as_bytes())).await?)?;
    assert!(first.starts_with("SUCCEEDED"), "{first}");
    assert!(first.contains("created /jobs/job-0000000000"), "{first}");
    let file = tempfile::NamedTempFile::new()?;
    std::fs::write(file.path(), text)?;
    let path = file.path().display().to_string();
    let second = ctl(&e, &["-o", "json", "txn", "-f", &path]).await?;
    assert_eq!(second.status.code(), Some(4), "compares failed: exit 4");
    let second = json(&stdout(&second))?;
    assert_eq!(second["succeeded"], false);
    assert_eq!(second["results"][0]["get"]["node"]["data"], "b24=");
    fails(
        ctl_with_stdin(
            &e,
            &["txn"],
            Some(br#"{"success": [{"op": "put", "path": "/x", "dat": 1}]}"#),
        )
        .await?,
        2,
        "unknown field",
    )?;
    Ok(())
}

#[tokio::test]
async fn member_status_and_maintenance_commands_on_a_cluster() -> Result<()> {
    let (_slot, mut cluster) = cluster3().await?;
    let leader = cluster.wait_leader().await?;
    let all: Vec<String> = cluster
        .ids()
        .into_iter()
        .map(|id| cluster.member(id).client_addr())
        .collect();
    let e = all.join(",");
    let status = ok(ctl(&e, &["status"]).await?)?;
    let rows: Vec<&str> = status.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{status}");
    assert_eq!(
        rows.iter()
            .filter(|r| r.split_whitespace().nth(2) == Some("leader"))
            .count(),
        1,
        "{status}"
    );
    let statuses = json(&ok(ctl(&e, &["-o", "json", "status"]).await?)?)?;
    assert!(statuses
        .as_array()
        .context("array")?
        .iter()
        .all(|s| s["status"]["leaderId"].as_str() == Some(leader.to_string().as_str())));

    let members = json(&ok(ctl(&e, &["-o", "json", "member", "list"]).await?)?)?;
    assert_eq!(members["members"].as_array().map(Vec::len), Some(3));
    assert_eq!(members["leaderId"], leader.to_string());
    let table = ok(ctl(&e, &["member", "list"]).await?)?;
    assert_eq!(
        table.lines().filter(|l| l.ends_with("leader")).count(),
        1,
        "{table}"
    );

    // A learner joins and leaves.
    let peer = cluster.add_learner_process(4)?;
    let added = ok(ctl(&e, &["member", "add", "4", &peer]).await?)?;
    assert!(
        added
            .lines()
            .any(|l| l.starts_with("4 ") && l.ends_with("learner")),
        "{added}"
    );
    // The same id at another address is refused (the same again is a no-op).
    ok(ctl(&e, &["member", "add", "4", &peer]).await?)?;
    fails(
        ctl(&e, &["member", "add", "4", "127.0.0.1:1"]).await?,
        4,
        "",
    )?;
    let removed = ok(ctl(&e, &["member", "remove", "4"]).await?)?;
    assert!(!removed.lines().any(|l| l.starts_with("4 ")), "{removed}");
    fails(ctl(&e, &["member", "promote", "9"]).await?, 3, "9")?;

    // Status of a member that is down: the others are printed, the failure is one line.
    let victim = cluster
        .ids()
        .into_iter()
        .find(|&id| id != leader)
        .context("a follower")?;
    cluster.kill9(victim)?;
    let partial = ctl(&e, &["--timeout", "2s", "status"]).await?;
    assert_eq!(partial.status.code(), Some(5));
    assert_eq!(stdout(&partial).lines().count(), 3, "header and two rows");
    assert_eq!(stderr(&partial).lines().count(), 1, "{}", stderr(&partial));

    // Compaction and a backup.
    let client = Client::builder(all.clone()).connect().await?;
    let rev = client.create("/c", "", None).await?.header.revision;
    let compacted = ok(ctl(&e, &["compact", &rev.to_string()]).await?)?;
    assert_eq!(compacted, format!("compacted up to revision {rev}\n"));
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("backup.db");
    ok(ctl(&e, &["snapshot", "save", &file.display().to_string()]).await?)?;
    assert!(std::fs::metadata(&file)?.len() > 0);
    assert!(
        !file.with_extension("part").exists(),
        "the partial file was renamed"
    );
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_one_line_on_stderr_and_a_nonzero_exit() -> Result<()> {
    let server = Server::start().await?;
    let e = server.client_addr();
    let e = e.as_str();
    fails(ctl(e, &["get", "/a", "--bogus"]).await?, 2, "--bogus")?;
    fails(ctl(e, &["frobnicate"]).await?, 2, "frobnicate")?;
    fails(ctl(e, &[]).await?, 2, "command")?;
    fails(ctl(e, &["get"]).await?, 2, "path")?;
    fails(ctl(e, &["--timeout", "soon", "get", "/"]).await?, 2, "soon")?;
    fails(ctl(e, &["get", "relative"]).await?, 2, "relative")?;
    fails(ctl(e, &["create", "/a/", "x"]).await?, 2, "/a/")?;
    fails(ctl(e, &["ls", "/a//b"]).await?, 2, "/a//b")?;
    fails(ctl(e, &["watch", "no-slash"]).await?, 2, "no-slash")?;
    fails(ctl(e, &["lock", "/", "--", "true"]).await?, 2, "/")?;
    fails(ctl(e, &["lease", "revoke", "12345"]).await?, 3, "12345")?;
    fails(ctl(e, &["lease", "grant", "0s"]).await?, 2, "0s")?;
    fails(ctl(e, &["lease", "grant", "25h"]).await?, 2, "lease TTL")?;
    fails(ctl(e, &["create", "-e", "/x"]).await?, 2, "--lease")?;
    // A negative revision used to start the watch from now, silently, and run on.
    fails(ctl(e, &["watch", "/w", "--rev=-5"]).await?, 2, "revision")?;
    fails(
        ctl(e, &["put", "/a", "v", "--expected-version=-1"]).await?,
        2,
        "version",
    )?;
    fails(
        ctl(e, &["txn", "-f", "/no/such/file.json"]).await?,
        2,
        "cannot read /no/such/file.json",
    )?;
    fails(
        ctl_with_stdin(e, &["txn"], Some(b"not json")).await?,
        2,
        "JSON",
    )?;
    fails(ctl("https://127.0.0.1:1", &["get", "/"]).await?, 2, "https")?;
    fails(ctl("127.0.0.1:notaport", &["get", "/"]).await?, 2, "port")?;
    // Nothing listens there: exit 5, within the timeout.
    let dead = format!("127.0.0.1:{}", corral_tests::Ports::allocate()?.client);
    fails(
        ctl(&dead, &["--timeout", "2s", "get", "/"]).await?,
        5,
        "connect",
    )?;
    // The help and the completion scripts are not errors.
    let help = ctl(e, &["--help"]).await?;
    assert!(help.status.success() && stdout(&help).contains("Exit status"));
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(ctl(e, &["completion", shell]).await?)?;
        assert!(script.contains("corralctl"), "{shell}");
    }
    // Nothing was changed by any of it.
    let root = server.client().await?.list("/", None).await?;
    assert!(root.nodes.is_empty(), "{:?}", root.nodes);
    Ok(())
}

#[tokio::test]
async fn values_from_a_file_or_stdin_round_trip_byte_for_byte() -> Result<()> {
    let server = Server::start().await?;
    let e = server.client_addr();
    let e = e.as_str();
    let client = server.client().await?;

    // Every byte value: not UTF-8, with NULs, and no newline at the end.
    let binary: Vec<u8> = (0..=255).collect();
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("binary.bin");
    std::fs::write(&file, &binary)?;
    let file = file.display().to_string();
    ok(ctl(e, &["create", "/bin", "--file", &file]).await?)?;
    assert_eq!(client.get("/bin", None).await?.node.data, binary, "stored");
    let raw = ctl(e, &["get", "--raw", "/bin"]).await?;
    ensure!(raw.status.success(), "get --raw: {}", stderr(&raw));
    assert_eq!(
        raw.stdout, binary,
        "get --raw writes the bytes and nothing else"
    );

    // 200 KB, more than an argument can hold, through stdin.
    let big: Vec<u8> = (0..200 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    ok(ctl_with_stdin(e, &["put", "/bin", "-"], Some(&big)).await?)?;
    let raw = ctl(e, &["get", "--raw", "/bin"]).await?;
    ensure!(raw.status.success(), "get --raw: {}", stderr(&raw));
    ensure!(raw.stdout == big, "{} bytes back", raw.stdout.len());
    ok(ctl_with_stdin(e, &["create", "/text", "-"], Some(b"line\n")).await?)?;
    assert_eq!(
        ok(ctl(e, &["get", "/text"]).await?)?,
        "line\n",
        "no second newline"
    );
    let file_again = ctl(e, &["create", "/text2", "--file", "-"]).await?;
    ok(file_again)?;
    assert_eq!(
        client.get("/text2", None).await?.node.data,
        b"",
        "--file - reads stdin"
    );

    // Input that cannot be read is reported as such, before any member is asked.
    fails(
        ctl(e, &["put", "/bin", "--file", "/no/such/value"]).await?,
        2,
        "cannot read /no/such/value",
    )?;
    let dead = format!("127.0.0.1:{}", corral_tests::Ports::allocate()?.client);
    fails(
        ctl(&dead, &["create", "/x", "--file", "/no/such/value"]).await?,
        2,
        "cannot read /no/such/value",
    )?;
    let folder = dir.path().display().to_string();
    fails(
        ctl(e, &["txn", "-f", &folder]).await?,
        2,
        &format!("cannot read {folder}"),
    )?;
    fails(ctl(e, &["put", "/bin"]).await?, 2, "--file")?;
    fails(
        ctl(e, &["put", "/bin", "v", "--file", &file]).await?,
        2,
        "--file",
    )?;
    fails(
        ctl(e, &["-o", "json", "get", "--raw", "/bin"]).await?,
        2,
        "--raw",
    )?;
    Ok(())
}

#[tokio::test]
async fn errors_are_phrased_with_corralctls_flags_not_the_apis_fields() -> Result<()> {
    let server = Server::start().await?;
    let e = server.client_addr();
    let e = e.as_str();
    let err = fails(
        ctl(e, &["create", "/a/b/c", "x"]).await?,
        3,
        "parent /a/b does not exist; pass -p/--parents",
    )?;
    ensure!(!err.contains("create_parents"), "{err}");
    ok(ctl(e, &["create", "-p", "/a/b/c", "x"]).await?)?;
    let err = fails(ctl(e, &["rm", "/a"]).await?, 4, "pass -r/--recursive")?;
    ensure!(!err.contains("set recursive"), "{err}");
    fails(
        ctl(e, &["put", "--create", "/x/y", "v"]).await?,
        3,
        "corralctl create -p /x",
    )?;
    let err = fails(
        ctl(e, &["create", "-e", "--lease", "424242", "/e"]).await?,
        3,
        "corralctl lease grant",
    )?;
    ensure!(!err.contains("Lease/Grant"), "{err}");
    let txn = br#"{"success": [{"op": "create", "path": "/p/q/r"}]}"#;
    let err = fails(
        ctl_with_stdin(e, &["txn"], Some(txn)).await?,
        3,
        "\"parents\": true",
    )?;
    ensure!(!err.contains("create_parents"), "{err}");
    Ok(())
}

#[tokio::test]
async fn a_write_whose_answer_never_comes_may_have_been_applied() -> Result<()> {
    let server = Server::start().await?;
    let proxy = Proxy::start(&server.client_addr()).await?;
    // The request goes out and nothing comes back: the write times out, and corralctl
    // cannot know whether it was committed.
    proxy.block();
    let out = ctl(
        &proxy.addr,
        &["--timeout", "2s", "put", "--create", "/maybe", "v"],
    )
    .await?;
    proxy.unblock();
    let err = fails(out, 5, "may or may not have been applied")?;
    ensure!(err.contains("`corralctl get /maybe`"), "{err}");
    // A read that times out says only that.
    proxy.block();
    let out = ctl(&proxy.addr, &["--timeout", "2s", "get", "/maybe"]).await?;
    proxy.unblock();
    let err = fails(out, 5, "")?;
    ensure!(!err.contains("applied"), "{err}");
    Ok(())
}

/// `corralctl --user root --password PW ARGS...`.
async fn as_root(endpoints: &str, args: &[&str]) -> Result<Output> {
    let mut all = vec!["--user", "root", "--password", "root-pw"];
    all.extend_from_slice(args);
    ctl(endpoints, &all).await
}

#[tokio::test]
async fn auth_user_role_and_acl_commands_end_to_end() -> Result<()> {
    let server = Server::start().await?;
    let e = server.client_addr();
    let e = e.as_str();
    // Enabling needs root first.
    fails(ctl(e, &["auth", "enable"]).await?, 4, "user add root")?;
    assert_eq!(
        ok(ctl(e, &["user", "add", "root", "--new-password", "root-pw"]).await?)?,
        "user root added\n"
    );
    assert_eq!(ok(ctl(e, &["auth", "enable"]).await?)?, "auth enabled\n");
    let status = ok(ctl(e, &["auth", "status"]).await?)?;
    assert!(
        status.contains("enabled       true") && status.contains("(anonymous)"),
        "{status}"
    );
    // Anonymous writes are refused, saying how to log in.
    fails(ctl(e, &["create", "/x"]).await?, 6, "--user")?;

    ok(as_root(e, &["role", "add", "team-a"]).await?)?;
    ok(as_root(e, &["user", "add", "bob", "--new-password", "bob-pw"]).await?)?;
    assert_eq!(
        ok(as_root(e, &["user", "grant-role", "bob", "team-a"]).await?)?,
        "granted role team-a to bob\n"
    );
    let users = json(&ok(as_root(e, &["-o", "json", "user", "list"]).await?)?)?;
    let bob = users["users"]
        .as_array()
        .context("users")?
        .iter()
        .find(|u| u["name"] == "bob")
        .context("bob listed")?;
    assert_eq!(bob["roles"], serde_json::json!(["team-a"]));
    let table = ok(as_root(e, &["user", "list"]).await?)?;
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().eq(["bob", "team-a"])),
        "{table}"
    );
    assert_eq!(ok(as_root(e, &["role", "list"]).await?)?, "team-a\n");
    let me = json(&ok(as_root(e, &["-o", "json", "auth", "status"]).await?)?)?;
    assert_eq!(me["user"], "root");
    assert_eq!(me["enabled"], true);

    // ACLs: on create, read back in the syntax `acl set` takes, replaced with a CAS.
    ok(as_root(
        e,
        &[
            "create",
            "/team",
            "v0",
            "--acl",
            "role:team-a=rwcd",
            "--acl",
            "anyone=r",
        ],
    )
    .await?)?;
    assert_eq!(
        ok(as_root(e, &["acl", "get", "/team"]).await?)?,
        "role:team-a=rwcd\nanyone=r\n"
    );
    let set = ok(as_root(
        e,
        &[
            "acl",
            "set",
            "/team",
            "role:team-a=read,write",
            "anyone=r",
            "user:root=all",
            "--expected-acl-version",
            "0",
        ],
    )
    .await?)?;
    assert!(set.starts_with("OK acl_version=1 "), "{set}");
    fails(
        as_root(
            e,
            &[
                "acl",
                "set",
                "/team",
                "anyone=r",
                "--expected-acl-version",
                "0",
            ],
        )
        .await?,
        4,
        "",
    )?;
    let acl = json(&ok(
        as_root(e, &["-o", "json", "acl", "get", "/team"]).await?
    )?)?;
    assert_eq!(acl["stat"]["aclVersion"], "1");
    assert_eq!(acl["acl"][0]["principal"], "role:team-a");
    assert_eq!(
        acl["acl"][0]["permissions"],
        serde_json::json!(["READ", "WRITE"])
    );
    fails(
        as_root(e, &["acl", "set", "/team", "bob=rw"]).await?,
        2,
        "principal",
    )?;
    fails(
        as_root(e, &["acl", "set", "/team", "user:bob"]).await?,
        2,
        "PRINCIPAL=PERMISSIONS",
    )?;
    fails(as_root(e, &["acl", "set", "/team"]).await?, 2, "ENTRY")?;

    // Bob, from the environment: may write /team (team-a), may not read its ACL.
    let bob_env = [("CORRALCTL_USER", "bob"), ("CORRALCTL_PASSWORD", "bob-pw")];
    ok(ctl_with_env(e, &["put", "/team", "by bob"], None, &bob_env).await?)?;
    fails(
        ctl_with_env(e, &["acl", "get", "/team"], None, &bob_env).await?,
        6,
        "permission denied",
    )?;
    fails(
        ctl_with_env(e, &["user", "list"], None, &bob_env).await?,
        6,
        "only root",
    )?;
    // No password and no terminal to ask on: a clear error, no hang.
    fails(
        ctl(e, &["--user", "bob", "get", "/team"]).await?,
        2,
        "CORRALCTL_PASSWORD",
    )?;
    fails(
        ctl(e, &["--user", "bob", "user", "add", "carol"]).await?,
        2,
        "",
    )?;
    fails(
        ctl(e, &["--password", "x", "get", "/team"]).await?,
        2,
        "--user",
    )?;
    fails(
        ctl(e, &["--user", "bob", "--password", "nope", "get", "/team"]).await?,
        6,
        "wrong user name or password",
    )?;
    // A new password: the old one no longer works.
    ok(as_root(e, &["user", "passwd", "bob", "--new-password", "bob-pw2"]).await?)?;
    fails(
        ctl_with_env(e, &["get", "/team"], None, &bob_env).await?,
        6,
        "wrong user name or password",
    )?;
    assert_eq!(
        ok(ctl(
            e,
            &["--user", "bob", "--password", "bob-pw2", "get", "/team"]
        )
        .await?)?,
        "by bob\n"
    );
    fails(
        as_root(e, &["user", "delete", "nobody"]).await?,
        3,
        "nobody",
    )?;
    fails(as_root(e, &["role", "add", "team-a"]).await?, 4, "team-a")?;
    ok(as_root(e, &["user", "revoke-role", "bob", "team-a"]).await?)?;
    ok(as_root(e, &["role", "delete", "team-a"]).await?)?;
    ok(as_root(e, &["user", "delete", "bob"]).await?)?;
    assert_eq!(
        ok(as_root(e, &["auth", "disable"]).await?)?,
        "auth disabled\n"
    );
    ok(ctl(e, &["create", "/open"]).await?)?;
    Ok(())
}
