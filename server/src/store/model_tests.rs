//! Property test: random command sequences applied by the real state machine (RocksDB,
//! overlay, batching) must match a deliberately simple in-memory model — results,
//! stats, revisions and the final tree alike.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::apply::apply_command;
use super::command::*;
use super::db::{Db, Sync};
use super::overlay::{Backing, Overlay};
use super::read;
use crate::znode::{Event, EventKind, Node, NodeKind, NodeRecord, Stat};

/// The model: a map from path to record, and a revision counter. Written independently
/// of `apply` — straight-line code with whole-map rollback for Txns.
#[derive(Clone, Default)]
struct Model {
    nodes: BTreeMap<String, NodeRecord>,
    rev: i64,
    /// Lease id → TTL.
    leases: BTreeMap<i64, i64>,
    next_lease: i64,
    /// Every event emitted, in order.
    events: Vec<Event>,
}

fn parent_of(p: &str) -> Option<String> {
    if p == "/" {
        return None;
    }
    let i = p.rfind('/')?;
    Some(if i == 0 {
        "/".into()
    } else {
        p[..i].to_string()
    })
}

impl Model {
    fn new() -> Self {
        let mut m = Model::default();
        m.nodes.insert("/".into(), NodeRecord::default());
        m
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        p: &str,
        data: Vec<u8>,
        kind: NodeKind,
        ttl: i64,
        lease: i64,
        rev: i64,
        now: i64,
    ) -> Stat {
        let stat = Stat {
            create_revision: rev,
            mod_revision: rev,
            children_revision: rev,
            data_length: data.len() as i64,
            ctime_ms: now,
            mtime_ms: now,
            kind,
            ttl_ms: if kind == NodeKind::Ttl { ttl } else { 0 },
            lease_id: if kind == NodeKind::Ephemeral {
                lease
            } else {
                0
            },
            ..Stat::default()
        };
        let parent = parent_of(p).unwrap();
        let pr = self.nodes.get_mut(&parent).unwrap();
        pr.stat.children_version += 1;
        pr.stat.num_children += 1;
        pr.stat.children_revision = rev;
        let rec = NodeRecord { data, stat };
        self.events.push(Event {
            revision: rev,
            kind: EventKind::Created,
            path: p.to_string(),
            node: rec.clone(),
            prev: None,
            ts_ms: now,
            acl: None,
        });
        self.nodes.insert(p.to_string(), rec);
        stat
    }

    /// Removes `p` and its subtree, children first, like a delete.
    fn remove(&mut self, p: &str, rev: i64, now: i64) -> i64 {
        let prefix = format!("{p}/");
        let mut doomed: Vec<String> = self
            .nodes
            .keys()
            .filter(|k| k.as_str() == p || k.starts_with(&prefix))
            .cloned()
            .collect();
        doomed.sort_by(|a, b| b.cmp(a));
        for k in &doomed {
            let rec = self.nodes.remove(k).unwrap();
            self.events.push(Event {
                revision: rev,
                kind: EventKind::Deleted,
                path: k.clone(),
                node: rec.clone(),
                prev: Some(rec),
                ts_ms: now,
                acl: None,
            });
        }
        let parent = parent_of(p).unwrap();
        let pr = self.nodes.get_mut(&parent).unwrap();
        pr.stat.children_version += 1;
        pr.stat.num_children -= 1;
        pr.stat.children_revision = rev;
        doomed.len() as i64
    }

