//! Reads of the tree (Get and List), shared by the API's direct reads and Txn ops.

use super::command::{KvError, ListPage, ListQuery};
use super::overlay::{Backing, Overlay};
use super::path;
use super::StoreError;
use crate::znode::Node;

/// The znode at `path`, without data if `stat_only`.
pub fn get<B: Backing + ?Sized>(
    tree: &Overlay<'_, B>,
    node_path: &str,
    stat_only: bool,
) -> Result<Option<Node>, StoreError> {
    Ok(tree.node(node_path)?.map(|mut record| {
        if stat_only {
            record.data = Vec::new();
        }
        Node {
            path: node_path.to_string(),
            record,
        }
    }))
}

/// One page of `q.path`'s children (or subtree), in byte order of path. The listed
/// znode itself must exist.
pub fn list<B: Backing + ?Sized>(
    tree: &Overlay<'_, B>,
    q: &ListQuery,
) -> Result<ListPage, ListError> {
    if tree.node(&q.path)?.is_none() {
        return Err(ListError::Kv(KvError::NodeNotFound {
            path: q.path.clone(),
        }));
    }
    let limit = q.limit.max(1);
    // One extra to learn whether another page follows.
    let mut nodes = if q.recursive {
        tree.scan_nodes(&path::descendant_prefix(&q.path), &q.after, limit + 1)?
            .into_iter()
            .map(|(path, record)| Node { path, record })
            .collect::<Vec<_>>()
    } else {
        let after_name = if q.after.is_empty() {
            String::new()
        } else if path::parent(&q.after) == Some(q.path.as_str()) {
            path::name(&q.after).to_string()
        } else {
            return Err(ListError::Kv(KvError::Invalid(format!(
                "page token {:?} does not belong to a listing of {}",
                q.after, q.path
            ))));
        };
        let mut nodes = Vec::new();
        for name in tree.children(&q.path, &after_name, limit + 1)? {
            let child = path::join(&q.path, &name);
            let record = tree.node(&child)?.ok_or_else(|| {
                StoreError::Corrupt(format!("child index names {child} but it is missing"))
            })?;
            nodes.push(Node {
                path: child,
                record,
            });
        }
        nodes
    };
    let more = nodes.len() > limit;
    nodes.truncate(limit);
    if !q.with_data {
        for n in &mut nodes {
            n.record.data = Vec::new();
        }
    }
    let next_after = if more {
        nodes.last().map(|n| n.path.clone()).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(ListPage { nodes, next_after })
}

/// A listing refused (missing znode, foreign page token) or failed in storage.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// Refused.
    #[error(transparent)]
    Kv(KvError),
    /// Storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}
