//! The znode state machine: a pure, deterministic `apply` of committed commands over the
//! znode tree kept in RocksDB, and the reads served from it. Nothing here knows about
//! Raft networking or gRPC.

pub mod apply;
pub mod auth;
pub mod command;
pub mod db;
pub mod keys;
pub mod lease;
pub mod overlay;
pub mod path;
pub mod read;
pub mod session;

#[cfg(test)]
mod auth_tests;
#[cfg(test)]
mod model_tests;

use thiserror::Error;

/// Failures of the storage itself (disk, corruption) — never caused by a request.
#[derive(Debug, Error)]
pub enum StoreError {
    /// RocksDB reported an error.
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A stored value could not be (de)serialized.
    #[error("encoding: {0}")]
    Codec(#[from] bincode::Error),
    /// A filesystem operation failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Stored data breaks an invariant.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// A backup or snapshot file that is not one, or is damaged (the message says which).
    #[error("{0}")]
    BadDump(String),
}
