//! Generated protobuf and gRPC types for Corral: the public API (`corral.v1`) and the
//! members-only peer protocol (`corral.raft.v1`). Nothing here is written by hand but
//! `contract`, which derives the error contract's strings from the generated enums.

mod contract;

pub use contract::{AUTHORIZATION_HEADER, ERROR_DOMAIN, LEADER_ID_HEADER, REQUEST_ID_HEADER};

/// The public client API, package `corral.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("corral.v1");
}

/// The peer (Raft) protocol between members, package `corral.raft.v1`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod raft {
    tonic::include_proto!("corral.raft.v1");
}

/// Encoded `FileDescriptorSet` of the public API, for gRPC server reflection.
pub const V1_FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("corral_v1_descriptor");

/// Encoded `FileDescriptorSet` of the peer protocol.
pub const RAFT_FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("corral_raft_v1_descriptor");
