//! Runs every fuzz target over its committed seed corpus (`fuzz/corpus/<target>/`) and
//! its kept crash inputs (`fuzz/regressions/<target>/`) on stable, so `cargo test
//! --workspace` catches a regression without nightly or libFuzzer. Also checks the
//! seed corpus is what `corral_fuzz::seeds` generates; regenerate it with
//! `CORRAL_FUZZ_BLESS=1 cargo test -p corral-fuzz --test corpus_replay`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use corral_fuzz::{seeds, TARGETS};

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Files directly in `dir`, sorted; none if it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    out.sort();
    out
}

/// Runs `target` on every file of its corpus and regressions; returns how many ran.
fn replay(name: &str, target: fn(&[u8])) -> usize {
    let mut ran = 0;
    for dir in ["corpus", "regressions"] {
        for file in files(&fuzz_dir().join(dir).join(name)) {
            let data = std::fs::read(&file).expect("readable input");
            if catch_unwind(AssertUnwindSafe(|| target(&data))).is_err() {
                panic!("target {name} failed on {}", file.display());
            }
            ran += 1;
        }
    }
    ran
}

#[test]
fn path_target_passes_its_corpus_and_regressions() {
    assert!(replay("path", corral_fuzz::path) >= 20);
}

#[test]
fn request_target_passes_its_corpus_and_regressions() {
    assert!(replay("request", corral_fuzz::request) >= 20);
}

#[test]
fn record_target_passes_its_corpus_and_regressions() {
    assert!(replay("record", corral_fuzz::record) >= 20);
}

#[test]
fn seed_corpus_matches_the_generator() {
    let bless = std::env::var_os("CORRAL_FUZZ_BLESS").is_some_and(|v| v == "1");
    for (name, target) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        let expected = seeds::seeds(name);
        if bless {
            std::fs::create_dir_all(&dir).expect("create corpus dir");
            for stale in files(&dir) {
                std::fs::remove_file(stale).expect("remove stale seed");
            }
            for (file, bytes) in &expected {
                std::fs::write(dir.join(file), bytes).expect("write seed");
            }
        }
        for (file, bytes) in &expected {
            // Every seed passes its target, so a broken seed is caught here too.
            target(bytes);
            let on_disk = std::fs::read(dir.join(file)).unwrap_or_default();
            assert!(
                on_disk == *bytes,
                "fuzz/corpus/{name}/{file} is missing or stale; regenerate with \
                 CORRAL_FUZZ_BLESS=1 cargo test -p corral-fuzz --test corpus_replay"
            );
        }
        let known: Vec<&str> = expected.iter().map(|(f, _)| f.as_str()).collect();
        for file in files(&dir) {
            let file_name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            assert!(
                known.contains(&file_name),
                "fuzz/corpus/{name}/{file_name} is not a generated seed: libFuzzer writes new \
                 inputs to the FIRST corpus directory it is given, so pass a scratch directory \
                 first (see docs/fuzzing.md); keep crash inputs in fuzz/regressions/{name}/"
            );
        }
    }
}
