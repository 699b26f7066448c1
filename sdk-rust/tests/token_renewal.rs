//! The client's token handling against a fake server in this process, which counts
//! Authenticate calls and rejects tokens on command: lazy authentication shared by
//! concurrent calls, renewal before expiry, one renewal and retry after a rejected
//! token (calls and watch streams alike), the typed errors when that cannot help, and
//! clusters with auth disabled. The real server's side is in tests/tests/sdk_auth.rs.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_client::{Client, Error, UnauthenticatedReason, WatchOptions};
use corral_proto::v1 as pb;
use corral_proto::v1::auth_server::{Auth, AuthServer};
use corral_proto::v1::kv_server::{Kv, KvServer};
use corral_proto::v1::watch_server::{Watch, WatchServer};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// What the fake server knows and counts.
struct State {
    /// Whether auth is enabled (else tokens are ignored and none are issued).
    enabled: AtomicBool,
    /// Bob's password.
    password: Mutex<String>,
    /// Lifetime of the tokens it issues.
    ttl_ms: AtomicI64,
    /// Tokens accepted, with when they were issued.
    valid: Mutex<HashMap<String, Instant>>,
    /// Authenticate calls answered.
    authenticates: AtomicUsize,
    /// Calls refused because their token had expired or was unknown.
    rejected: AtomicUsize,
    /// The next this many Gets are refused TOKEN_EXPIRED, whatever their token.
    reject_gets: AtomicUsize,
    /// The next this many watch streams are refused TOKEN_EXPIRED at open.
    reject_watches: AtomicUsize,
    /// Tokens the Gets carried, in order (`None`: no token).
    seen: Mutex<Vec<Option<String>>>,
}

impl State {
    fn new() -> Arc<State> {
        Arc::new(State {
            enabled: AtomicBool::new(true),
            password: Mutex::new("pw".into()),
            ttl_ms: AtomicI64::new(300_000),
            valid: Mutex::new(HashMap::new()),
            authenticates: AtomicUsize::new(0),
            rejected: AtomicUsize::new(0),
            reject_gets: AtomicUsize::new(0),
            reject_watches: AtomicUsize::new(0),
            seen: Mutex::new(Vec::new()),
        })
    }

    fn authenticates(&self) -> usize {
        self.authenticates.load(Ordering::SeqCst)
    }

    /// Checks a request's token as the server would; `Ok` when it may go on.
    fn check<T>(&self, request: &Request<T>, forced: &AtomicUsize) -> Result<(), Status> {
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_string);
        if !self.enabled.load(Ordering::SeqCst) {
            return Ok(());
        }
        let Some(token) = token else {
            return Err(refused("AUTH_REQUIRED"));
        };
        let taken = forced
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let mut valid = self.valid.lock().expect("lock");
        let ttl = Duration::from_millis(self.ttl_ms.load(Ordering::SeqCst) as u64);
        let fresh = valid
            .get(&token)
            .is_some_and(|issued| issued.elapsed() < ttl);
        if taken || !fresh {
            valid.remove(&token);
            self.rejected.fetch_add(1, Ordering::SeqCst);
            return Err(refused("TOKEN_EXPIRED"));
        }
        Ok(())
    }
}

fn refused(reason: &str) -> Status {
    Status::with_error_details(
        Code::Unauthenticated,
        format!("refused: {reason}"),
        ErrorDetails::with_error_info(reason, "corral.v1", HashMap::new()),
    )
}

fn header() -> Option<pb::ResponseHeader> {
    Some(pb::ResponseHeader {
        cluster_id: 1,
        member_id: 1,
        revision: 1,
        raft_term: 1,
    })
}

/// Implements `$trait` for `$ty` with the methods given and UNIMPLEMENTED for the rest
/// (`#[async_trait]` must see every method, so the whole impl is generated).
macro_rules! fake_service {
    ($trait:ident for $ty:ty { $($own:item)* } unimplemented { $($m:ident: $req:ident => $resp:ident),* $(,)? }) => {
        #[tonic::async_trait]
        impl $trait for $ty {
            $($own)*
            $(
                async fn $m(&self, _: Request<pb::$req>) -> Result<Response<pb::$resp>, Status> {
                    Err(Status::unimplemented("not in the fake"))
                }
            )*
        }
    };
}

