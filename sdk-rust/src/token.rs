//! Credentials and the token they buy. One [`Tokens`] per client, shared by its clones,
//! holds the credentials and the current token; [`Stamp`] puts the token on every
//! request the client sends (calls and streams alike, so none can forget it), and
//! [`Client::fresh_token`] authenticates when there is no usable token, one caller at
//! a time, so concurrent calls share one authentication instead of each sending its own.
//!
//! Rules (docs/rust-client.md, the auth contract): authenticate lazily before the first
//! call; replace a token once less than a fifth of its lifetime is left
//! ([`refresh_due`]); when the server rejects a token (invalid, expired, revoked),
//! authenticate again once and retry ([`crate::retry::renew_and_retry`]). Passwords
//! and tokens are never logged nor shown by `Debug`.

use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use corral_proto::v1 as pb;
use corral_proto::v1::auth_client::AuthClient;
use tokio::time::Instant;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;

use crate::client::{Attempt, Client, Transport};
use crate::error::{Error, Result};
use crate::retry::Retry;
use crate::types::{wire_header, FromWire, Header};

/// The metadata header carrying `Bearer <token>`.
pub(crate) use corral_proto::AUTHORIZATION_HEADER;

/// A password or token: kept out of `Debug` output (and so out of logs and panics).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the client proves who it is.
#[derive(Debug, Clone, Default)]
pub(crate) enum Credentials {
    /// Nothing: anonymous, or the client certificate's CN (mTLS).
    #[default]
    None,
    /// A token obtained elsewhere, sent as is; it cannot be renewed.
    Token(Secret),
    /// A user and password, exchanged for tokens as needed.
    Password {
        /// The user name.
        user: String,
        /// Their password.
        password: Secret,
    },
}

/// Fraction of a token's lifetime that must be left for it to be used; below it the
/// client authenticates again first. A fifth of the default 5 minutes is a minute:
/// room for a slow Authenticate, clock drift and a long call, while tokens are still
/// renewed rarely (about every 4 minutes).
const REFRESH_WHEN_LEFT: u32 = 5;

/// Whether a token obtained at `obtained`, valid for `ttl`, should be replaced at `now`:
/// once less than a fifth of its lifetime is left. A token of unknown lifetime (`None`)
/// is used until the server rejects it.
pub(crate) fn refresh_due(obtained: Instant, ttl: Option<Duration>, now: Instant) -> bool {
    match ttl {
        Some(ttl) => now >= obtained + (ttl - ttl / REFRESH_WHEN_LEFT),
        None => false,
    }
}

/// The token in use.
#[derive(Debug, Clone)]
struct Current {
    /// `Bearer <token>`; `None` before the first authentication (or without credentials).
    header: Option<MetadataValue<Ascii>>,
    /// Counts the tokens this client had, so that a call that saw its token rejected
    /// renews it only if nobody has renewed it since.
    generation: u64,
    /// When the Authenticate that returned it was sent (its lifetime counts from then
    /// at the latest).
    obtained: Instant,
    /// Its lifetime; `None` if unknown (a fixed token).
    ttl: Option<Duration>,
    /// The server rejected it, or the credentials changed: authenticate before the
    /// next call. It is still sent meanwhile (by calls already under way), as sending
    /// none would get them `AUTH_REQUIRED`.
    stale: bool,
    /// The server issues no tokens because auth is disabled: calls go without one
    /// until one is refused `AUTH_REQUIRED` (someone enabled auth).
    auth_off: bool,
}

/// The credentials and token of one client (shared by its clones).
#[derive(Debug)]
pub(crate) struct Tokens {
    credentials: RwLock<Credentials>,
    current: RwLock<Current>,
    /// Held while authenticating: concurrent callers wait for one Authenticate.
    authenticating: tokio::sync::Mutex<()>,
}

/// `Bearer <token>` as metadata, or an error if the token is not valid header text.
fn bearer(token: &str) -> Result<MetadataValue<Ascii>> {
    MetadataValue::try_from(format!("Bearer {token}")).map_err(|_| Error::InvalidArgument {
        reason: crate::InvalidReason::InvalidArgument,
        path: None,
        // Not the token itself: it is a secret.
        message: "the token holds characters that cannot be sent in a header".into(),
    })
}

