//! Re-reads TLS material without a restart: every [`POLL`] the files' metadata is
//! compared with what was last seen, and a set whose files changed is reloaded; SIGHUP
//! reloads every set at once. A reload that fails (a file half-written, a key that does
//! not match yet because its certificate was replaced first) keeps the material in use
//! and logs why; the next change of any of its files tries again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::TlsError;

/// How often the files' metadata is checked.
pub const POLL: Duration = Duration::from_secs(2);

/// A set of TLS material that can be re-read from its files.
pub trait Reload: Send + Sync {
    /// What it serves, for log lines ("peer port").
    fn what(&self) -> &'static str;
    /// The files it is read from.
    fn files(&self) -> Vec<PathBuf>;
    /// Re-reads the files and, if they pass every check, makes them current for new
    /// handshakes; returns a description of the new certificate.
    fn reload(&self) -> Result<String, TlsError>;
}

/// What identifies a version of a file: a replaced file (rename over, or a Kubernetes
/// secret's symlink swap) has a new inode; a rewritten one a new mtime or length.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    #[cfg(unix)]
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        #[cfg(unix)]
        inode: std::os::unix::fs::MetadataExt::ino(&meta),
    })
}

/// One watched set and the stamps its files had when last looked at.
struct Watched {
    target: Arc<dyn Reload>,
    stamps: HashMap<PathBuf, Option<Stamp>>,
}

impl Watched {
    fn new(target: Arc<dyn Reload>) -> Self {
        let stamps = target
            .files()
            .into_iter()
            .map(|p| {
                let s = stamp(&p);
                (p, s)
            })
            .collect();
        Self { target, stamps }
    }

    /// Notes the files' current stamps; true if any differs from the last look.
    fn changed(&mut self) -> bool {
        let mut changed = false;
        for (path, seen) in &mut self.stamps {
            let now = stamp(path);
            if now != *seen {
                *seen = now;
                changed = true;
            }
        }
        changed
    }

    fn reload(&self, why: &str) {
        match self.target.reload() {
            Ok(leaf) => tracing::info!(
                "TLS material of the {} reloaded ({why}); new handshakes use {leaf}",
                self.target.what()
            ),
            Err(e) => tracing::warn!(
                "TLS material of the {} not reloaded ({why}), keeping the previous one: {e}",
                self.target.what()
            ),
        }
    }
}

/// Watches `targets` until the runtime stops: reloads a set when its files change and
/// every set on SIGHUP. Does nothing (and installs no SIGHUP handler, so SIGHUP keeps its
/// default meaning) when `targets` is empty.
pub fn spawn_reloader(targets: Vec<Arc<dyn Reload>>) -> Option<tokio::task::JoinHandle<()>> {
    if targets.is_empty() {
        return None;
    }
    let mut watched: Vec<Watched> = targets.into_iter().map(Watched::new).collect();
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(
                "cannot handle SIGHUP ({e}); TLS files are still re-read when they change"
            );
            None
        }
    };
    Some(tokio::spawn(async move {
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            #[cfg(unix)]
            let hup = async {
                match hangup.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let hup = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = poll.tick() => {
                    for w in &mut watched {
                        if w.changed() {
                            w.reload("a file changed");
                        }
                    }
                }
                Some(()) = hup => {
                    for w in &mut watched {
                        // Later polls compare with what is loaded now.
                        w.changed();
                        w.reload("SIGHUP");
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting {
        file: PathBuf,
        reloads: AtomicUsize,
    }

    impl Reload for Counting {
        fn what(&self) -> &'static str {
            "test"
        }
        fn files(&self) -> Vec<PathBuf> {
            vec![self.file.clone()]
        }
        fn reload(&self) -> Result<String, TlsError> {
            self.reloads.fetch_add(1, Ordering::SeqCst);
            Ok("new".into())
        }
    }

    #[test]
    fn a_rewritten_or_replaced_file_counts_as_changed_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("cert.pem");
        std::fs::write(&file, "one").expect("write");
        let target = Arc::new(Counting {
            file: file.clone(),
            reloads: AtomicUsize::new(0),
        });
        let mut w = Watched::new(target);
        assert!(!w.changed(), "nothing changed yet");
        std::fs::write(&file, "longer").expect("write");
        assert!(w.changed());
        assert!(!w.changed(), "the change is noted");
        // Replaced by a rename, same length: a new inode.
        let other = dir.path().join("new.pem");
        std::fs::write(&other, "LONGER").expect("write");
        std::fs::rename(&other, &file).expect("rename");
        assert!(w.changed());
        std::fs::remove_file(&file).expect("remove");
        assert!(w.changed(), "a file that went away is a change");
    }
}
