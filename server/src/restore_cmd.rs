//! The `corral restore` command: checks the target data directory, reads the backup and
//! has the Raft layer (`raft::restored_member`) write the new member's state from it.
//! Nothing is left behind on failure, so the same command can simply be run again.

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::config::Config;
use crate::raft::restored_member::{self, Restored};
use crate::store::db::{Db, Sync};

/// Restores `backup` into `cfg.data_dir` as member `cfg.node_id` of the cluster
/// `cfg.initial_members()`.
pub async fn run(backup: &Path, cfg: &Config) -> anyhow::Result<Restored> {
    let members = cfg.initial_members()?;
    let db_dir = cfg.data_dir.join("db");
    let snapshot_dir = cfg.data_dir.join("snapshots");
    for dir in [&db_dir, &snapshot_dir] {
        if dir.exists() {
            bail!(
                "{} already exists: restore only makes a new data directory; move the old one \
                 away or give another --data-dir",
                dir.display()
            );
        }
    }
    let bytes = std::fs::read(backup)
        .with_context(|| format!("cannot read the backup {}", backup.display()))?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data-dir {}", cfg.data_dir.display()))?;
    let result = async {
        let db = Arc::new(
            Db::open(&db_dir, Sync::Always)
                .with_context(|| format!("cannot create the database in {}", db_dir.display()))?,
        );
        restored_member::restore(db, &snapshot_dir, &bytes, &members)
            .await
            .with_context(|| format!("{} is not a usable Corral backup", backup.display()))
    }
    .await;
    if result.is_err() {
        // Both were checked absent above, so they are ours to remove.
        let _ = std::fs::remove_dir_all(&db_dir);
        let _ = std::fs::remove_dir_all(&snapshot_dir);
    }
    result
}