    fn create(&mut self, c: &CreateCmd, rev: i64, now: i64) -> Result<OpOutput, KvError> {
        let probe = if c.sequential {
            format!("{}0000000000", c.path)
        } else {
            c.path.clone()
        };
        let parent = parent_of(&probe).unwrap();
        if c.create_parents {
            let mut missing = Vec::new();
            let mut cur = parent_of(&probe);
            while let Some(a) = cur {
                if a == "/" {
                    break;
                }
                if let Some(r) = self.nodes.get(&a) {
                    if r.stat.kind == NodeKind::Ephemeral {
                        return Err(KvError::EphemeralParent {
                            path: probe,
                            parent: a,
                        });
                    }
                } else {
                    missing.push(a.clone());
                }
                cur = parent_of(&a);
            }
            for a in missing.into_iter().rev() {
                self.add(&a, vec![], NodeKind::Persistent, 0, 0, rev, now);
            }
        }
        let Some(prec) = self.nodes.get(&parent) else {
            return Err(KvError::ParentNotFound {
                path: probe,
                parent,
            });
        };
        if prec.stat.kind == NodeKind::Ephemeral {
            return Err(KvError::EphemeralParent {
                path: probe,
                parent,
            });
        }
        let actual = if c.sequential {
            format!("{}{:010}", c.path, prec.stat.children_version)
        } else {
            c.path.clone()
        };
        if self.nodes.contains_key(&actual) {
            return Err(KvError::NodeExists { path: actual });
        }
        if c.kind == NodeKind::Ephemeral && !self.leases.contains_key(&c.lease_id) {
            return Err(KvError::LeaseNotFound {
                lease_id: c.lease_id,
            });
        }
        let stat = self.add(
            &actual,
            c.data.clone(),
            c.kind,
            c.ttl_ms,
            c.lease_id,
            rev,
            now,
        );
        Ok(OpOutput::Create { path: actual, stat })
    }

    fn put(&mut self, c: &PutCmd, rev: i64, now: i64) -> Result<OpOutput, KvError> {
        let Some(rec) = self.nodes.get(&c.path).cloned() else {
            if c.create_if_missing && c.expected_version.is_none() {
                let parent = parent_of(&c.path).unwrap();
                if !self.nodes.contains_key(&parent) {
                    return Err(KvError::ParentNotFound {
                        path: c.path.clone(),
                        parent,
                    });
                }
                if self.nodes[&parent].stat.kind == NodeKind::Ephemeral {
                    return Err(KvError::EphemeralParent {
                        path: c.path.clone(),
                        parent,
                    });
                }
                let stat = self.add(
                    &c.path,
                    c.data.clone(),
                    NodeKind::Persistent,
                    0,
                    0,
                    rev,
                    now,
                );
                return Ok(OpOutput::Put { stat, prev: None });
            }
            return Err(KvError::NodeNotFound {
                path: c.path.clone(),
            });
        };
        if let Some(e) = c.expected_version {
            if e != rec.stat.version {
                return Err(KvError::VersionMismatch {
                    path: c.path.clone(),
                    expected: e,
                    current: rec.stat.version,
                });
            }
        }
        let mut new = rec.clone();
        new.data = c.data.clone();
        new.stat.data_length = new.data.len() as i64;
        new.stat.version += 1;
        new.stat.mod_revision = rev;
        new.stat.mtime_ms = now;
        let stat = new.stat;
        self.events.push(Event {
            revision: rev,
            kind: EventKind::Updated,
            path: c.path.clone(),
            node: new.clone(),
            prev: Some(rec.clone()),
            ts_ms: now,
            acl: None,
        });
        self.nodes.insert(c.path.clone(), new);
        let prev = c.prev_node.then(|| Node {
            path: c.path.clone(),
            record: rec,
        });
        Ok(OpOutput::Put { stat, prev })
    }

    fn delete(&mut self, c: &DeleteCmd, rev: i64, now: i64) -> Result<OpOutput, KvError> {
        let Some(rec) = self.nodes.get(&c.path).cloned() else {
            return Err(KvError::NodeNotFound {
                path: c.path.clone(),
            });
        };
        if let Some(e) = c.expected_version {
            if e != rec.stat.version {
                return Err(KvError::VersionMismatch {
                    path: c.path.clone(),
                    expected: e,
                    current: rec.stat.version,
                });
            }
        }
        if rec.stat.num_children > 0 && !c.recursive {
            return Err(KvError::NotEmpty {
                path: c.path.clone(),
                num_children: rec.stat.num_children,
            });
        }
        Ok(OpOutput::Delete {
            deleted: self.remove(&c.path, rev, now),
        })
    }