#[derive(Clone)]
struct Fake(Arc<State>);

fake_service!(Auth for Fake {
    async fn authenticate(
        &self,
        request: Request<pb::AuthenticateRequest>,
    ) -> Result<Response<pb::AuthenticateResponse>, Status> {
        let state = &self.0;
        if request.metadata().contains_key("authorization") {
            return Err(Status::invalid_argument("Authenticate must not carry a token"));
        }
        if !state.enabled.load(Ordering::SeqCst) {
            return Err(Status::invalid_argument("auth is not enabled"));
        }
        // Slow, as a password hash is: concurrent callers pile up meanwhile.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let n = state.authenticates.fetch_add(1, Ordering::SeqCst) + 1;
        let r = request.into_inner();
        if r.name != "bob" || r.password != *state.password.lock().expect("lock") {
            return Err(refused("BAD_CREDENTIALS"));
        }
        let token = format!("token-{n}");
        state
            .valid
            .lock()
            .expect("lock")
            .insert(token.clone(), Instant::now());
        Ok(Response::new(pb::AuthenticateResponse {
            header: header(),
            token,
            ttl_ms: state.ttl_ms.load(Ordering::SeqCst),
        }))
    }

    async fn status(
        &self,
        _: Request<pb::AuthStatusRequest>,
    ) -> Result<Response<pb::AuthStatusResponse>, Status> {
        Ok(Response::new(pb::AuthStatusResponse {
            header: header(),
            enabled: self.0.enabled.load(Ordering::SeqCst),
            ..Default::default()
        }))
    }
} unimplemented {
    enable: AuthEnableRequest => AuthEnableResponse,
    disable: AuthDisableRequest => AuthDisableResponse,
    user_add: AuthUserAddRequest => AuthUserAddResponse,
    user_delete: AuthUserDeleteRequest => AuthUserDeleteResponse,
    user_list: AuthUserListRequest => AuthUserListResponse,
    user_change_password: AuthUserChangePasswordRequest => AuthUserChangePasswordResponse,
    user_grant_role: AuthUserGrantRoleRequest => AuthUserGrantRoleResponse,
    user_revoke_role: AuthUserRevokeRoleRequest => AuthUserRevokeRoleResponse,
    role_add: AuthRoleAddRequest => AuthRoleAddResponse,
    role_delete: AuthRoleDeleteRequest => AuthRoleDeleteResponse,
    role_list: AuthRoleListRequest => AuthRoleListResponse,
});

fake_service!(Kv for Fake {
    async fn get(&self, request: Request<pb::GetRequest>) -> Result<Response<pb::GetResponse>, Status> {
        let state = &self.0;
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        state.seen.lock().expect("lock").push(token);
        state.check(&request, &state.reject_gets)?;
        Ok(Response::new(pb::GetResponse {
            header: header(),
            node: Some(pb::Node {
                path: request.into_inner().path,
                data: b"v".to_vec(),
                stat: Some(pb::Stat {
                    kind: pb::NodeKind::Persistent.into(),
                    ..Default::default()
                }),
            }),
        }))
    }
} unimplemented {
    create: CreateRequest => CreateResponse,
    put: PutRequest => PutResponse,
    list: ListRequest => ListResponse,
    delete: DeleteRequest => DeleteResponse,
    txn: TxnRequest => TxnResponse,
    get_acl: GetAclRequest => GetAclResponse,
    set_acl: SetAclRequest => SetAclResponse,
});

type WatchStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::WatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Watch for Fake {
    type WatchStream = WatchStream;

    /// Answers the first create with `created` and one CREATED event of `/w/a` at
    /// revision 5, then keeps the stream open.
    async fn watch(
        &self,
        request: Request<tonic::Streaming<pb::WatchRequest>>,
    ) -> Result<Response<WatchStream>, Status> {
        self.0.check(&request, &self.0.reject_watches)?;
        let mut requests = request.into_inner();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            if let Ok(Some(_create)) = requests.message().await {
                let created = pb::WatchResponse {
                    header: header(),
                    watch_id: 1,
                    created: true,
                    ..Default::default()
                };
                let event = pb::WatchResponse {
                    header: header(),
                    watch_id: 1,
                    events: vec![pb::Event {
                        r#type: pb::EventType::Created.into(),
                        node: Some(pb::Node {
                            path: "/w/a".into(),
                            data: b"1".to_vec(),
                            stat: Some(pb::Stat {
                                kind: pb::NodeKind::Persistent.into(),
                                ..Default::default()
                            }),
                        }),
                        prev_node: None,
                        revision: 5,
                    }],
                    ..Default::default()
                };
                let _ = tx.send(Ok(created)).await;
                let _ = tx.send(Ok(event)).await;
            }
            // Held open until the client goes.
            while let Ok(Some(_)) = requests.message().await {}
        });
        Ok(Response::new(
            Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)) as WatchStream,
        ))
    }
}

/// Serves the fake on a free port; returns its state and address.
async fn serve() -> (Arc<State>, SocketAddr) {
    let state = State::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let fake = Fake(state.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(AuthServer::new(fake.clone()))
            .add_service(KvServer::new(fake.clone()))
            .add_service(WatchServer::new(fake))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );
    (state, addr)
}

async fn bob(addr: SocketAddr) -> Client {
    Client::builder([addr.to_string()])
        .timeout(Duration::from_secs(5))
        .credentials("bob", "pw")
        .connect()
        .await
        .expect("connect")
}

#[tokio::test]
async fn concurrent_first_calls_share_one_authenticate() {
    let (state, addr) = serve().await;
    let client = bob(addr).await;
    assert_eq!(state.authenticates(), 0, "connecting does not authenticate");
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.get(format!("/k{i}"), None).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("get");
    }
    assert_eq!(state.authenticates(), 1);
    let seen = state.seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 32);
    assert!(
        seen.iter().all(|t| t.as_deref() == Some("Bearer token-1")),
        "{seen:?}"
    );
}

#[tokio::test]
async fn a_rejected_token_is_renewed_once_and_the_call_sent_again() {
    let (state, addr) = serve().await;
    let client = bob(addr).await;
    client.get("/a", None).await.expect("first get");
    state.reject_gets.store(1, Ordering::SeqCst);
    let node = client.get("/a", None).await.expect("renewed and retried");
    assert_eq!(node.node.data, b"v");
    assert_eq!(state.authenticates(), 2);
    let seen = state.seen.lock().expect("lock").clone();
    assert_eq!(
        seen.iter().map(|t| t.as_deref()).collect::<Vec<_>>(),
        [
            Some("Bearer token-1"),
            Some("Bearer token-1"),
            Some("Bearer token-2")
        ]
    );
}

