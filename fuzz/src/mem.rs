//! A small in-memory [`Backing`] (a few znodes and one lease) so the `request` target can
//! apply the commands that validation produces without opening RocksDB.

use std::collections::BTreeMap;

use corral_server::store::lease::LeaseRecord;
use corral_server::store::overlay::Backing;
use corral_server::store::session::SessionRecord;
use corral_server::store::StoreError;
use corral_server::znode::{NodeKind, NodeRecord, Stat};

/// Lease that exists in [`MemTree::sample`] (ephemeral creates can bind to it).
pub const LEASE_ID: i64 = 7;

/// A fixed tree: `/`, `/a`, `/a/b` (persistent), `/e` (ephemeral on [`LEASE_ID`]).
pub struct MemTree {
    nodes: BTreeMap<String, NodeRecord>,
    leases: BTreeMap<i64, LeaseRecord>,
    revision: i64,
}

impl MemTree {
    /// The sample tree at revision 3.
    pub fn sample() -> MemTree {
        let record = |rev: i64, children: i64, kind: NodeKind, lease_id: i64| NodeRecord {
            data: b"x".to_vec(),
            stat: Stat {
                create_revision: rev,
                mod_revision: rev,
                num_children: children,
                data_length: 1,
                kind,
                lease_id,
                ..Stat::default()
            },
        };
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_string(), record(0, 2, NodeKind::Persistent, 0));
        nodes.insert("/a".to_string(), record(1, 1, NodeKind::Persistent, 0));
        nodes.insert("/a/b".to_string(), record(2, 0, NodeKind::Persistent, 0));
        nodes.insert(
            "/e".to_string(),
            record(3, 0, NodeKind::Ephemeral, LEASE_ID),
        );
        let mut leases = BTreeMap::new();
        leases.insert(
            LEASE_ID,
            LeaseRecord {
                id: LEASE_ID,
                ttl_ms: 10_000,
                remaining_ms: 10_000,
                owner: None,
            },
        );
        MemTree {
            nodes,
            leases,
            revision: 3,
        }
    }

    fn parent_of(path: &str) -> Option<&str> {
        corral_server::store::path::parent(path)
    }
}

impl Backing for MemTree {
    fn node(&self, path: &str) -> Result<Option<NodeRecord>, StoreError> {
        Ok(self.nodes.get(path).cloned())
    }

    fn scan_nodes<'s>(
        &'s self,
        prefix: &str,
        after: &str,
    ) -> Box<dyn Iterator<Item = Result<(String, NodeRecord), StoreError>> + 's> {
        let prefix = prefix.to_string();
        let after = after.to_string();
        Box::new(
            self.nodes
                .iter()
                .filter(move |(k, _)| {
                    k.starts_with(&prefix) && k.as_str() > after.as_str() && **k != prefix
                })
                .map(|(k, v)| Ok((k.clone(), v.clone()))),
        )
    }

    fn scan_children<'s>(
        &'s self,
        parent: &str,
        after_name: &str,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's> {
        let parent = parent.to_string();
        let after = after_name.to_string();
        Box::new(
            self.nodes
                .keys()
                .filter(move |k| Self::parent_of(k) == Some(parent.as_str()))
                .map(|k| corral_server::store::path::name(k).to_string())
                .filter(move |name| name.as_str() > after.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .map(Ok),
        )
    }

    fn scan_children_before<'s>(
        &'s self,
        parent: &str,
        before_name: &str,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's> {
        let parent = parent.to_string();
        let before = before_name.to_string();
        Box::new(
            self.nodes
                .keys()
                .filter(move |k| Self::parent_of(k) == Some(parent.as_str()))
                .map(|k| corral_server::store::path::name(k).to_string())
                .filter(move |name| name.as_str() < before.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .rev()
                .map(Ok),
        )
    }

    fn revision(&self) -> Result<i64, StoreError> {
        Ok(self.revision)
    }

    fn acl(&self, _path: &str) -> Result<Option<corral_server::acl::Acl>, StoreError> {
        // The sample tree has no ACLs: every znode has the default.
        Ok(None)
    }

    fn auth(&self) -> Result<std::sync::Arc<corral_server::store::auth::AuthState>, StoreError> {
        // Auth is off in the sample tree.
        Ok(Default::default())
    }

    fn lease(&self, id: i64) -> Result<Option<LeaseRecord>, StoreError> {
        Ok(self.leases.get(&id).cloned())
    }

    fn leases(&self) -> Result<Vec<LeaseRecord>, StoreError> {
        Ok(self.leases.values().cloned().collect())
    }

    fn lease_nodes<'s>(
        &'s self,
        id: i64,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's> {
        Box::new(
            self.nodes
                .iter()
                .filter(move |(_, r)| r.stat.lease_id == id && id != 0)
                .map(|(k, _)| Ok(k.clone())),
        )
    }

    fn counter(&self, _key: &str) -> Result<Option<i64>, StoreError> {
        Ok(None)
    }

    fn session(&self, _id: &str) -> Result<Option<SessionRecord>, StoreError> {
        Ok(None)
    }

    fn sessions(&self) -> Result<Vec<(String, SessionRecord)>, StoreError> {
        Ok(Vec::new())
    }
}
