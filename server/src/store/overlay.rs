//! A layered write overlay over a read-only view of the znode tree.
//!
//! Apply runs every command of a log entry against an [`Overlay`]: reads see the writes
//! of earlier commands (read-your-writes inside a batch), and a command that fails is
//! rolled back by dropping its layer, so commands — Txns included — are all or nothing.
//! The bottom layer becomes one RocksDB `WriteBatch` together with `last_applied`.

use std::collections::BTreeMap;

use std::sync::Arc;

use super::auth::AuthState;
use super::keys::child_key;
use super::lease::LeaseRecord;
use super::path;
use super::session::SessionRecord;
use super::StoreError;
use crate::acl::Acl;
use crate::znode::{Event, NodeRecord};

/// A read-only, point-in-time view of the stored tree.
pub trait Backing {
    /// The znode at `path`, if any.
    fn node(&self, path: &str) -> Result<Option<NodeRecord>, StoreError>;
    /// Znodes whose path starts with `prefix` and sorts strictly after both `after` and
    /// `prefix` itself, in byte order.
    fn scan_nodes<'s>(
        &'s self,
        prefix: &str,
        after: &str,
    ) -> Box<dyn Iterator<Item = Result<(String, NodeRecord), StoreError>> + 's>;
    /// Names of `parent`'s children sorting strictly after `after_name`, in byte order.
    fn scan_children<'s>(
        &'s self,
        parent: &str,
        after_name: &str,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's>;
    /// Names of `parent`'s children sorting strictly before `before_name`, in reverse
    /// byte order (nearest first): a queue finds a waiter's predecessor in one seek.
    fn scan_children_before<'s>(
        &'s self,
        parent: &str,
        before_name: &str,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's>;
    /// The cluster revision (0 before the first write).
    fn revision(&self) -> Result<i64, StoreError>;
    /// Lease `id`, if it exists.
    fn lease(&self, id: i64) -> Result<Option<LeaseRecord>, StoreError>;
    /// Every lease, by id.
    fn leases(&self) -> Result<Vec<LeaseRecord>, StoreError>;
    /// Paths of lease `id`'s ephemeral znodes, in byte order.
    fn lease_nodes<'s>(
        &'s self,
        id: i64,
    ) -> Box<dyn Iterator<Item = Result<String, StoreError>> + 's>;
    /// An integer state-machine counter (e.g. the next lease id), if set.
    fn counter(&self, key: &str) -> Result<Option<i64>, StoreError>;
    /// Client `id`'s session, if any.
    fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Every client session, by client id.
    fn sessions(&self) -> Result<Vec<(String, SessionRecord)>, StoreError>;
    /// The ACL stored for `path`; `None` means the default ([`crate::acl::default_acl`]).
    fn acl(&self, path: &str) -> Result<Option<Acl>, StoreError>;
    /// The auth state.
    fn auth(&self) -> Result<Arc<AuthState>, StoreError>;
}

/// Counters kept in the state machine's metadata.
pub mod counters {
    /// Next lease id handed out when the client asks the server to choose.
    pub const NEXT_LEASE_ID: &str = "next_lease_id";
    /// Newest compacted revision of the event history.
    pub const COMPACT_REVISION: &str = "compact_revision";
}

/// Kind of cleanup a znode is indexed for in the reap index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReapKind {
    /// TTL znode.
    Ttl,
    /// Container znode.
    Container,
}

/// Writes buffered by one layer.
#[derive(Debug, Default, Clone)]
pub struct Layer {
    /// Path → new record, or `None` for a delete.
    pub nodes: BTreeMap<String, Option<NodeRecord>>,
    /// Child index key (`parent \0 name`) → present?
    pub children: BTreeMap<String, bool>,
    /// New revision, if changed.
    pub revision: Option<i64>,
    /// Lease id → new record, or `None` for a revoke.
    pub leases: BTreeMap<i64, Option<LeaseRecord>>,
    /// (lease id, path) of ephemeral znodes → present?
    pub lease_nodes: BTreeMap<(i64, String), bool>,
    /// Reap index (TTL and container znodes): path → kind, or `None` to drop.
    pub reap: BTreeMap<String, Option<ReapKind>>,
    /// Counters set.
    pub counters: BTreeMap<&'static str, i64>,
    /// Events, in order.
    pub events: Vec<Event>,
    /// Client id → session, or `None` to forget it.
    pub sessions: BTreeMap<String, Option<SessionRecord>>,
    /// Path → ACL, or `None` to drop it (back to the default).
    pub acls: BTreeMap<String, Option<Acl>>,
    /// New auth state, if changed.
    pub auth: Option<Arc<AuthState>>,
}