    fn get(&self, q: &GetQuery) -> Option<Node> {
        self.nodes.get(&q.path).map(|r| {
            let mut r = r.clone();
            if q.stat_only {
                r.data.clear();
            }
            Node {
                path: q.path.clone(),
                record: r,
            }
        })
    }

    fn holds(&self, c: &Compare) -> bool {
        let n = self.nodes.get(&c.path);
        let ord = match (&c.target, n) {
            (CmpTarget::Exists(w), n) => {
                let eq = n.is_some() == *w;
                return match c.op {
                    CmpOp::Equal => eq,
                    CmpOp::NotEqual => !eq,
                    _ => false,
                };
            }
            (_, None) => return false,
            (CmpTarget::Version(v), Some(n)) => n.stat.version.cmp(v),
            (CmpTarget::ModRevision(v), Some(n)) => n.stat.mod_revision.cmp(v),
            (CmpTarget::CreateRevision(v), Some(n)) => n.stat.create_revision.cmp(v),
            (CmpTarget::NumChildren(v), Some(n)) => n.stat.num_children.cmp(v),
            (CmpTarget::Data(d), Some(n)) => n.data.cmp(d),
        };
        match c.op {
            CmpOp::Equal => ord.is_eq(),
            CmpOp::NotEqual => ord.is_ne(),
            CmpOp::Greater => ord.is_gt(),
            CmpOp::Less => ord.is_lt(),
        }
    }

    fn apply(&mut self, cmd: &Command, now: i64) -> CommandResult {
        let before = self.clone();
        let rev = self.rev + 1;
        let res: Result<(Output, bool), KvError> = match cmd {
            Command::Create(c) => self.create(c, rev, now).map(|o| (Output::Op(o), true)),
            Command::Put(c) => self.put(c, rev, now).map(|o| (Output::Op(o), true)),
            Command::Delete(c) => self.delete(c, rev, now).map(|o| (Output::Op(o), true)),
            Command::Txn(t) => (|| {
                let ok = t.compares.iter().all(|c| self.holds(c));
                let mut results = Vec::new();
                let mut wrote = false;
                for op in if ok { &t.success } else { &t.failure } {
                    results.push(match op {
                        // The model knows no ACLs (auth is off, so they change nothing).
                        TxnOp::Create(c) | TxnOp::CreateWithAcl(c, _) => {
                            wrote = true;
                            self.create(c, rev, now)?
                        }
                        TxnOp::Put(c) => {
                            wrote = true;
                            self.put(c, rev, now)?
                        }
                        TxnOp::Delete(c) => {
                            wrote = true;
                            self.delete(c, rev, now)?
                        }
                        TxnOp::Get(q) => OpOutput::Get(self.get(q)),
                        TxnOp::List(_) => unreachable!("not generated"),
                    });
                }
                Ok((
                    Output::Txn {
                        succeeded: ok,
                        results,
                    },
                    wrote,
                ))
            })(),
            Command::LeaseGrant { id, ttl_ms } => {
                if *id > 0 {
                    if self.leases.contains_key(id) {
                        Err(KvError::LeaseExists { lease_id: *id })
                    } else {
                        self.leases.insert(*id, *ttl_ms);
                        Ok((
                            Output::Lease {
                                id: *id,
                                ttl_ms: *ttl_ms,
                            },
                            false,
                        ))
                    }
                } else {
                    let mut n = self.next_lease.max(1);
                    while self.leases.contains_key(&n) {
                        n += 1;
                    }
                    self.next_lease = n + 1;
                    self.leases.insert(n, *ttl_ms);
                    Ok((
                        Output::Lease {
                            id: n,
                            ttl_ms: *ttl_ms,
                        },
                        false,
                    ))
                }
            }
            Command::LeaseRevoke { id } => {
                if self.leases.remove(id).is_none() {
                    Err(KvError::LeaseNotFound { lease_id: *id })
                } else {
                    let owned: Vec<String> = self
                        .nodes
                        .iter()
                        .filter(|(_, r)| {
                            r.stat.kind == NodeKind::Ephemeral && r.stat.lease_id == *id
                        })
                        .map(|(p, _)| p.clone())
                        .collect();
                    let mut deleted = 0;
                    for p in &owned {
                        deleted += self.remove(p, rev, now);
                    }
                    Ok((Output::Deleted { deleted }, deleted > 0))
                }
            }
            other => unreachable!("not generated: {other:?}"),
        };
        match res {
            Ok((out, wrote)) => {
                if wrote {
                    self.rev = rev;
                }
                CommandResult {
                    revision: self.rev,
                    result: Ok(out),
                }
            }
            Err(e) => {
                *self = before;
                CommandResult {
                    revision: self.rev,
                    result: Err(e),
                }
            }
        }
    }
}

