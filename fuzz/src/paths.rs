//! Target `path`: znode path validation (`store::path`, DESIGN §2) is total, refuses
//! exactly what breaks a rule with the error naming that rule, and every accepted path
//! splits into a parent and a name that join back to it.

use corral_server::store::keys::child_key;
use corral_server::store::path::{self, PathError, MAX_PATH_BYTES, MAX_SEGMENT_BYTES};

/// Longest message a refused path may produce: messages quote a shortened path, so a
/// huge path never makes a huge error (it ends up in a gRPC status header).
pub const MAX_ERROR_MESSAGE_BYTES: usize = 512;

/// Fuzz entry point: the bytes as a path (invalid UTF-8 is replaced, as gRPC would
/// refuse it before validation anyway).
pub fn path(data: &[u8]) {
    match std::str::from_utf8(data) {
        Ok(s) => check(s),
        Err(_) => check(&String::from_utf8_lossy(data)),
    }
}

/// Validates `s` and checks the outcome against the rules, stated independently here.
pub fn check(s: &str) {
    match path::validate(s) {
        Ok(()) => accepted(s),
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.len() <= MAX_ERROR_MESSAGE_BYTES,
                "a {}-byte path gave a {}-byte error message",
                s.len(),
                message.len()
            );
            refused(s, &e);
        }
    }
}

fn accepted(s: &str) {
    assert!(s.starts_with('/'), "accepted a relative path {s:?}");
    assert!(
        s.len() <= MAX_PATH_BYTES,
        "accepted a {}-byte path",
        s.len()
    );
    assert!(
        !s.chars().any(char::is_control),
        "accepted a control character in {s:?}"
    );
    if s == "/" {
        assert_eq!(path::parent(s), None);
        assert!(path::ancestors(s).is_empty());
        assert_eq!(path::descendant_prefix(s), "/");
        return;
    }
    assert!(!s.ends_with('/'), "accepted a trailing slash in {s:?}");
    let segments: Vec<&str> = s[1..].split('/').collect();
    for segment in &segments {
        assert!(!segment.is_empty(), "accepted an empty segment in {s:?}");
        assert!(
            *segment != "." && *segment != "..",
            "accepted a relative segment in {s:?}"
        );
        assert!(
            segment.len() <= MAX_SEGMENT_BYTES,
            "accepted a long segment"
        );
    }

    // Parent and name: what Create, Delete and the child index are built from.
    let parent = path::parent(s).expect("a valid non-root path has a parent");
    let name = path::name(s);
    assert_eq!(Some(&name), segments.last());
    assert!(!name.contains('/'));
    assert_eq!(path::join(parent, name), s, "parent/name do not join back");
    assert_eq!(path::validate(parent), Ok(()), "parent of {s:?} is invalid");
    assert!(s.starts_with(&path::descendant_prefix(parent)));

    // The child-index key `parent \0 name` splits back unambiguously: no NUL in paths.
    let key = child_key(parent, name);
    let (p, n) = key.split_once('\0').expect("child key has a separator");
    assert_eq!((p, n), (parent, name), "child key of {s:?} is ambiguous");

    // Ancestors: the proper prefixes ending before each inner '/', in order, the last
    // one the parent (valid, so every ancestor is: each is a prefix of a valid path
    // cut at a '/'). Compared by position, so a deep path costs linear time.
    let ancestors = path::ancestors(s);
    let cuts: Vec<usize> = s.match_indices('/').map(|(i, _)| i).skip(1).collect();
    assert_eq!(ancestors.len(), cuts.len());
    assert_eq!(ancestors.len(), segments.len() - 1);
    for (a, cut) in ancestors.iter().zip(&cuts) {
        assert!(std::ptr::eq(a.as_ptr(), s.as_ptr()) && a.len() == *cut);
    }
    match ancestors.last() {
        Some(last) => assert_eq!(*last, parent),
        None => assert_eq!(parent, "/"),
    }
}

fn refused(s: &str, e: &PathError) {
    match e {
        PathError::Empty => assert!(s.is_empty()),
        PathError::TooLong(n) => {
            assert_eq!(*n, s.len());
            assert!(*n > MAX_PATH_BYTES);
        }
        PathError::ControlCharacter(_, c, at) => {
            let found = s.get(*at..).and_then(|t| t.chars().next());
            assert_eq!(found.map(|ch| ch as u32), Some(*c), "wrong position");
            assert!(found.is_some_and(char::is_control));
        }
        PathError::NotAbsolute(_) => assert!(!s.starts_with('/')),
        PathError::TrailingSlash(_) => assert!(s.ends_with('/') && s != "/"),
        PathError::EmptySegment(_) => assert!(s.contains("//")),
        PathError::RelativeSegment(_, segment) => {
            assert!(segment == "." || segment == "..");
            assert!(s.split('/').any(|x| x == segment));
        }
        PathError::SegmentTooLong(_, n) => {
            assert!(*n > MAX_SEGMENT_BYTES);
            assert!(s.split('/').any(|x| x.len() == *n));
        }
    }
}