impl Tokens {
    /// Tokens for `credentials`; a fixed token is checked (and in use) at once.
    pub(crate) fn new(credentials: Credentials) -> Result<Tokens> {
        let tokens = Tokens {
            credentials: RwLock::new(Credentials::None),
            current: RwLock::new(Current {
                header: None,
                generation: 0,
                obtained: Instant::now(),
                ttl: None,
                stale: false,
                auth_off: false,
            }),
            authenticating: tokio::sync::Mutex::new(()),
        };
        tokens.set_credentials(credentials)?;
        Ok(tokens)
    }

    fn current(&self) -> std::sync::RwLockReadGuard<'_, Current> {
        // The lock guards plain data that every write leaves consistent.
        self.current.read().unwrap_or_else(|e| e.into_inner())
    }

    fn current_mut(&self) -> std::sync::RwLockWriteGuard<'_, Current> {
        self.current.write().unwrap_or_else(|e| e.into_inner())
    }

    fn credentials(&self) -> Credentials {
        self.credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the credentials. A fixed token is used at once; a user and password
    /// are exchanged for a token before the next call; `None` sends nothing from now on.
    pub(crate) fn set_credentials(&self, credentials: Credentials) -> Result<()> {
        let header = match &credentials {
            Credentials::Token(token) => Some(bearer(token.expose())?),
            _ => None,
        };
        *self.credentials.write().unwrap_or_else(|e| e.into_inner()) = credentials.clone();
        let mut current = self.current_mut();
        current.generation += 1;
        current.ttl = None;
        current.obtained = Instant::now();
        current.auth_off = false;
        match credentials {
            Credentials::Token(_) => {
                current.header = header;
                current.stale = false;
            }
            Credentials::None => {
                current.header = None;
                current.stale = false;
            }
            // The old token (if any) keeps being sent by calls under way until the
            // next call authenticates with the new credentials.
            Credentials::Password { .. } => current.stale = true,
        }
        Ok(())
    }

    /// Changes the password kept for `user`, if the client authenticates as `user`, and
    /// makes the next call authenticate with it (the server revoked the old token).
    pub(crate) fn password_changed(&self, user: &str, password: &str) {
        let mut credentials = self.credentials.write().unwrap_or_else(|e| e.into_inner());
        if let Credentials::Password { user: own, .. } = &*credentials {
            if own == user {
                *credentials = Credentials::Password {
                    user: own.clone(),
                    password: Secret::new(password),
                };
                drop(credentials);
                self.current_mut().stale = true;
            }
        }
    }

    /// The user the client authenticates as with a password, if it does.
    pub(crate) fn user(&self) -> Option<String> {
        match self.credentials() {
            Credentials::Password { user, .. } => Some(user),
            _ => None,
        }
    }

    /// Whether a rejected token can be replaced (the client has a user and password).
    pub(crate) fn can_renew(&self) -> bool {
        matches!(self.credentials(), Credentials::Password { .. })
    }

    /// The generation of the token to use now, or `None` if the client must
    /// authenticate first (no token yet, rejected, or due for renewal).
    fn usable(&self, now: Instant) -> Option<u64> {
        let current = self.current();
        if !self.can_renew() {
            return Some(current.generation);
        }
        let usable = (current.header.is_some() || current.auth_off)
            && !current.stale
            && !refresh_due(current.obtained, current.ttl, now);
        usable.then_some(current.generation)
    }

    /// The current token's generation if it is merely due for renewal, not expired nor
    /// rejected: used when renewing it failed for a passing reason.
    fn unexpired(&self, now: Instant) -> Option<u64> {
        let current = self.current();
        let alive = match current.ttl {
            Some(ttl) => now < current.obtained + ttl,
            None => true,
        };
        (current.header.is_some() && !current.stale && alive).then_some(current.generation)
    }

    /// Marks token `generation` as rejected, so the next call authenticates again;
    /// a newer token (someone renewed it meanwhile) is left alone.
    pub(crate) fn reject(&self, generation: u64) {
        let mut current = self.current_mut();
        if current.generation == generation {
            current.stale = true;
        }
    }

    /// Keeps a new token, valid for `ttl` (zero: unknown) from `sent`, when
    /// Authenticate was sent; returns its generation.
    fn store(&self, token: &str, ttl: Duration, sent: Instant) -> Result<u64> {
        let header = bearer(token).map_err(|_| Error::InvalidResponse {
            message: "Authenticate returned a token that cannot be sent in a header".into(),
        })?;
        let mut current = self.current_mut();
        current.header = Some(header);
        current.generation += 1;
        current.obtained = sent;
        current.ttl = (!ttl.is_zero()).then_some(ttl);
        current.stale = false;
        current.auth_off = false;
        Ok(current.generation)
    }

    /// Notes that the cluster has auth disabled: calls go without a token (the server
    /// ignores tokens then) until one is refused; returns the generation of that state.
    fn auth_disabled(&self) -> u64 {
        let mut current = self.current_mut();
        current.header = None;
        current.generation += 1;
        current.ttl = None;
        current.stale = false;
        current.auth_off = true;
        current.generation
    }

    /// The header to send now, if any.
    fn header(&self) -> Option<MetadataValue<Ascii>> {
        self.current().header.clone()
    }
}

