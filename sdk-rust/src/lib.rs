//! Async Rust client for [Corral](https://github.com/corral-dev/corral), a coordination
//! service: a small, strongly consistent, replicated tree of znodes.
//!
//! ```no_run
//! # async fn example() -> corral_client::Result<()> {
//! use corral_client::{Client, Error, PutOptions};
//!
//! let client = Client::connect(["127.0.0.1:2479"]).await?;
//! client.create("/config", "v1", None).await?;
//! // Compare-and-set: only succeeds if nobody changed /config since version 0.
//! match client.put("/config", "v2", PutOptions::new().expected_version(0)).await {
//!     Ok(put) => println!("now at version {}", put.stat.version),
//!     Err(Error::VersionMismatch { current, .. }) => println!("lost the race: version {current}"),
//!     Err(e) => return Err(e),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Calls take their options as `None` or as a builder (`CreateOptions::new().sequential()`).
//! Besides the KV calls, [`Client`] has
//!
//! - watches: [`Client::watch`] returns a [`Watcher`] that resumes across member
//!   failures from the last revision it received, never losing or repeating an event;
//! - leases: [`Client::lease_grant`], [`Client::lease_keep_alive`], ... and
//!   [`Session`], a lease kept alive in the background that says when it is lost;
//! - the server's locks and elections: [`Client::lock`], [`Client::campaign`],
//!   [`Client::observe`], ...;
//! - the Cluster and Maintenance calls: [`Client::member_list`], [`Client::status`],
//!   [`Client::compact`], ...
//!
//! Calls fail over between the endpoints; reads are retried on another member when
//! one cannot answer, and so are writes, which carry a request id
//! ([`REQUEST_ID_HEADER`]) so that the server applies each exactly once. Coordination
//! recipes (mutex, read-write lock, semaphore, leader election, barriers, queue,
//! counter, cache, service registry, config watcher) are in [`recipes`].
//! Errors are typed ([`Error`]); the generated protobuf types never appear in the API.

#![warn(missing_docs)]

mod acl;
mod auth;
mod client;
mod cluster;
mod code;
mod election;
mod endpoint;
mod error;
mod lease;
mod lock;
mod maintenance;
mod options;
pub mod recipes;
mod retry;
mod session;
mod tls;
mod token;
mod txn;
mod types;
mod watch;

pub use acl::{
    AclEntry, GetAclResponse, ParseAclError, Permission, Permissions, Principal, SetAclResponse,
};
pub use auth::{AuthChangeResponse, AuthStatus, RoleListResponse, User, UserListResponse};
pub use client::{
    Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, REQUEST_ID_HEADER,
};
pub use cluster::{
    Member, MemberChangeResponse, MemberListResponse, Status, TransferLeaderResponse,
};
pub use code::Code;
pub use election::{LeaderKey, Observer};
pub use endpoint::DEFAULT_PORT;
pub use error::{Error, InvalidReason, Result, UnauthenticatedReason, ERROR_DOMAIN};
pub use lease::{
    LeaseGrantResponse, LeaseInfo, LeaseKeepAlive, LeaseListResponse, LeaseRevokeResponse,
    LeaseTimeToLive,
};
pub use lock::{LockOptions, LockResponse, UnlockResponse};
pub use maintenance::{CompactResponse, SnapshotInfo};
pub use options::{CreateOptions, DeleteOptions, GetOptions, ListOptions, PutOptions};
pub use session::{Session, DEFAULT_SESSION_TTL};
pub use token::AuthenticateResponse;
pub use txn::{Compare, CompareOn, Op, OpResult, Txn, TxnResponse};
pub use types::{
    Consistency, CreateResponse, DeleteResponse, GetResponse, Header, ListResponse, Node, NodeKind,
    PutResponse, Stat,
};
pub use watch::{Event, EventType, WatchOptions, WatchScope, Watcher};
