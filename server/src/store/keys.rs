//! Key encodings of the stored tree, in one place: the RocksDB column families use them
//! (`db.rs`), and so do the overlay's pending writes (`overlay.rs`), whose in-memory
//! maps must sort exactly as the stored keys do. Numbers are big-endian, so byte order
//! is numeric order.

/// Key of `child` in the child index: `parent \0 name`. Paths never contain NUL, so a
/// prefix scan over `parent \0` finds exactly the children, in name order.
pub fn child_key(parent: &str, name: &str) -> String {
    format!("{parent}\0{name}")
}

/// Key of an ephemeral znode in its lease's index: the lease id (big-endian), then the path.
pub fn lease_node_key(id: i64, path: &str) -> Vec<u8> {
    let mut key = id.to_be_bytes().to_vec();
    key.extend_from_slice(path.as_bytes());
    key
}

/// Key of one event in the history: its revision, then its place in that revision.
pub fn history_key(revision: i64, seq: u32) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..8].copy_from_slice(&revision.to_be_bytes());
    key[8..].copy_from_slice(&seq.to_be_bytes());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_as_their_parts() {
        assert!(child_key("/a", "b") < child_key("/a", "c"));
        // A sibling directory with a longer name never lands among /a's children.
        assert!(!child_key("/ab", "x").starts_with(&child_key("/a", "")));
        assert!(history_key(2, 0) > history_key(1, u32::MAX));
        assert!(lease_node_key(1, "/z") < lease_node_key(2, "/a"));
    }
}