/// A request extension telling [`Stamp`] to send no token: Authenticate proves the
/// caller with a password, and a stale token beside it must not make the server
/// refuse it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Anonymous;

/// The interceptor on every channel of a client: adds `authorization: Bearer <token>`
/// to each request (unary or stream) unless the request carries its own or is
/// [`Anonymous`].
#[derive(Debug, Clone)]
pub(crate) struct Stamp(pub(crate) Arc<Tokens>);

impl Interceptor for Stamp {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if request.extensions().get::<Anonymous>().is_some()
            || request.metadata().contains_key(AUTHORIZATION_HEADER)
        {
            return Ok(request);
        }
        if let Some(header) = self.0.header() {
            request.metadata_mut().insert(AUTHORIZATION_HEADER, header);
        }
        Ok(request)
    }
}

/// An Auth stub on `channel`.
pub(crate) fn auth_stub(channel: Transport) -> AuthClient<Transport> {
    AuthClient::new(channel)
}

/// Result of [`Client::authenticate`]. Its `Debug` output leaves the token out.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthenticateResponse {
    /// Header of the answer.
    pub header: Header,
    /// The token: send it as `authorization: Bearer <token>` (or give it to
    /// [`ClientBuilder::token`](crate::ClientBuilder::token)). Valid on every member.
    pub token: String,
    /// How long the token stays valid from now.
    pub ttl: Duration,
}

impl fmt::Debug for AuthenticateResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateResponse")
            .field("header", &self.header)
            .field("token", &"<redacted>")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl FromWire<pb::AuthenticateResponse> for AuthenticateResponse {
    fn from_wire(r: pb::AuthenticateResponse) -> Result<Self> {
        if r.token.is_empty() {
            return Err(Error::InvalidResponse {
                message: "Authenticate returned no token".into(),
            });
        }
        Ok(AuthenticateResponse {
            header: wire_header(r.header)?,
            token: r.token,
            ttl: crate::lease::from_millis(r.ttl_ms),
        })
    }
}

