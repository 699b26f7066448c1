//! Corral server library: the gRPC API (`api`), the openraft node (`raft`), and the
//! RocksDB-backed znode state machine (`store`). Dependencies point one way:
//! `api` → `raft` → `store`.

pub mod acl;
pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod coord;
pub mod lease;
pub mod raft;
pub mod restore_cmd;
pub mod server;
pub mod store;
pub mod tls;
pub mod watch;
pub mod znode;
