//! Fuzz targets for Corral's input boundaries, as plain functions so that the libFuzzer
//! entry points (`fuzz_targets/`, nightly, `cargo fuzz`) and the stable corpus-replay
//! test (`tests/corpus_replay.rs`, part of `cargo test --workspace`) run the same code.
//!
//! Each target takes arbitrary bytes, drives the real server code with them and asserts
//! its properties; a failed assertion or a panic in server code is a finding. See
//! `docs/fuzzing.md` for what each target checks and how to run it.

mod mem;
pub mod paths;
pub mod records;
pub mod requests;
pub mod seeds;

pub use paths::path;
pub use records::record;
pub use requests::request;

/// A fuzz target: checks its properties on arbitrary bytes, panicking on a violation.
pub type Target = fn(&[u8]);

/// Every target, by the name its corpus and regression directories use.
pub const TARGETS: [(&str, Target); 3] = [("path", path), ("request", request), ("record", record)];