impl Layer {
    fn absorb(&mut self, upper: Layer) {
        self.nodes.extend(upper.nodes);
        self.children.extend(upper.children);
        if upper.revision.is_some() {
            self.revision = upper.revision;
        }
        self.leases.extend(upper.leases);
        self.lease_nodes.extend(upper.lease_nodes);
        self.reap.extend(upper.reap);
        self.counters.extend(upper.counters);
        self.events.extend(upper.events);
        self.sessions.extend(upper.sessions);
        self.acls.extend(upper.acls);
        if upper.auth.is_some() {
            self.auth = upper.auth;
        }
    }
}

/// The tree as seen through stacked layers of uncommitted writes.
pub struct Overlay<'a, B: Backing + ?Sized> {
    base: &'a B,
    layers: Vec<Layer>,
}

impl<'a, B: Backing + ?Sized> Overlay<'a, B> {
    /// An overlay with one (empty) bottom layer over `base`.
    pub fn new(base: &'a B) -> Self {
        Self {
            base,
            layers: vec![Layer::default()],
        }
    }

    /// Starts a nested layer (a command's writes).
    pub fn begin(&mut self) {
        self.layers.push(Layer::default());
    }

    /// Folds the top layer into the one below.
    pub fn commit(&mut self) {
        if self.layers.len() > 1 {
            if let Some(top) = self.layers.pop() {
                if let Some(below) = self.layers.last_mut() {
                    below.absorb(top);
                }
            }
        }
    }

    /// Drops the top layer's writes.
    pub fn rollback(&mut self) {
        if self.layers.len() > 1 {
            self.layers.pop();
        }
    }

    /// Everything written, flattened into one layer.
    pub fn into_layer(mut self) -> Layer {
        while self.layers.len() > 1 {
            self.commit();
        }
        self.layers.pop().unwrap_or_default()
    }

    fn top(&mut self) -> &mut Layer {
        if self.layers.is_empty() {
            self.layers.push(Layer::default());
        }
        let last = self.layers.len() - 1;
        &mut self.layers[last]
    }

