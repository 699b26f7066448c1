//! Znode path rules (DESIGN §2) and helpers to split paths into parent and name.
//!
//! Every request path is checked here before anything is proposed, so a bad path is
//! refused with a precise reason and never reaches the log.

use thiserror::Error;

/// Longest accepted path, in bytes.
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest accepted path segment, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Why a path was refused. Each message names the rule that was broken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// The path is the empty string.
    #[error("is empty; paths are absolute, like \"/app/config\"")]
    Empty,
    /// The path does not begin with `/`.
    #[error("{0:?} must start with '/'")]
    NotAbsolute(String),
    /// The path ends with `/` and is not the root.
    #[error("{0:?} must not end with '/'")]
    TrailingSlash(String),
    /// Two consecutive slashes.
    #[error("{0:?} has an empty segment (\"//\")")]
    EmptySegment(String),
    /// A `.` or `..` segment.
    #[error("{0:?} has a relative segment {1:?}; '.' and '..' are not allowed")]
    RelativeSegment(String, String),
    /// NUL or another control character.
    #[error("{0:?} contains control character U+{1:04X} at byte {2}")]
    ControlCharacter(String, u32, usize),
    /// A segment longer than [`MAX_SEGMENT_BYTES`].
    #[error("segment starting {0:?} is {1} bytes; the limit is {MAX_SEGMENT_BYTES} per segment")]
    SegmentTooLong(String, usize),
    /// The whole path is longer than [`MAX_PATH_BYTES`].
    #[error("is {0} bytes long; the limit is {MAX_PATH_BYTES} bytes")]
    TooLong(usize),
}

/// Checks `path` against every rule of DESIGN §2.
pub fn validate(path: &str) -> Result<(), PathError> {
    if path.is_empty() {
        return Err(PathError::Empty);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong(path.len()));
    }
    if let Some((i, c)) = path.char_indices().find(|(_, c)| c.is_control()) {
        return Err(PathError::ControlCharacter(shorten(path), c as u32, i));
    }
    if !path.starts_with('/') {
        return Err(PathError::NotAbsolute(shorten(path)));
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(PathError::TrailingSlash(shorten(path)));
    }
    for segment in path[1..].split('/') {
        match segment {
            "" => return Err(PathError::EmptySegment(shorten(path))),
            "." | ".." => {
                return Err(PathError::RelativeSegment(
                    shorten(path),
                    segment.to_string(),
                ))
            }
            s if s.len() > MAX_SEGMENT_BYTES => {
                return Err(PathError::SegmentTooLong(
                    s.chars().take(16).collect(),
                    s.len(),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Keeps error messages readable when a path is huge.
fn shorten(path: &str) -> String {
    const KEEP: usize = 64;
    if path.chars().count() <= KEEP {
        path.to_string()
    } else {
        let head: String = path.chars().take(KEEP).collect();
        format!("{head}…")
    }
}

/// Parent of a valid non-root path: `/a/b` → `/a`, `/a` → `/`. `None` for the root.
pub fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// Last segment of a valid non-root path: `/a/b` → `b`.
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// Prefix shared by every strict descendant of `path` (`/a` → `/a/`, `/` → `/`).
pub fn descendant_prefix(path: &str) -> String {
    if path == "/" {
        "/".to_string()
    } else {
        format!("{path}/")
    }
}

/// Ancestors of `path` from the root's child down to its parent: `/a/b/c` → `/a`, `/a/b`.
pub fn ancestors(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for (i, c) in path.char_indices().skip(1) {
        if c == '/' {
            out.push(&path[..i]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/services/api/host-0000000007",
            "/ünï/çødé",
            "/a b",
        ] {
            assert_eq!(validate(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn refuses_each_broken_rule() {
        assert_eq!(validate(""), Err(PathError::Empty));
        assert!(matches!(validate("a/b"), Err(PathError::NotAbsolute(_))));
        assert!(matches!(validate("/a/"), Err(PathError::TrailingSlash(_))));
        assert!(matches!(validate("/a//b"), Err(PathError::EmptySegment(_))));
        assert!(matches!(
            validate("/a/../b"),
            Err(PathError::RelativeSegment(_, _))
        ));
        assert!(matches!(
            validate("/a/./b"),
            Err(PathError::RelativeSegment(_, _))
        ));
        assert!(matches!(
            validate("/a\0b"),
            Err(PathError::ControlCharacter(_, 0, 2))
        ));
        assert!(matches!(
            validate("/a\nb"),
            Err(PathError::ControlCharacter(_, 10, 2))
        ));
        let long_segment = format!("/{}", "x".repeat(256));
        assert!(matches!(
            validate(&long_segment),
            Err(PathError::SegmentTooLong(_, 256))
        ));
        let long_path = "/abcdefgh".repeat(600);
        assert!(matches!(
            validate(&long_path),
            Err(PathError::TooLong(5400))
        ));
        assert_eq!(validate(&format!("/{}", "x".repeat(255))), Ok(()));
    }

    #[test]
    fn splits_parent_name_and_ancestors() {
        assert_eq!(parent("/"), None);
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/a/b/c"), Some("/a/b"));
        assert_eq!(name("/a/b/c"), "c");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(ancestors("/a/b/c"), vec!["/a", "/a/b"]);
        assert!(ancestors("/a").is_empty());
        assert_eq!(descendant_prefix("/"), "/");
        assert_eq!(descendant_prefix("/a"), "/a/");
    }
}
