//! Per-call options, built by chaining (`CreateOptions::new().sequential()`), and
//! their translation into requests. Every option defaults to the API's default.

use std::time::Duration;

use corral_proto::v1 as pb;

use crate::acl::AclEntry;
use crate::types::Consistency;

/// Options of [`Client::create`](crate::Client::create) and [`Op::create`](crate::Op::create).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateOptions {
    lease_id: Option<i64>,
    sequential: bool,
    container: bool,
    ttl_ms: i64,
    create_parents: bool,
    acl: Vec<AclEntry>,
}

impl CreateOptions {
    /// Defaults: a persistent, non-sequential znode whose parent must exist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes an ephemeral znode bound to `lease_id`, deleted when the lease ends.
    pub fn ephemeral(mut self, lease_id: i64) -> Self {
        self.lease_id = Some(lease_id);
        self
    }

    /// Appends a zero-padded 10-digit counter taken from the parent to the name.
    pub fn sequential(mut self) -> Self {
        self.sequential = true;
        self
    }

    /// Makes a container znode, deleted by the server once its last child goes.
    pub fn container(mut self) -> Self {
        self.container = true;
        self
    }

    /// Makes a TTL znode, deleted once not modified for `ttl` (whole milliseconds).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// Creates missing ancestors as empty persistent znodes instead of failing.
    pub fn create_parents(mut self) -> Self {
        self.create_parents = true;
        self
    }

    /// Gives the new znode this ACL (when auth is enabled, creating it needs the
    /// `create` permission on its parent). Without one it gets a copy of its parent's
    /// ACL. Given several times, the entries add up.
    pub fn acl(mut self, acl: impl IntoIterator<Item = AclEntry>) -> Self {
        self.acl.extend(acl);
        self
    }

    pub(crate) fn request(self, path: String, data: Vec<u8>) -> pb::CreateRequest {
        pb::CreateRequest {
            path,
            data,
            ephemeral: self.lease_id.is_some(),
            lease_id: self.lease_id.unwrap_or(0),
            sequential: self.sequential,
            container: self.container,
            ttl_ms: self.ttl_ms,
            create_parents: self.create_parents,
            acl: self.acl.iter().map(AclEntry::to_pb).collect(),
        }
    }
}

/// Options of [`Client::put`](crate::Client::put) and [`Op::put`](crate::Op::put).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    expected_version: Option<i64>,
    create_if_missing: bool,
    prev_node: bool,
}

impl PutOptions {
    /// Defaults: any version, the znode must exist, no previous node returned.
    pub fn new() -> Self {
        Self::default()
    }

    /// Succeeds only if the znode's version is `version` (compare-and-set); else
    /// [`Error::VersionMismatch`](crate::Error::VersionMismatch).
    pub fn expected_version(mut self, version: i64) -> Self {
        self.expected_version = Some(version);
        self
    }

    /// Creates the znode (persistent; its parent must exist) if it is absent.
    pub fn create_if_missing(mut self) -> Self {
        self.create_if_missing = true;
        self
    }

    /// Returns the znode as it was before the put.
    pub fn prev_node(mut self) -> Self {
        self.prev_node = true;
        self
    }

    pub(crate) fn request(self, path: String, data: Vec<u8>) -> pb::PutRequest {
        pb::PutRequest {
            path,
            data,
            expected_version: self.expected_version,
            create_if_missing: self.create_if_missing,
            prev_node: self.prev_node,
        }
    }
}

/// Options of [`Client::get`](crate::Client::get) and [`Op::get`](crate::Op::get).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetOptions {
    consistency: Consistency,
    stat_only: bool,
}

impl GetOptions {
    /// Defaults: a linearizable read of data and stat.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the read consistency.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
        self
    }

    /// Reads from the answering member's local state, without a quorum round.
    pub fn serializable(self) -> Self {
        self.consistency(Consistency::Serializable)
    }

    /// Returns only the stat, not the data.
    pub fn stat_only(mut self) -> Self {
        self.stat_only = true;
        self
    }

    pub(crate) fn request(self, path: String) -> pb::GetRequest {
        pb::GetRequest {
            path,
            consistency: self.consistency.to_pb().into(),
            stat_only: self.stat_only,
        }
    }
}

/// Options of [`Client::list`](crate::Client::list) and [`Op::list`](crate::Op::list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    recursive: bool,
    with_data: bool,
    limit: i32,
    page_token: Option<String>,
    consistency: Consistency,
}

impl ListOptions {
    /// Defaults: direct children, stats only, server's page size (1000), linearizable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lists the whole subtree (all descendants, not the znode itself).
    pub fn recursive(mut self) -> Self {
        self.recursive = true;
        self
    }

    /// Includes each znode's data.
    pub fn with_data(mut self) -> Self {
        self.with_data = true;
        self
    }

    /// Returns at most `limit` znodes per page (the server allows up to 10000).
    pub fn limit(mut self, limit: i32) -> Self {
        self.limit = limit;
        self
    }

    /// Continues after the page that returned `token` as its `next_page_token`.
    pub fn page_token(mut self, token: impl Into<String>) -> Self {
        self.page_token = Some(token.into());
        self
    }

    /// Sets the read consistency.
    pub fn consistency(mut self, consistency: Consistency) -> Self {
        self.consistency = consistency;
        self
    }

    /// Reads from the answering member's local state, without a quorum round.
    pub fn serializable(self) -> Self {
        self.consistency(Consistency::Serializable)
    }

    pub(crate) fn request(self, path: String) -> pb::ListRequest {
        pb::ListRequest {
            path,
            recursive: self.recursive,
            with_data: self.with_data,
            limit: self.limit,
            page_token: self.page_token.unwrap_or_default(),
            consistency: self.consistency.to_pb().into(),
        }
    }
}

/// Options of [`Client::delete`](crate::Client::delete) and [`Op::delete`](crate::Op::delete).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    expected_version: Option<i64>,
    recursive: bool,
}

impl DeleteOptions {
    /// Defaults: any version; a znode with children is not deleted.
    pub fn new() -> Self {
        Self::default()
    }

    /// Succeeds only if the znode's version is `version`.
    pub fn expected_version(mut self, version: i64) -> Self {
        self.expected_version = Some(version);
        self
    }

    /// Deletes the whole subtree.
    pub fn recursive(mut self) -> Self {
        self.recursive = true;
        self
    }

    pub(crate) fn request(self, path: String) -> pb::DeleteRequest {
        pb::DeleteRequest {
            path,
            expected_version: self.expected_version,
            recursive: self.recursive,
        }
    }
}