const PATHS: &[&str] = &["/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z", "/q/"];

fn arb_path() -> impl Strategy<Value = String> {
    prop::sample::select(PATHS).prop_map(|p| p.trim_end_matches('/').to_string())
}

fn arb_data() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..4)
}

fn arb_create() -> impl Strategy<Value = CreateCmd> {
    (
        prop::sample::select(PATHS),
        arb_data(),
        any::<bool>(),
        any::<bool>(),
        0..4u8,
    )
        .prop_map(|(p, data, sequential, create_parents, kind)| {
            let (kind, lease_id, ttl_ms) = match kind {
                0 => (NodeKind::Ephemeral, 1 + (data.len() as i64 % 3), 0),
                1 => (NodeKind::Container, 0, 0),
                2 => (NodeKind::Ttl, 0, 500),
                _ => (NodeKind::Persistent, 0, 0),
            };
            let path = if p.ends_with('/') && !sequential {
                p.trim_end_matches('/').to_string()
            } else {
                p.to_string()
            };
            CreateCmd {
                path,
                data,
                kind,
                lease_id,
                sequential,
                ttl_ms,
                create_parents,
            }
        })
}

fn arb_put() -> impl Strategy<Value = PutCmd> {
    (
        arb_path(),
        arb_data(),
        prop::option::of(0..3i64),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(path, data, expected_version, cim, prev_node)| PutCmd {
            path,
            data,
            create_if_missing: cim && expected_version.is_none(),
            expected_version,
            prev_node,
        })
}

fn arb_delete() -> impl Strategy<Value = DeleteCmd> {
    (arb_path(), prop::option::of(0..3i64), any::<bool>()).prop_map(
        |(path, expected_version, recursive)| DeleteCmd {
            path,
            expected_version,
            recursive,
        },
    )
}

fn arb_op() -> impl Strategy<Value = TxnOp> {
    prop_oneof![
        arb_create().prop_map(TxnOp::Create),
        arb_put().prop_map(TxnOp::Put),
        arb_delete().prop_map(TxnOp::Delete),
        (arb_path(), any::<bool>())
            .prop_map(|(path, stat_only)| TxnOp::Get(GetQuery { path, stat_only })),
    ]
}

fn arb_compare() -> impl Strategy<Value = Compare> {
    let target = prop_oneof![
        any::<bool>().prop_map(CmpTarget::Exists),
        (0..3i64).prop_map(CmpTarget::Version),
        (0..20i64).prop_map(CmpTarget::ModRevision),
        (0..3i64).prop_map(CmpTarget::NumChildren),
        arb_data().prop_map(CmpTarget::Data),
    ];
    let op = prop::sample::select(vec![
        CmpOp::Equal,
        CmpOp::NotEqual,
        CmpOp::Greater,
        CmpOp::Less,
    ]);
    (arb_path(), op, target).prop_map(|(path, op, target)| {
        let op = if matches!(target, CmpTarget::Exists(_))
            && matches!(op, CmpOp::Greater | CmpOp::Less)
        {
            CmpOp::Equal
        } else {
            op
        };
        Compare { path, op, target }
    })
}

