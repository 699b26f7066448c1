//! The Rust client's authentication and ACLs against real servers: credentials
//! exchanged for tokens lazily, tokens renewed while calls go on past their lifetime,
//! typed `Unauthenticated` and `PermissionDenied` errors (nothing changed), a password
//! changed elsewhere recovered only with the new password, ACLs read, inherited and
//! replaced with a compare-and-set, user and role administration, and watches and
//! sessions that carry on across token lifetimes and a restart.

mod sdk_common;

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use corral_client::{
    AclEntry, Client, CreateOptions, Error, EventType, Permissions, Principal, PutOptions, Session,
    UnauthenticatedReason, WatchOptions,
};
use corral_tests::{NodeConfig, Server};
use sdk_common::TIMEOUT;

const ROOT_PASSWORD: &str = "root-secret";

/// A single-node server started with `extra` flags.
async fn server_with(extra: &[&str]) -> Result<Server> {
    let mut config = NodeConfig::single()?;
    config.extra_args = extra.iter().map(|a| a.to_string()).collect();
    let mut server = Server::spawn(config)?;
    server.wait_ready().await?;
    Ok(server)
}

/// A client of `server` authenticating as `user` with `password`.
async fn login(server: &Server, user: &str, password: &str) -> Result<Client> {
    Ok(Client::builder([server.endpoint()])
        .timeout(TIMEOUT)
        .credentials(user, password)
        .connect()
        .await?)
}

/// Adds `root`, enables auth and returns a root client.
async fn enable_auth(server: &Server) -> Result<Client> {
    let anonymous = server.client().await?;
    anonymous.user_add("root", ROOT_PASSWORD).await?;
    anonymous.auth_enable().await?;
    login(server, "root", ROOT_PASSWORD).await
}

