//! Rendering: tables for people, JSON in the API's response shape for scripts.

use std::io::{self, Write};

use base64::Engine as _;
use corral_client::{Event, Header, Member, Node, Stat, Status};
use serde_json::{json, Value};

pub fn members_json(members: &[Member]) -> Vec<Value> {
    members
        .iter()
        .map(|m| {
            json!({
                "member_id": m.member_id,
                "peer_addr": m.peer_addr,
                "is_learner": m.is_learner,
            })
        })
        .collect()
}

/// `ID  PEER ADDR  ROLE` rows; the role is `leader` only when `leader` is known.
pub fn members_table(members: &[Member], leader: Option<u64>) -> String {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let role = if m.is_learner {
                "learner"
            } else if leader == Some(m.member_id) {
                "leader"
            } else {
                "voter"
            };
            vec![m.member_id.to_string(), m.peer_addr.clone(), role.into()]
        })
        .collect();
    table(&["ID", "PEER ADDR", "ROLE"], &rows)
}

pub fn status_json(endpoint: &str, s: &Status) -> Value {
    json!({
        "endpoint": endpoint,
        "header": header(&s.header),
        "member_id": s.member_id,
        "leader_id": s.leader_id.unwrap_or(0),
        "raft_term": s.raft_term,
        "commit_index": s.commit_index,
        "applied_index": s.applied_index,
        "revision": s.revision,
        "db_size_bytes": s.db_size_bytes,
        "version": s.version,
        "last_log_index": s.last_log_index,
        "is_learner": s.is_learner,
        "snapshot_index": s.snapshot_index.unwrap_or(0),
        "snapshot_installs": s.snapshot_installs,
    })
}

/// One row per member: what an operator checks first (who leads, is everyone at the
/// same term and index, how big is the database).
pub fn status_table(rows: &[(&str, Status)]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|(endpoint, s)| {
            let role = if s.is_learner {
                "learner"
            } else if s.is_leader() {
                "leader"
            } else {
                "follower"
            };
            vec![
                endpoint.to_string(),
                s.member_id.to_string(),
                role.into(),
                s.leader_id.map_or_else(|| "none".into(), |l| l.to_string()),
                s.raft_term.to_string(),
                s.last_log_index.to_string(),
                s.commit_index.to_string(),
                s.applied_index.to_string(),
                s.snapshot_index
                    .map_or_else(|| "-".into(), |i| i.to_string()),
                s.revision.to_string(),
                human_bytes(s.db_size_bytes),
                s.version.clone(),
            ]
        })
        .collect();
    table(
        &[
            "ENDPOINT", "ID", "ROLE", "LEADER", "TERM", "LAST LOG", "COMMIT", "APPLIED",
            "SNAPSHOT", "REVISION", "DB SIZE", "VERSION",
        ],
        &rows,
    )
}

/// Left-aligned columns two spaces apart, no trailing spaces.
pub fn table(headings: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headings.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let headings: Vec<String> = headings.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&headings).chain(rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(&widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// `512 B`, `1.5 KiB`, `20.0 MiB`, ...
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

pub fn consistency(serializable: bool) -> corral_client::Consistency {
    if serializable {
        corral_client::Consistency::Serializable
    } else {
        corral_client::Consistency::Linearizable
    }
}

/// The last segment of a path (`/` for the root).
pub fn name(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((_, "")) | None => path,
        Some((_, last)) => last,
    }
}

pub fn print_json(out: &mut impl Write, value: Value) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &value)?;
    writeln!(out)
}

pub fn header(h: &Header) -> Value {
    json!({
        "cluster_id": h.cluster_id,
        "member_id": h.member_id,
        "revision": h.revision,
        "raft_term": h.raft_term,
    })
}

/// A znode as JSON; `data` is base64, as in the protobuf JSON mapping.
pub fn node(n: &Node, with_data: bool) -> Value {
    let mut v = json!({"path": n.path, "stat": stat(&n.stat)});
    if with_data {
        v["data"] = base64::engine::general_purpose::STANDARD
            .encode(&n.data)
            .into();
    }
    v
}

/// Stat fields in the API's order, with the API's names.
pub fn stat_fields(s: &Stat) -> [(&'static str, Value); 13] {
    [
        ("create_revision", s.create_revision.into()),
        ("mod_revision", s.mod_revision.into()),
        ("version", s.version.into()),
        ("children_version", s.children_version.into()),
        ("acl_version", s.acl_version.into()),
        ("children_revision", s.children_revision.into()),
        ("lease_id", s.lease_id.into()),
        ("data_length", s.data_length.into()),
        ("num_children", s.num_children.into()),
        ("ctime_ms", s.ctime_ms.into()),
        ("mtime_ms", s.mtime_ms.into()),
        ("kind", s.kind.as_str().into()),
        ("ttl_ms", s.ttl_ms.into()),
    ]
}

/// The stat as a JSON object (keys sorted by serde_json).
pub fn stat(s: &Stat) -> Value {
    Value::Object(
        stat_fields(s)
            .into_iter()
            .map(|(key, value)| (key.to_string(), value))
            .collect(),
    )
}

/// An event as JSON: `{revision, type, node, prev_node?}`.
pub fn event_json(e: &Event) -> Value {
    let mut v = json!({
        "revision": e.revision,
        "type": e.kind.as_str(),
        "node": node(&e.node, true),
    });
    if let Some(prev) = &e.prev_node {
        v["prev_node"] = node(prev, true);
    }
    v
}

/// Data as one line of text: UTF-8 (lossy) with control characters escaped.
pub fn printable(data: &[u8]) -> String {
    String::from_utf8_lossy(data)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// An event as one line: `REVISION TYPE PATH DATA`, with ` (was PREV)` when known.
pub fn event_line(e: &Event) -> String {
    let mut line = format!(
        "{} {} {} {}",
        e.revision,
        e.kind.as_str(),
        e.node.path,
        printable(&e.node.data)
    );
    if let Some(prev) = &e.prev_node {
        line.push_str(&format!(" (was {})", printable(&prev.data)));
    }
    line.trim_end().to_string()
}

/// Draws the subtree rooted at `root` from its nodes (`root` itself not among them):
/// `root` on the first line, then one line per descendant with box-drawing branches.
pub fn tree(root: &str, nodes: &[Node]) -> String {
    use std::collections::BTreeMap;
    let mut children: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in nodes {
        let parent = match n.path.rfind('/') {
            Some(0) => "/",
            Some(i) => &n.path[..i],
            None => continue,
        };
        children.entry(parent).or_default().push(&n.path);
    }
    for list in children.values_mut() {
        list.sort_by(|a, b| name(a).cmp(name(b)));
    }
    let mut out = format!("{root}\n");
    fn walk(out: &mut String, children: &BTreeMap<&str, Vec<&str>>, path: &str, indent: &str) {
        let Some(kids) = children.get(path) else {
            return;
        };
        for (i, kid) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            out.push_str(indent);
            out.push_str(if last { "└── " } else { "├── " });
            out.push_str(name(kid));
            out.push('\n');
            let deeper = format!("{indent}{}", if last { "    " } else { "│   " });
            walk(out, children, kid, &deeper);
        }
    }
    walk(&mut out, &children, root, "");
    out
}