fn arb_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => arb_create().prop_map(Command::Create),
        3 => arb_put().prop_map(Command::Put),
        2 => arb_delete().prop_map(Command::Delete),
        1 => (0..4i64).prop_map(|id| Command::LeaseGrant { id, ttl_ms: 5000 }),
        1 => (1..4i64).prop_map(|id| Command::LeaseRevoke { id }),
        2 => (prop::collection::vec(arb_compare(), 0..3), prop::collection::vec(arb_op(), 0..4), prop::collection::vec(arb_op(), 0..3))
            .prop_map(|(compares, success, failure)| Command::Txn(TxnCmd { compares, success, failure })),
    ]
}

/// Everything stored, read back through the store's own read path.
fn dump(db: &Db) -> BTreeMap<String, NodeRecord> {
    let reader = db.reader();
    let tree = Overlay::new(&reader);
    let mut out = BTreeMap::new();
    out.insert("/".to_string(), reader.node("/").unwrap().unwrap());
    for (p, r) in tree.scan_nodes("/", "", usize::MAX).unwrap() {
        out.insert(p, r);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn apply_matches_model(
        batches in prop::collection::vec(prop::collection::vec(arb_command(), 1..5), 1..12)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Sync::Never).unwrap();
        let mut model = Model::new();
        for (i, batch) in batches.iter().enumerate() {
            let now = 1_000 + i as i64;
            let reader = db.reader();
            let mut tree = Overlay::new(&reader);
            for cmd in batch {
                let got = apply_command(&mut tree, now, cmd).unwrap();
                let want = model.apply(cmd, now);
                prop_assert_eq!(&got, &want, "command {:?}", cmd);
            }
            let layer = tree.into_layer();
            drop(reader);
            db.commit_applied(layer, &[]).unwrap();
        }
        prop_assert_eq!(dump(&db), model.nodes.clone());
        // The history holds exactly the model's events, in order.
        let history = crate::watch::HistorySource::events_from(&db, 1, usize::MAX).unwrap();
        prop_assert_eq!(history, model.events.clone());
        let leases: BTreeMap<i64, i64> = db.leases().unwrap().into_iter().map(|l| (l.id, l.ttl_ms)).collect();
        prop_assert_eq!(leases, model.leases.clone());
        let reader = db.reader();
        prop_assert_eq!(reader.revision().unwrap(), model.rev);
        // Child listings agree with the model's notion of parent, paged by 1.
        let tree = Overlay::new(&reader);
        for p in model.nodes.keys() {
            let want: Vec<String> = model.nodes.keys().filter(|k| parent_of(k).as_deref() == Some(p.as_str())).cloned().collect();
            let mut got = Vec::new();
            let mut after = String::new();
            loop {
                let page = read::list(&tree, &ListQuery { path: p.clone(), recursive: false, with_data: false, limit: 1, after: after.clone() }).unwrap();
                got.extend(page.nodes.iter().map(|n| n.path.clone()));
                if page.next_after.is_empty() { break; }
                after = page.next_after;
            }
            prop_assert_eq!(got, want, "children of {}", p);
        }
    }
}

