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
//! Besides the KV calls, [`Client`] has the Cluster calls: [`Client::member_list`],
//! [`Client::member_add`], [`Client::member_promote`], [`Client::member_remove`],
//! [`Client::transfer_leader`] and [`Client::status`].
//! Errors are typed ([`Error`]); the generated protobuf types never appear in the API.

#![warn(missing_docs)]

mod client;
mod cluster;
mod endpoint;
mod error;
mod options;
mod txn;
mod types;

pub use client::{Client, ClientBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT};
pub use cluster::{
    Member, MemberChangeResponse, MemberListResponse, Status, TransferLeaderResponse,
};
pub use endpoint::DEFAULT_PORT;
pub use error::{Error, InvalidReason, Result, ERROR_DOMAIN};
pub use options::{CreateOptions, DeleteOptions, GetOptions, ListOptions, PutOptions};
pub use tonic::Code;
pub use txn::{Compare, CompareOn, Op, OpResult, Txn, TxnResponse};
pub use types::{
    Consistency, CreateResponse, DeleteResponse, GetResponse, Header, ListResponse, Node, NodeKind,
    PutResponse, Stat,
};