impl Client {
    /// Makes sure the client has a usable token (authenticating if it has none, or it
    /// was rejected, or it is due for renewal) and returns its generation. Concurrent
    /// callers share one Authenticate. Without a user and password there is nothing to
    /// do. `deadline` bounds the Authenticate.
    pub(crate) async fn fresh_token(
        &self,
        deadline: Option<Instant>,
        trying: &AtomicUsize,
    ) -> Result<u64> {
        let tokens = &self.members.tokens;
        if let Some(generation) = tokens.usable(Instant::now()) {
            return Ok(generation);
        }
        let _one_at_a_time = tokens.authenticating.lock().await;
        // Whoever held the lock before may have just authenticated.
        if let Some(generation) = tokens.usable(Instant::now()) {
            return Ok(generation);
        }
        let Credentials::Password { user, password } = tokens.credentials() else {
            return Ok(tokens.current().generation);
        };
        let sent = Instant::now();
        let request = pb::AuthenticateRequest {
            name: user,
            password: password.expose().to_string(),
        };
        match self.send_authenticate(deadline, trying, request).await {
            Ok(answer) => tokens.store(&answer.token, answer.ttl, sent),
            // No member can answer now: a token that has not expired yet still serves.
            Err(e) if e.is_transient() => tokens.unexpired(Instant::now()).ok_or(e),
            // A cluster with auth disabled issues no tokens (INVALID_ARGUMENT) and needs
            // none: the same client then works before and after `auth enable`.
            Err(e @ Error::InvalidArgument { .. }) => {
                match self.send_auth_status(deadline, trying).await {
                    Ok(status) if !status.enabled => Ok(tokens.auth_disabled()),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }
}

impl Client {
    /// Sends Authenticate (to the current member, and on while retrying may help)
    /// without a token: the password proves who the caller is, and neither a stale
    /// token nor the client's own credentials have a say.
    pub(crate) async fn send_authenticate(
        &self,
        deadline: Option<Instant>,
        trying: &AtomicUsize,
        request: pb::AuthenticateRequest,
    ) -> Result<AuthenticateResponse> {
        let how = Attempt {
            deadline,
            path: "",
            // Asking for a token changes nothing on the server.
            retry: Retry::Safe,
            request_id: None,
            trying,
        };
        self.attempts(how, request, |channel, mut r| {
            r.extensions_mut().insert(Anonymous);
            async move { auth_stub(channel).authenticate(r).await }
        })
        .await
    }

    /// Asks Auth/Status without a token (one that may be stale must not fail it).
    async fn send_auth_status(
        &self,
        deadline: Option<Instant>,
        trying: &AtomicUsize,
    ) -> Result<crate::AuthStatus> {
        let how = Attempt {
            deadline,
            path: "",
            retry: Retry::Safe,
            request_id: None,
            trying,
        };
        self.attempts(how, pb::AuthStatusRequest {}, |channel, mut r| {
            r.extensions_mut().insert(Anonymous);
            async move { auth_stub(channel).status(r).await }
        })
        .await
    }

    /// [`Client::fresh_token`] for a stream about to be opened (watch, observe),
    /// within the client's timeout.
    pub(crate) async fn stream_token(&self) -> Result<u64> {
        let trying = AtomicUsize::new(usize::MAX);
        let Some(timeout) = self.timeout() else {
            return self.fresh_token(None, &trying).await;
        };
        let deadline = Instant::now() + timeout;
        tokio::time::timeout_at(deadline, self.fresh_token(Some(deadline), &trying))
            .await
            .map_err(|_| Error::Timeout {
                message: format!("could not authenticate within {timeout:?}"),
            })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_token_is_renewed_once_less_than_a_fifth_of_its_lifetime_is_left() {
        let t0 = Instant::now();
        let ttl = Some(secs(300));
        assert!(!refresh_due(t0, ttl, t0));
        assert!(!refresh_due(t0, ttl, t0 + secs(239)));
        assert!(refresh_due(t0, ttl, t0 + secs(240)));
        assert!(refresh_due(t0, ttl, t0 + secs(400)));
        // Short tokens too: 2 s lasts 1.6 s.
        let short = Some(Duration::from_millis(2000));
        assert!(!refresh_due(t0, short, t0 + Duration::from_millis(1599)));
        assert!(refresh_due(t0, short, t0 + Duration::from_millis(1600)));
        // Unknown lifetime: kept until the server rejects it.
        assert!(!refresh_due(t0, None, t0 + secs(1_000_000)));
    }

    fn password() -> Credentials {
        Credentials::Password {
            user: "bob".into(),
            password: Secret::new("hunter2"),
        }
    }

    #[test]
    fn with_a_password_the_first_call_must_authenticate() {
        let tokens = Tokens::new(password()).expect("valid");
        assert!(tokens.can_renew());
        assert_eq!(tokens.usable(Instant::now()), None);
        assert!(tokens.header().is_none());
        let generation = tokens
            .store("tok-1", secs(300), Instant::now())
            .expect("stored");
        assert_eq!(tokens.usable(Instant::now()), Some(generation));
        assert_eq!(
            tokens.header().expect("header").to_str().ok(),
            Some("Bearer tok-1")
        );
    }

    #[test]
    fn a_token_due_for_renewal_is_not_usable_but_still_unexpired() {
        let tokens = Tokens::new(password()).expect("valid");
        let sent = Instant::now();
        let generation = tokens.store("tok", secs(10), sent).expect("stored");
        let late = sent + secs(9);
        assert_eq!(tokens.usable(late), None, "due: less than 2 s left");
        assert_eq!(tokens.unexpired(late), Some(generation));
        assert_eq!(tokens.unexpired(sent + secs(10)), None, "expired");
    }

    #[test]
    fn a_rejected_token_is_renewed_unless_someone_already_did() {
        let tokens = Tokens::new(password()).expect("valid");
        let first = tokens
            .store("tok-1", secs(300), Instant::now())
            .expect("stored");
        let second = tokens
            .store("tok-2", secs(300), Instant::now())
            .expect("stored");
        // A call that sent tok-1 saw it rejected: tok-2 is newer and stays usable.
        tokens.reject(first);
        assert_eq!(tokens.usable(Instant::now()), Some(second));
        tokens.reject(second);
        assert_eq!(tokens.usable(Instant::now()), None);
        assert_eq!(
            tokens.unexpired(Instant::now()),
            None,
            "rejected is not usable"
        );
        // Still sent by calls under way until renewed.
        assert!(tokens.header().is_some());
    }

    #[test]
    fn a_fixed_token_is_sent_at_once_and_never_renewed() {
        let tokens = Tokens::new(Credentials::Token(Secret::new("fixed"))).expect("valid");
        assert!(!tokens.can_renew());
        let generation = tokens.usable(Instant::now()).expect("usable");
        tokens.reject(generation);
        // Nothing to renew it with: calls keep using it and get the typed error.
        assert!(tokens.usable(Instant::now()).is_some());
        assert_eq!(
            tokens.header().expect("header").to_str().ok(),
            Some("Bearer fixed")
        );
        assert!(Tokens::new(Credentials::Token(Secret::new("bad\ntoken"))).is_err());
    }

    #[test]
    fn without_credentials_nothing_is_sent() {
        let tokens = Tokens::new(Credentials::None).expect("valid");
        assert!(tokens.usable(Instant::now()).is_some());
        assert!(tokens.header().is_none());
        let mut stamp = Stamp(Arc::new(tokens));
        let request = stamp.call(tonic::Request::new(())).expect("stamped");
        assert!(!request.metadata().contains_key(AUTHORIZATION_HEADER));
    }

    #[test]
    fn the_stamp_adds_the_token_except_to_anonymous_requests() {
        let tokens = Arc::new(Tokens::new(Credentials::Token(Secret::new("t"))).expect("valid"));
        let mut stamp = Stamp(tokens);
        let request = stamp.call(tonic::Request::new(())).expect("stamped");
        assert_eq!(
            request
                .metadata()
                .get(AUTHORIZATION_HEADER)
                .and_then(|v| v.to_str().ok()),
            Some("Bearer t")
        );
        let mut anonymous = tonic::Request::new(());
        anonymous.extensions_mut().insert(Anonymous);
        let request = stamp.call(anonymous).expect("passed");
        assert!(!request.metadata().contains_key(AUTHORIZATION_HEADER));
    }

    #[test]
    fn changing_the_own_password_makes_the_next_call_authenticate_with_it() {
        let tokens = Tokens::new(password()).expect("valid");
        tokens
            .store("tok", secs(300), Instant::now())
            .expect("stored");
        tokens.password_changed("alice", "other");
        assert!(tokens.usable(Instant::now()).is_some(), "not our user");
        tokens.password_changed("bob", "new-password");
        assert_eq!(tokens.usable(Instant::now()), None);
        match tokens.credentials() {
            Credentials::Password { password, .. } => assert_eq!(password.expose(), "new-password"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn with_auth_disabled_calls_go_without_a_token_until_one_is_required() {
        let tokens = Tokens::new(password()).expect("valid");
        let off = tokens.auth_disabled();
        assert_eq!(tokens.usable(Instant::now()), Some(off));
        assert!(tokens.header().is_none());
        // A call refused AUTH_REQUIRED (auth got enabled) rejects that state.
        tokens.reject(off);
        assert_eq!(tokens.usable(Instant::now()), None);
        let on = tokens
            .store("tok", secs(300), Instant::now())
            .expect("stored");
        assert_eq!(tokens.usable(Instant::now()), Some(on));
        assert!(tokens.header().is_some());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let shown = format!("{:?}", password());
        assert!(!shown.contains("hunter2"), "{shown}");
        let answer = AuthenticateResponse {
            header: Header::default(),
            token: "s3cr3t-token".into(),
            ttl: secs(1),
        };
        assert!(!format!("{answer:?}").contains("s3cr3t"));
    }
}