#[test]
fn failed_txn_op_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Sync::Never).unwrap();
    let reader = db.reader();
    let mut tree = Overlay::new(&reader);
    let mk = |p: &str| CreateCmd {
        path: p.into(),
        data: vec![],
        kind: NodeKind::Persistent,
        lease_id: 0,
        sequential: false,
        ttl_ms: 0,
        create_parents: false,
    };
    let r = apply_command(&mut tree, 1, &Command::Create(mk("/a"))).unwrap();
    assert_eq!(r.revision, 1);
    // Second op fails (exists): the first must be rolled back, revision unchanged.
    let txn = TxnCmd {
        compares: vec![],
        success: vec![TxnOp::Create(mk("/b")), TxnOp::Create(mk("/a"))],
        failure: vec![],
    };
    let r = apply_command(&mut tree, 2, &Command::Txn(txn)).unwrap();
    assert_eq!(r.result, Err(KvError::NodeExists { path: "/a".into() }));
    assert_eq!(r.revision, 1);
    assert!(tree.node("/b").unwrap().is_none());
}

#[test]
fn a_request_sent_twice_is_applied_once_and_answered_with_its_first_result() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Sync::Never).unwrap();
    let mk = |p: &str| CreateCmd {
        path: p.into(),
        data: vec![],
        kind: NodeKind::Persistent,
        lease_id: 0,
        sequential: true,
        ttl_ms: 0,
        create_parents: true,
    };
    let once = |seq: u64| Command::Once {
        client_id: "c1".into(),
        seq,
        command: Box::new(Command::Create(mk("/q/n-"))),
    };
    let apply = |cmd: &Command| {
        let reader = db.reader();
        let mut tree = Overlay::new(&reader);
        let r = apply_command(&mut tree, 1, cmd).unwrap();
        let layer = tree.into_layer();
        drop(reader);
        db.commit_applied(layer, &[]).unwrap();
        r
    };
    let first = apply(&once(1));
    let again = apply(&once(1));
    assert_eq!(first, again, "the retry gets the first result");
    let Ok(Output::Op(OpOutput::Create { path, .. })) = &first.result else {
        panic!("{first:?}")
    };
    assert_eq!(path, "/q/n-0000000000");
    assert_eq!(db.reader().revision().unwrap(), 1, "applied once");
    let second = apply(&once(2));
    assert_eq!(second.revision, 2);
    // Another client's seq 1 is its own request.
    let other = Command::Once {
        client_id: "c2".into(),
        seq: 1,
        command: Box::new(Command::Create(mk("/q/n-"))),
    };
    assert_eq!(apply(&other).revision, 3);
    // Forgotten results are refused rather than guessed.
    for seq in 3..(3 + super::session::MAX_RESULTS_PER_CLIENT as u64) {
        apply(&once(seq));
    }
    let old = apply(&once(1));
    assert!(
        matches!(old.result, Err(KvError::RequestTooOld { .. })),
        "{old:?}"
    );
}

#[test]
fn put_create_if_missing_under_an_ephemeral_is_refused() {
    // Regression (found by `apply_matches_model`): Put with create_if_missing created a
    // child under an ephemeral znode.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Sync::Never).unwrap();
    let reader = db.reader();
    let mut tree = Overlay::new(&reader);
    let grant = apply_command(
        &mut tree,
        1,
        &Command::LeaseGrant {
            id: 0,
            ttl_ms: 5000,
        },
    )
    .unwrap();
    let Ok(Output::Lease { id, .. }) = grant.result else {
        panic!("{grant:?}")
    };
    let eph = CreateCmd {
        path: "/e".into(),
        data: vec![],
        kind: NodeKind::Ephemeral,
        lease_id: id,
        sequential: false,
        ttl_ms: 0,
        create_parents: false,
    };
    apply_command(&mut tree, 1, &Command::Create(eph))
        .unwrap()
        .result
        .unwrap();
    let put = PutCmd {
        path: "/e/child".into(),
        data: vec![],
        expected_version: None,
        create_if_missing: true,
        prev_node: false,
    };
    let r = apply_command(&mut tree, 1, &Command::Put(put)).unwrap();
    assert_eq!(
        r.result,
        Err(KvError::EphemeralParent {
            path: "/e/child".into(),
            parent: "/e".into()
        })
    );
    assert!(tree.node("/e/child").unwrap().is_none());
}
