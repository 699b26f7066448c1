//! Which events a watch wants: scope around a path, and event types to leave out.

use crate::znode::{Event, EventKind};

/// Which znodes, relative to the watched path, a watch sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The znode itself.
    Node,
    /// Its direct children.
    Children,
    /// It and all descendants.
    Subtree,
}

/// A watch's filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchSpec {
    /// Watched path.
    pub path: String,
    /// Scope around it.
    pub scope: Scope,
    /// Event kinds not to deliver.
    pub exclude: Vec<EventKind>,
}

impl WatchSpec {
    /// Whether `event` is delivered to this watch.
    pub fn matches(&self, event: &Event) -> bool {
        if self.exclude.contains(&event.kind) {
            return false;
        }
        let p = event.path.as_str();
        match self.scope {
            Scope::Node => p == self.path,
            Scope::Children => parent_of(p) == Some(self.path.as_str()),
            Scope::Subtree => {
                p == self.path
                    || (self.path == "/" && p.starts_with('/'))
                    || (p.starts_with(self.path.as_str())
                        && p.as_bytes().get(self.path.len()) == Some(&b'/'))
            }
        }
    }
}

fn parent_of(p: &str) -> Option<&str> {
    if p == "/" {
        return None;
    }
    match p.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&p[..i]),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::znode::NodeRecord;

    fn ev(path: &str, kind: EventKind) -> Event {
        Event {
            revision: 1,
            kind,
            path: path.into(),
            node: NodeRecord::default(),
            prev: None,
            ts_ms: 0,
            acl: None,
        }
    }

    fn spec(path: &str, scope: Scope) -> WatchSpec {
        WatchSpec {
            path: path.into(),
            scope,
            exclude: vec![],
        }
    }

    #[test]
    fn scopes_select_the_right_znodes() {
        let node = spec("/a", Scope::Node);
        assert!(node.matches(&ev("/a", EventKind::Updated)));
        assert!(!node.matches(&ev("/a/b", EventKind::Updated)));
        let children = spec("/a", Scope::Children);
        assert!(children.matches(&ev("/a/b", EventKind::Created)));
        assert!(!children.matches(&ev("/a/b/c", EventKind::Created)));
        assert!(!children.matches(&ev("/a", EventKind::Created)));
        assert!(!children.matches(&ev("/ab", EventKind::Created)));
        let sub = spec("/a", Scope::Subtree);
        assert!(sub.matches(&ev("/a", EventKind::Deleted)));
        assert!(sub.matches(&ev("/a/b/c", EventKind::Deleted)));
        assert!(!sub.matches(&ev("/ab", EventKind::Deleted)));
        assert!(spec("/", Scope::Subtree).matches(&ev("/x/y", EventKind::Created)));
        assert!(spec("/", Scope::Children).matches(&ev("/x", EventKind::Created)));
    }

    #[test]
    fn excluded_kinds_are_dropped() {
        let mut s = spec("/a", Scope::Node);
        s.exclude = vec![EventKind::Updated];
        assert!(!s.matches(&ev("/a", EventKind::Updated)));
        assert!(s.matches(&ev("/a", EventKind::Deleted)));
    }
}
