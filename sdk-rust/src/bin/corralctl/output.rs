//! Everything corralctl prints goes through [`Printer`]: a command builds one
//! [`Shown`] (the API message behind its answer, and the text for people) and the
//! printer writes whichever `-o` asked for. The text renderers (tables, trees, event
//! lines) are here too.

use std::io::{self, Write};

use corral_client::{Event, Member, Node, Status};

use crate::cli::Format;
use crate::failure::Failure;
use crate::protojson::{self, ApiMessage, Doc};

/// What one command (or one item of a stream) prints.
pub struct Shown {
    /// For `-o json`.
    json: Json,
    /// For `-o table`: written as is, so it can be data bytes (`get`).
    text: Vec<u8>,
}

/// The JSON side of a [`Shown`], rendered only when asked for.
enum Json {
    /// An API message, encoded: printed as its proto3 JSON mapping.
    Message { name: &'static str, bytes: Vec<u8> },
    /// A document built from such messages (`status`'s list, `snapshot save`).
    Doc(Doc),
}

impl Shown {
    /// An API message, and the text people see for it.
    pub fn message<M: ApiMessage>(message: &M, text: impl Into<Vec<u8>>) -> Shown {
        Shown {
            json: Json::Message {
                name: M::NAME,
                bytes: message.encode_to_vec(),
            },
            text: text.into(),
        }
    }

    /// A JSON document that is not one message (see [`Json::Doc`]).
    pub fn doc(json: Doc, text: impl Into<Vec<u8>>) -> Shown {
        Shown {
            json: Json::Doc(json),
            text: text.into(),
        }
    }
}

/// A message as a [`Doc`], or a [`Failure`] if the descriptors disagree with the
/// generated code (a bug).
pub fn doc_of<M: ApiMessage>(message: &M) -> Result<Doc, Failure> {
    protojson::message(message).map_err(internal)
}

fn internal(e: impl std::fmt::Display) -> Failure {
    Failure::Other(format!("internal error: {e}"))
}

/// Writes [`Shown`] values to stdout in the format `-o` chose.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    format: Format,
}

impl Printer {
    pub fn new(format: Format) -> Printer {
        Printer { format }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// The answer of a command: JSON pretty-printed, or the text.
    pub fn print(&self, shown: Shown) -> Result<(), Failure> {
        self.write(shown, true)
    }

    /// One item of a stream (`watch`, `lease keepalive`, `elect`, `lock`): JSON on one
    /// line, so each line is a document; flushed at once for whoever reads the pipe.
    pub fn print_item(&self, shown: Shown) -> Result<(), Failure> {
        self.write(shown, false)
    }

    fn write(&self, shown: Shown, pretty: bool) -> Result<(), Failure> {
        let bytes = self.render(shown, pretty)?;
        write_stdout(&bytes).map_err(Failure::Output)
    }

    /// The bytes [`Printer::print`] (`pretty`) or [`Printer::print_item`] write.
    pub fn render(&self, shown: Shown, pretty: bool) -> Result<Vec<u8>, Failure> {
        let doc = match (self.format, shown.json) {
            (Format::Table, _) => return Ok(shown.text),
            (Format::Json, Json::Message { name, bytes }) => {
                protojson::decode(name, &bytes).map_err(internal)?
            }
            (Format::Json, Json::Doc(doc)) => doc,
        };
        let mut bytes = if pretty {
            serde_json::to_vec_pretty(&doc)
        } else {
            serde_json::to_vec(&doc)
        }
        .map_err(internal)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Writes `bytes` to stdout and flushes.
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
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

/// The last segment of a path (`/` for the root).
pub fn name(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some((_, "")) | None => path,
        Some((_, last)) => last,
    }
}

/// `stat`'s text: the path, then one `field value` line per stat field, in the
/// API's order and with its names.
pub fn stat_text(n: &Node) -> String {
    let s = &n.stat;
    let fields: [(&str, String); 13] = [
        ("create_revision", s.create_revision.to_string()),
        ("mod_revision", s.mod_revision.to_string()),
        ("version", s.version.to_string()),
        ("children_version", s.children_version.to_string()),
        ("acl_version", s.acl_version.to_string()),
        ("children_revision", s.children_revision.to_string()),
        ("lease_id", s.lease_id.to_string()),
        ("data_length", s.data_length.to_string()),
        ("num_children", s.num_children.to_string()),
        ("ctime_ms", s.ctime_ms.to_string()),
        ("mtime_ms", s.mtime_ms.to_string()),
        ("kind", s.kind.as_str().to_string()),
        ("ttl_ms", s.ttl_ms.to_string()),
    ];
    let mut text = format!("{:<18}{}\n", "path", n.path);
    for (key, value) in fields {
        text.push_str(&format!("{key:<18}{value}\n"));
    }
    text
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