/// Waits until a restarted `server` with auth enabled serves root's reads.
async fn wait_ready_as_root(server: &mut Server) -> Result<()> {
    let deadline = Instant::now() + corral_tests::READY_TIMEOUT;
    loop {
        ensure!(
            server.is_running(),
            "the server exited: {}",
            server.log_tail(20)
        );
        let attempt = async {
            Client::builder([server.endpoint()])
                .timeout(Duration::from_secs(2))
                .connect_timeout(Duration::from_secs(1))
                .credentials("root", ROOT_PASSWORD)
                .connect()
                .await?
                .get("/", None)
                .await
        };
        match attempt.await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => bail!("not ready: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn entry(text: &str) -> AclEntry {
    text.parse()
        .unwrap_or_else(|e| panic!("test entry {text:?}: {e}"))
}

fn is_unauthenticated(result: &Error, reason: UnauthenticatedReason) -> bool {
    matches!(result, Error::Unauthenticated { reason: r, .. } if *r == reason)
}

#[tokio::test]
async fn credentials_are_exchanged_for_a_token_the_server_knows_the_user_by() -> Result<()> {
    let server = Server::start().await?;
    let root = enable_auth(&server).await?;
    root.role_add("team-a").await?;
    root.user_add("bob", "bob-pw").await?;
    root.user_grant_role("bob", "team-a").await?;
    let bob = login(&server, "bob", "bob-pw").await?;
    assert_eq!(bob.user().as_deref(), Some("bob"));
    let status = bob.auth_status().await?;
    assert!(status.enabled);
    assert_eq!(status.user.as_deref(), Some("bob"));
    assert_eq!(status.roles, ["team-a"]);
    assert_eq!(status.token_ttl, Duration::from_secs(300));
    // What bob writes is his (the root's default ACL lets anyone do anything).
    bob.create("/bobs", "hi", None).await?;
    assert_eq!(root.get("/bobs", None).await?.node.data, b"hi");
    // A token from Authenticate, handed to another client, identifies bob there too.
    let handed = root.authenticate("bob", "bob-pw").await?;
    assert!(!handed.token.is_empty());
    let other = Client::builder([server.endpoint()])
        .timeout(TIMEOUT)
        .token(handed.token)
        .connect()
        .await?;
    assert_eq!(other.auth_status().await?.user.as_deref(), Some("bob"));
    Ok(())
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_typed_unauthenticated_errors() -> Result<()> {
    let server = Server::start().await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "bob-pw").await?;
    let anonymous = server.client().await?;
    let err = anonymous
        .create("/anon", "", None)
        .await
        .expect_err("anonymous write");
    assert!(
        is_unauthenticated(&err, UnauthenticatedReason::AuthRequired),
        "{err:?}"
    );
    let wrong = login(&server, "bob", "not-bobs").await?;
    let err = wrong.get("/", None).await.expect_err("wrong password");
    match &err {
        Error::Unauthenticated {
            reason: UnauthenticatedReason::BadCredentials,
            user,
            ..
        } => assert_eq!(user.as_deref(), Some("bob")),
        other => bail!("expected BadCredentials, got {other:?}"),
    }
    let err = login(&server, "nobody", "x")
        .await?
        .get("/", None)
        .await
        .expect_err("unknown user");
    assert!(
        is_unauthenticated(&err, UnauthenticatedReason::BadCredentials),
        "{err:?}"
    );
    // Nothing was created by the refused calls.
    assert!(matches!(
        root.get("/anon", None).await,
        Err(Error::NotFound { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn permission_denied_names_the_path_permission_and_user_and_changes_nothing() -> Result<()> {
    let server = Server::start().await?;
    let root = enable_auth(&server).await?;
    root.role_add("team-a").await?;
    root.user_add("bob", "bob-pw").await?;
    root.user_add("eve", "eve-pw").await?;
    root.user_grant_role("bob", "team-a").await?;
    root.create(
        "/team-a",
        "v0",
        CreateOptions::new().acl([entry("role:team-a=rwcd"), entry("authenticated=r")]),
    )
    .await?;
    let bob = login(&server, "bob", "bob-pw").await?;
    let eve = login(&server, "eve", "eve-pw").await?;
    bob.put("/team-a", "by bob", None).await?;
    let err = eve
        .put("/team-a", "by eve", None)
        .await
        .expect_err("eve may only read");
    match &err {
        Error::PermissionDenied {
            path,
            permission,
            user,
            ..
        } => {
            assert_eq!(path.as_deref(), Some("/team-a"));
            assert_eq!(permission.as_deref(), Some("write"));
            assert_eq!(user.as_deref(), Some("eve"));
        }
        other => bail!("expected PermissionDenied, got {other:?}"),
    }
    let err = eve
        .create("/team-a/x", "", None)
        .await
        .expect_err("no create on /team-a");
    assert!(
        matches!(&err, Error::PermissionDenied { permission: Some(p), .. } if p == "create"),
        "{err:?}"
    );
    assert_eq!(eve.get("/team-a", None).await?.node.data, b"by bob");
    // Root-only calls name no path.
    let err = bob.user_list().await.expect_err("bob is not root");
    assert!(
        matches!(&err, Error::PermissionDenied { path: None, permission: Some(p), .. } if p == "root"),
        "{err:?}"
    );
    // Nothing changed: the data is bob's, no child was made.
    let node = root.get("/team-a", None).await?.node;
    assert_eq!(node.data, b"by bob");
    assert_eq!(node.stat.num_children, 0);
    Ok(())
}

#[tokio::test]
async fn acls_round_trip_are_inherited_and_set_acl_compares_the_acl_version() -> Result<()> {
    let server = Server::start().await?;
    let root = enable_auth(&server).await?;
    let acl = vec![
        entry("user:bob=rw"),
        entry("role:ops=rwcda"),
        entry("anyone=r"),
    ];
    root.create("/app", "", CreateOptions::new().acl(acl.clone()))
        .await?;
    let read = root.get_acl("/app").await?;
    assert_eq!(read.acl, acl, "entries kept in order");
    assert_eq!(read.stat.acl_version, 0);
    // A child created without an ACL copies its parent's.
    root.create("/app/child", "", None).await?;
    assert_eq!(root.get_acl("/app/child").await?.acl, acl);
    // Compare-and-set on the ACL's version.
    let narrowed = vec![AclEntry::new(
        Principal::User("bob".into()),
        Permissions::READ,
    )];
    let set = root.set_acl("/app", narrowed.clone(), Some(0)).await?;
    assert_eq!(set.stat.acl_version, 1);
    let err = root
        .set_acl("/app", acl.clone(), Some(0))
        .await
        .expect_err("stale acl version");
    match &err {
        Error::AclVersionMismatch {
            path,
            expected,
            current,
            ..
        } => {
            assert_eq!(path, "/app");
            assert_eq!((*expected, *current), (0, 1));
        }
        other => bail!("expected AclVersionMismatch, got {other:?}"),
    }
    let now = root.get_acl("/app").await?;
    assert_eq!(now.acl, narrowed, "the refused SetAcl changed nothing");
    assert_eq!(now.stat.acl_version, 1);
    // Without an expected version it always applies.
    root.set_acl("/app", acl.clone(), None).await?;
    assert_eq!(root.get_acl("/app").await?.stat.acl_version, 2);
    // An ACL needs at least one entry.
    let err = root
        .set_acl("/app", Vec::new(), None)
        .await
        .expect_err("empty ACL");
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    // Reading an ACL needs admin.
    root.user_add("bob", "bob-pw").await?;
    let bob = login(&server, "bob", "bob-pw").await?;
    let err = bob.get_acl("/app").await.expect_err("bob lacks admin");
    assert!(
        matches!(&err, Error::PermissionDenied { permission: Some(p), .. } if p == "admin"),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn tokens_are_renewed_while_calls_go_on_past_their_lifetime() -> Result<()> {
    let server = server_with(&["--auth-token-ttl-ms", "2000"]).await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "bob-pw").await?;
    root.create("/tick", "0", None).await?;
    let bob = login(&server, "bob", "bob-pw").await?;
    assert_eq!(
        bob.auth_status().await?.token_ttl,
        Duration::from_millis(2000)
    );
    let started = Instant::now();
    let mut calls = 0u32;
    while started.elapsed() < Duration::from_secs(5) {
        bob.put("/tick", calls.to_string(), None)
            .await
            .with_context(|| format!("put {calls} at {:?}", started.elapsed()))?;
        bob.get("/tick", None)
            .await
            .with_context(|| format!("get {calls} at {:?}", started.elapsed()))?;
        calls += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(calls >= 20, "only {calls} rounds in 5 s");
    // The last put is there: every one of them applied.
    let last = root.get("/tick", None).await?.node;
    assert_eq!(last.data, (calls - 1).to_string().as_bytes());
    assert_eq!(last.stat.version, i64::from(calls));
    Ok(())
}

#[tokio::test]
async fn a_handed_over_token_works_until_it_expires_then_is_a_typed_error() -> Result<()> {
    let server = server_with(&["--auth-token-ttl-ms", "2000"]).await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "bob-pw").await?;
    let token = root.authenticate("bob", "bob-pw").await?;
    assert_eq!(token.ttl, Duration::from_millis(2000));
    let holder = Client::builder([server.endpoint()])
        .timeout(TIMEOUT)
        .token(token.token)
        .connect()
        .await?;
    holder.get("/", None).await?;
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let err = holder.get("/", None).await.expect_err("expired");
    assert!(
        is_unauthenticated(&err, UnauthenticatedReason::TokenExpired),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_password_changed_elsewhere_is_recovered_only_with_the_new_password() -> Result<()> {
    let server = Server::start().await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "old-pw").await?;
    let bob = login(&server, "bob", "old-pw").await?;
    bob.create("/b", "1", None).await?;
    root.user_change_password("bob", "new-pw").await?;
    // Bob's token is revoked; the client renews it once, with the password it has.
    let err = bob.put("/b", "2", None).await.expect_err("old password");
    assert!(
        is_unauthenticated(&err, UnauthenticatedReason::BadCredentials),
        "{err:?}"
    );
    assert_eq!(
        root.get("/b", None).await?.node.data,
        b"1",
        "nothing changed"
    );
    bob.set_credentials("bob", "new-pw");
    bob.put("/b", "3", None).await?;
    assert_eq!(root.get("/b", None).await?.node.data, b"3");
    Ok(())
}

#[tokio::test]
async fn changing_ones_own_password_keeps_the_client_working() -> Result<()> {
    let server = Server::start().await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "old-pw").await?;
    let bob = login(&server, "bob", "old-pw").await?;
    let clone = bob.clone();
    bob.create("/own", "1", None).await?;
    bob.user_change_password("bob", "new-pw").await?;
    // The old token is revoked; the client (and its clones) use the new password.
    clone.put("/own", "2", None).await?;
    assert_eq!(bob.auth_status().await?.user.as_deref(), Some("bob"));
    // A fresh client with the old password is refused.
    let err = login(&server, "bob", "old-pw")
        .await?
        .get("/", None)
        .await
        .expect_err("old password");
    assert!(
        is_unauthenticated(&err, UnauthenticatedReason::BadCredentials),
        "{err:?}"
    );
    Ok(())
}

#[tokio::test]
async fn users_and_roles_are_administered_with_typed_errors() -> Result<()> {
    let server = Server::start().await?;
    let anonymous = server.client().await?;
    let err = anonymous.auth_enable().await.expect_err("no root yet");
    assert!(matches!(err, Error::RootRequired { .. }), "{err:?}");
    let root = enable_auth(&server).await?;
    root.role_add("readers").await?;
    root.role_add("writers").await?;
    let err = root.role_add("readers").await.expect_err("duplicate role");
    assert!(
        matches!(&err, Error::RoleExists { role, .. } if role == "readers"),
        "{err:?}"
    );
    root.user_add("ann", "ann-pw").await?;
    let err = root.user_add("ann", "x").await.expect_err("duplicate user");
    assert!(
        matches!(&err, Error::UserExists { user, .. } if user == "ann"),
        "{err:?}"
    );
    root.user_grant_role("ann", "writers").await?;
    root.user_grant_role("ann", "readers").await?;
    let err = root
        .user_grant_role("ann", "nosuch")
        .await
        .expect_err("no such role");
    assert!(
        matches!(&err, Error::RoleNotFound { role, .. } if role == "nosuch"),
        "{err:?}"
    );
    let users = root.user_list().await?.users;
    let ann = users
        .iter()
        .find(|u| u.name == "ann")
        .context("ann listed")?;
    assert_eq!(ann.roles, ["readers", "writers"]);
    assert!(users.iter().any(|u| u.name == "root"));
    root.user_revoke_role("ann", "writers").await?;
    root.role_delete("readers").await?;
    let users = root.user_list().await?.users;
    let ann = users.iter().find(|u| u.name == "ann").context("ann")?;
    assert!(ann.roles.is_empty(), "{:?}", ann.roles);
    assert_eq!(root.role_list().await?.roles, ["writers"]);
    root.user_delete("ann").await?;
    let err = root.user_delete("ann").await.expect_err("gone");
    assert!(
        matches!(&err, Error::UserNotFound { user, .. } if user == "ann"),
        "{err:?}"
    );
    let err = root.user_delete("root").await.expect_err("root is needed");
    assert!(matches!(err, Error::RootRequired { .. }), "{err:?}");
    // Once disabled, anonymous writes work again.
    root.auth_disable().await?;
    anonymous.create("/open", "", None).await?;
    assert!(!anonymous.auth_status().await?.enabled);
    Ok(())
}

#[tokio::test]
async fn a_client_with_credentials_works_before_and_after_auth_is_enabled() -> Result<()> {
    let server = Server::start().await?;
    let anonymous = server.client().await?;
    anonymous.user_add("root", ROOT_PASSWORD).await?;
    // Auth is off: the server issues no tokens, and the client needs none.
    let root = login(&server, "root", ROOT_PASSWORD).await?;
    root.create("/before", "", None).await?;
    root.auth_enable().await?;
    // Now its calls need a token: it authenticates and goes on.
    root.create("/after", "", None).await?;
    assert_eq!(root.auth_status().await?.user.as_deref(), Some("root"));
    Ok(())
}

#[tokio::test]
async fn watch_and_session_carry_on_across_token_lifetimes_and_a_restart() -> Result<()> {
    let mut server = server_with(&["--auth-token-ttl-ms", "2000"]).await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "bob-pw").await?;
    root.create("/w", "", None).await?;
    let bob = login(&server, "bob", "bob-pw").await?;
    let session = Session::new(&bob, Duration::from_secs(10)).await?;
    bob.create(
        "/w/bob",
        "",
        CreateOptions::new().ephemeral(session.lease_id()),
    )
    .await?;
    let mut watcher = bob.watch("/w", WatchOptions::new().subtree()).await?;
    // Past the first token's life, then a restart: the watch and the keepalive
    // streams are opened again, with a token that is valid then.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    root.put("/w", "1", None).await?;
    // kill -9: a graceful stop waits for the open streams to end. The harness's own
    // readiness check is anonymous, which auth refuses: root's client waits instead.
    server.kill9()?;
    server.respawn()?;
    wait_ready_as_root(&mut server).await?;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let root = login(&server, "root", ROOT_PASSWORD).await?;
    root.put("/w", "2", PutOptions::new()).await?;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let event = tokio::time::timeout(Duration::from_secs(15), watcher.next())
            .await
            .context("no event in time")?
            .context("the watch ended")??;
        if event.node.path == "/w" {
            assert_eq!(event.kind, EventType::Updated);
            seen.push(event.node.data);
        }
    }
    assert_eq!(seen, [b"1".to_vec(), b"2".to_vec()]);
    assert!(!session.is_lost(), "the session's keepalives went on");
    root.get("/w/bob", None)
        .await
        .context("the ephemeral znode outlived the tokens")?;
    Ok(())
}

#[tokio::test]
async fn a_watch_ended_by_its_users_password_change_resumes_with_the_new_password() -> Result<()> {
    let server = Server::start().await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "old-pw").await?;
    root.create("/w", "0", None).await?;
    let bob = login(&server, "bob", "old-pw").await?;
    let mut watcher = bob.watch("/w", WatchOptions::new()).await?;
    root.put("/w", "1", None).await?;
    // Bob changes his password through this client: the server ends the watch opened
    // with the old token; the watcher reopens it with a new one, from where it was.
    bob.user_change_password("bob", "new-pw").await?;
    root.put("/w", "2", None).await?;
    root.put("/w", "3", None).await?;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let event = tokio::time::timeout(Duration::from_secs(15), watcher.next())
            .await
            .context("no event in time")?
            .context("the watch ended")??;
        seen.push(event.node.data);
    }
    assert_eq!(seen, [b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
    Ok(())
}

#[tokio::test]
async fn a_watch_whose_user_lost_access_ends_with_a_typed_error() -> Result<()> {
    let server = Server::start().await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "old-pw").await?;
    root.create("/w", "0", None).await?;
    let bob = login(&server, "bob", "old-pw").await?;
    let mut watcher = bob.watch("/w", WatchOptions::new()).await?;
    root.put("/w", "1", None).await?;
    let first = tokio::time::timeout(Duration::from_secs(15), watcher.next())
        .await
        .context("no event in time")?
        .context("the watch ended")??;
    assert_eq!(first.node.data, b"1");
    // Changed elsewhere: the client only has the old password.
    root.user_change_password("bob", "new-pw").await?;
    root.put("/w", "2", None).await?;
    let end = tokio::time::timeout(Duration::from_secs(15), watcher.next())
        .await
        .context("the watch neither ended nor went on")?;
    match end {
        Some(Err(e)) => assert!(
            is_unauthenticated(&e, UnauthenticatedReason::BadCredentials),
            "{e:?}"
        ),
        other => bail!("expected the watch to end with BadCredentials, got {other:?}"),
    }
    assert!(watcher.next().await.is_none(), "the watch has ended");
    Ok(())
}

/// The server's count of tokens issued (`corral_auth_tokens_issued_total`).
async fn tokens_issued(server: &Server) -> Result<u64> {
    let (status, body) = server.http_get("/metrics").await?;
    ensure!(status == 200, "/metrics answered {status}");
    body.lines()
        .find_map(|l| l.strip_prefix("corral_auth_tokens_issued_total "))
        .context("no corral_auth_tokens_issued_total in /metrics")?
        .trim()
        .parse::<f64>()
        .map(|v| v as u64)
        .context("counter value")
}

#[tokio::test]
async fn concurrent_first_calls_share_one_authenticate_and_renewals_stay_few() -> Result<()> {
    let server = server_with(&["--auth-token-ttl-ms", "2000"]).await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "bob-pw").await?;
    root.create("/c", "", None).await?;
    let before = tokens_issued(&server).await?;
    let bob = login(&server, "bob", "bob-pw").await?;
    let calls = (0..32).map(|_| bob.get("/c", None));
    for r in futures::future::join_all(calls).await {
        r?;
    }
    let first = tokens_issued(&server).await? - before;
    ensure!(
        first == 1,
        "32 concurrent first calls made {first} Authenticate calls"
    );
    // 4 s of calls with 2 s tokens, renewed before 20% of their life is left: a
    // handful of renewals (about one per 1.6 s), not one per call.
    let started = Instant::now();
    let mut n = 0;
    while started.elapsed() < Duration::from_secs(4) {
        bob.get("/c", None).await?;
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let renewals = tokens_issued(&server).await? - before - 1;
    ensure!(
        (1..=5).contains(&renewals),
        "{renewals} renewals over {n} calls in 4 s with 2 s tokens"
    );
    Ok(())
}

#[tokio::test]
async fn a_user_who_may_not_read_the_root_watches_it_and_sees_what_they_may_read() -> Result<()> {
    let server = server_with(&[]).await?;
    let root = enable_auth(&server).await?;
    root.user_add("bob", "bob-pw").await?;
    let only_root: AclEntry = "user:root=rwcda".parse()?;
    let bob_reads: AclEntry = "user:bob=r".parse()?;
    root.create(
        "/team",
        "",
        CreateOptions::new().acl([only_root.clone(), bob_reads]),
    )
    .await?;
    root.create("/other", "", CreateOptions::new().acl([only_root.clone()]))
        .await?;
    root.set_acl("/", [only_root], None).await?;
    let bob = login(&server, "bob", "bob-pw").await?;
    // From now, on "/", which bob may not read: the SDK finds "now" another way.
    let mut watcher = bob.watch("/", WatchOptions::new().subtree()).await?;
    root.put("/other", "hidden", None).await?;
    root.put("/team", "seen", None).await?;
    let event = tokio::time::timeout(TIMEOUT, watcher.next())
        .await
        .context("no event")?
        .context("watch ended")??;
    ensure!(
        event.node.path == "/team" && event.node.data == b"seen",
        "bob's first event: {event:?}"
    );
    Ok(())
}