#[tokio::test]
async fn a_token_rejected_again_after_renewal_is_the_callers_typed_error() {
    let (state, addr) = serve().await;
    let client = bob(addr).await;
    client.get("/a", None).await.expect("first get");
    state.reject_gets.store(2, Ordering::SeqCst);
    let err = client.get("/a", None).await.expect_err("rejected twice");
    assert!(
        matches!(
            err,
            Error::Unauthenticated {
                reason: UnauthenticatedReason::TokenExpired,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(state.authenticates(), 2, "renewed once, not in a loop");
    // The next call starts afresh.
    client.get("/a", None).await.expect("next get");
}

#[tokio::test]
async fn a_changed_password_gives_bad_credentials_until_the_client_is_given_it() {
    let (state, addr) = serve().await;
    let client = bob(addr).await;
    client.get("/a", None).await.expect("first get");
    // Someone else changed bob's password: his tokens are void.
    *state.password.lock().expect("lock") = "new-pw".into();
    state.valid.lock().expect("lock").clear();
    let err = client.get("/a", None).await.expect_err("old password");
    assert!(
        matches!(
            err,
            Error::Unauthenticated {
                reason: UnauthenticatedReason::BadCredentials,
                ..
            }
        ),
        "{err:?}"
    );
    client.set_credentials("bob", "new-pw");
    client.get("/a", None).await.expect("new password");
    assert_eq!(client.user().as_deref(), Some("bob"));
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire() {
    let (state, addr) = serve().await;
    state.ttl_ms.store(600, Ordering::SeqCst);
    let client = bob(addr).await;
    let until = Instant::now() + Duration::from_millis(2000);
    while Instant::now() < until {
        client.get("/a", None).await.expect("get");
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    // Renewed at 80% of each token's life: never sent one the server refused.
    assert_eq!(state.rejected.load(Ordering::SeqCst), 0);
    assert!(state.authenticates() >= 3, "{}", state.authenticates());
}

#[tokio::test]
async fn a_watch_refused_at_open_renews_its_token_and_carries_on() {
    let (state, addr) = serve().await;
    let client = bob(addr).await;
    client.get("/w", None).await.expect("first get");
    state.reject_watches.store(1, Ordering::SeqCst);
    let mut watcher = client
        .watch("/w", WatchOptions::new().subtree().start_revision(5))
        .await
        .expect("watch registered after renewal");
    let event = tokio::time::timeout(Duration::from_secs(5), watcher.next())
        .await
        .expect("an event in time")
        .expect("an item")
        .expect("an event");
    assert_eq!(event.node.path, "/w/a");
    assert_eq!(state.authenticates(), 2);
}

#[tokio::test]
async fn a_fixed_token_is_sent_as_is_and_its_expiry_is_a_typed_error() {
    let (state, addr) = serve().await;
    state
        .valid
        .lock()
        .expect("lock")
        .insert("handed-over".into(), Instant::now());
    let client = Client::builder([addr.to_string()])
        .token("handed-over")
        .connect()
        .await
        .expect("connect");
    client.get("/a", None).await.expect("get");
    state.valid.lock().expect("lock").clear();
    let err = client.get("/a", None).await.expect_err("expired");
    assert!(
        matches!(
            err,
            Error::Unauthenticated {
                reason: UnauthenticatedReason::TokenExpired,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(state.authenticates(), 0, "nothing to renew it with");
}

#[tokio::test]
async fn with_auth_disabled_calls_go_without_a_token_and_get_one_once_it_is_required() {
    let (state, addr) = serve().await;
    state.enabled.store(false, Ordering::SeqCst);
    let client = bob(addr).await;
    client
        .get("/a", None)
        .await
        .expect("auth off: no token needed");
    client.get("/b", None).await.expect("still none");
    assert_eq!(state.authenticates(), 0);
    // Someone enables auth: the next call is refused AUTH_REQUIRED, authenticates, retries.
    state.enabled.store(true, Ordering::SeqCst);
    client.get("/c", None).await.expect("authenticated now");
    assert_eq!(state.authenticates(), 1);
    let seen: HashSet<Option<String>> = state.seen.lock().expect("lock").iter().cloned().collect();
    assert!(seen.contains(&None) && seen.contains(&Some("Bearer token-1".into())));
}

#[tokio::test]
async fn wrong_credentials_fail_the_first_call_with_bad_credentials() {
    let (state, addr) = serve().await;
    let client = Client::builder([addr.to_string()])
        .credentials("bob", "wrong")
        .connect()
        .await
        .expect("connect");
    let err = client.get("/a", None).await.expect_err("bad password");
    assert!(
        matches!(
            err,
            Error::Unauthenticated {
                reason: UnauthenticatedReason::BadCredentials,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        state.seen.lock().expect("lock").is_empty(),
        "the call was never sent"
    );
}