    /// The znode at `path`, if any.
    pub fn node(&self, path: &str) -> Result<Option<NodeRecord>, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.nodes.get(path) {
                return Ok(v.clone());
            }
        }
        self.base.node(path)
    }

    /// The current revision.
    pub fn revision(&self) -> Result<i64, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(r) = layer.revision {
                return Ok(r);
            }
        }
        self.base.revision()
    }

    /// Sets the revision.
    pub fn set_revision(&mut self, rev: i64) {
        self.top().revision = Some(rev);
    }

    /// Lease `id`, if it exists.
    pub fn lease(&self, id: i64) -> Result<Option<LeaseRecord>, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.leases.get(&id) {
                return Ok(v.clone());
            }
        }
        self.base.lease(id)
    }

    /// Every lease, by id.
    pub fn leases(&self) -> Result<Vec<LeaseRecord>, StoreError> {
        let mut all: BTreeMap<i64, LeaseRecord> =
            self.base.leases()?.into_iter().map(|l| (l.id, l)).collect();
        for layer in &self.layers {
            for (id, rec) in &layer.leases {
                match rec {
                    Some(rec) => all.insert(*id, rec.clone()),
                    None => all.remove(id),
                };
            }
        }
        Ok(all.into_values().collect())
    }

    /// Stores (or with `None`, deletes) lease `id`.
    pub fn set_lease(&mut self, id: i64, rec: Option<LeaseRecord>) {
        self.top().leases.insert(id, rec);
    }

    /// Paths of lease `id`'s ephemeral znodes, in byte order.
    pub fn lease_nodes(&self, id: i64) -> Result<Vec<String>, StoreError> {
        let mut pending: BTreeMap<String, Option<()>> = BTreeMap::new();
        for layer in &self.layers {
            for ((lid, path), present) in layer
                .lease_nodes
                .range((id, String::new())..)
                .take_while(|((lid, _), _)| *lid == id)
            {
                debug_assert_eq!(*lid, id);
                pending.insert(path.clone(), present.then_some(()));
            }
        }
        let base = self.base.lease_nodes(id).map(|r| r.map(|p| (p, ())));
        Ok(merge(base, pending, usize::MAX)?
            .into_iter()
            .map(|(p, ())| p)
            .collect())
    }

    /// Records (or drops) `path` as an ephemeral znode of lease `id`.
    pub fn set_lease_node(&mut self, id: i64, path: &str, present: bool) {
        self.top()
            .lease_nodes
            .insert((id, path.to_string()), present);
    }

    /// Adds (or with `None`, drops) `path` in the reap index.
    pub fn set_reap(&mut self, path: &str, kind: Option<ReapKind>) {
        self.top().reap.insert(path.to_string(), kind);
    }

    /// A counter's value, if set.
    pub fn counter(&self, key: &'static str) -> Result<Option<i64>, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.counters.get(key) {
                return Ok(Some(*v));
            }
        }
        self.base.counter(key)
    }

    /// Sets a counter.
    pub fn set_counter(&mut self, key: &'static str, value: i64) {
        self.top().counters.insert(key, value);
    }

    /// Client `id`'s session, if any.
    pub fn session(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.sessions.get(id) {
                return Ok(v.clone());
            }
        }
        self.base.session(id)
    }

    /// Every client session (pending writes applied), by client id.
    pub fn sessions(&self) -> Result<Vec<(String, SessionRecord)>, StoreError> {
        let mut all: BTreeMap<String, Option<SessionRecord>> = self
            .base
            .sessions()?
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        for layer in &self.layers {
            for (k, v) in &layer.sessions {
                all.insert(k.clone(), v.clone());
            }
        }
        Ok(all
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect())
    }

    /// Stores (or with `None`, forgets) client `id`'s session.
    pub fn set_session(&mut self, id: &str, rec: Option<SessionRecord>) {
        self.top().sessions.insert(id.to_string(), rec);
    }

    /// The ACL stored for `path` (`None`: the default).
    pub fn acl(&self, path: &str) -> Result<Option<Acl>, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.acls.get(path) {
                return Ok(v.clone());
            }
        }
        self.base.acl(path)
    }

    /// Stores (or with `None`, drops) `path`'s ACL.
    pub fn set_acl(&mut self, path: &str, acl: Option<Acl>) {
        self.top().acls.insert(path.to_string(), acl);
    }

    /// The auth state.
    pub fn auth(&self) -> Result<Arc<AuthState>, StoreError> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = &layer.auth {
                return Ok(v.clone());
            }
        }
        self.base.auth()
    }

    /// Replaces the auth state.
    pub fn set_auth(&mut self, state: AuthState) {
        self.top().auth = Some(Arc::new(state));
    }

    /// Records an event of the current command (dropped with it if it fails).
    pub fn emit(&mut self, event: Event) {
        self.top().events.push(event);
    }

    /// Stores a new znode and links it under its parent in the child index.
    pub fn insert_node(&mut self, node_path: &str, rec: NodeRecord) {
        if let Some(parent) = path::parent(node_path) {
            let key = child_key(parent, path::name(node_path));
            self.top().children.insert(key, true);
        }
        self.top().nodes.insert(node_path.to_string(), Some(rec));
    }

    /// Replaces an existing znode's record.
    pub fn update_node(&mut self, node_path: &str, rec: NodeRecord) {
        self.top().nodes.insert(node_path.to_string(), Some(rec));
    }

    /// Deletes a znode and unlinks it from its parent.
    pub fn remove_node(&mut self, node_path: &str) {
        if let Some(parent) = path::parent(node_path) {
            let key = child_key(parent, path::name(node_path));
            self.top().children.insert(key, false);
        }
        self.top().nodes.insert(node_path.to_string(), None);
        // Most znodes have no stored ACL; dropping one blindly costs a tombstone, less
        // than reading first.
        self.top().acls.insert(node_path.to_string(), None);
    }

    /// Overlay writes to nodes with `prefix`, sorting after both `after` and `prefix`
    /// itself (so a subtree scan never includes its root), top layer winning.
    fn pending_nodes(&self, prefix: &str, after: &str) -> BTreeMap<String, Option<NodeRecord>> {
        let mut out = BTreeMap::new();
        for layer in &self.layers {
            for (k, v) in layer.nodes.range::<str, _>((
                std::ops::Bound::Excluded(after.max(prefix)),
                std::ops::Bound::Unbounded,
            )) {
                if !k.starts_with(prefix) {
                    break;
                }
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// Up to `limit` znodes whose path starts with `prefix` and sorts after `after`, in order.
    pub fn scan_nodes(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<(String, NodeRecord)>, StoreError> {
        let pending = self.pending_nodes(prefix, after);
        merge(self.base.scan_nodes(prefix, after), pending, limit)
    }

    /// Up to `limit` child names of `parent` sorting after `after_name`, in order.
    pub fn children(
        &self,
        parent: &str,
        after_name: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = child_key(parent, "");
        let after = child_key(parent, after_name);
        let mut pending: BTreeMap<String, Option<()>> = BTreeMap::new();
        for layer in &self.layers {
            for (k, present) in layer.children.range::<str, _>((
                std::ops::Bound::Excluded(if after_name.is_empty() {
                    prefix.as_str()
                } else {
                    after.as_str()
                }),
                std::ops::Bound::Unbounded,
            )) {
                if !k.starts_with(&prefix) {
                    break;
                }
                pending.insert(k[prefix.len()..].to_string(), present.then_some(()));
            }
        }
        let base = self
            .base
            .scan_children(parent, after_name)
            .map(|r| r.map(|name| (name, ())));
        Ok(merge(base, pending, limit)?
            .into_iter()
            .map(|(name, ())| name)
            .collect())
    }
}

impl<'a, B: Backing + ?Sized> Overlay<'a, B> {
    /// Up to `limit` child names of `parent` sorting before `before_name`, nearest first.
    pub fn children_before(
        &self,
        parent: &str,
        before_name: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let prefix = child_key(parent, "");
        let before = child_key(parent, before_name);
        let mut pending: BTreeMap<String, Option<()>> = BTreeMap::new();
        for layer in &self.layers {
            for (k, present) in layer.children.range::<str, _>((
                std::ops::Bound::Included(prefix.as_str()),
                std::ops::Bound::Excluded(before.as_str()),
            )) {
                pending.insert(k[prefix.len()..].to_string(), present.then_some(()));
            }
        }
        let base = self
            .base
            .scan_children_before(parent, before_name)
            .map(|r| r.map(|name| (name, ())));
        Ok(merge_ordered(base, pending.into_iter().rev(), limit, true)?
            .into_iter()
            .map(|(name, ())| name)
            .collect())
    }
}

/// Merges a sorted base stream with sorted pending writes (`None` = deleted), keeping at
/// most `limit` live entries.
fn merge<V>(
    base: impl Iterator<Item = Result<(String, V), StoreError>>,
    pending: BTreeMap<String, Option<V>>,
    limit: usize,
) -> Result<Vec<(String, V)>, StoreError> {
    merge_ordered(base, pending.into_iter(), limit, false)
}

/// [`merge`] of streams sorted ascending, or with `descending`, both sorted descending.
fn merge_ordered<V>(
    base: impl Iterator<Item = Result<(String, V), StoreError>>,
    pending: impl Iterator<Item = (String, Option<V>)>,
    limit: usize,
    descending: bool,
) -> Result<Vec<(String, V)>, StoreError> {
    let mut out = Vec::new();
    let mut base = base.peekable();
    let mut pending = pending.peekable();
    while out.len() < limit {
        let take_pending = match (base.peek(), pending.peek()) {
            (None, None) => break,
            (Some(Err(_)), _) => {
                if let Some(Err(e)) = base.next() {
                    return Err(e);
                }
                continue;
            }
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some(Ok((bk, _))), Some((pk, _))) => {
                if pk == bk {
                    // The pending write shadows the stored value.
                    base.next();
                    true
                } else {
                    (pk < bk) != descending
                }
            }
        };
        if take_pending {
            if let Some((k, Some(v))) = pending.next() {
                out.push((k, v));
            }
        } else if let Some(Ok(kv)) = base.next() {
            out.push(kv);
        }
    }
    Ok(out)
}
