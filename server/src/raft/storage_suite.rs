//! openraft's own storage conformance suite, run against the RocksDB log store and
//! state machine exactly as the server builds them.

// openraft's `StorageError` is large, but these signatures are openraft's own.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use openraft::testing::{StoreBuilder, Suite};
use openraft::StorageError;
use tempfile::TempDir;

use super::log_store::LogStore;
use super::state_machine::StateMachine;
use super::types::TypeConfig;
use crate::store::db::{Db, Sync};

struct RocksBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for RocksBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<u64>> {
        let io = |e: &dyn std::error::Error| {
            StorageError::from(openraft::StorageIOError::<u64>::write(
                openraft::AnyError::error(e.to_string()),
            ))
        };
        let dir = tempfile::tempdir().map_err(|e| io(&e))?;
        let db = Arc::new(Db::open(&dir.path().join("db"), Sync::Always).map_err(|e| io(&e))?);
        let hub = Arc::new(crate::watch::Hub::new(db.clone(), 0, 16));
        let sm =
            StateMachine::new(db.clone(), dir.path().join("snapshots"), hub).map_err(|e| io(&e))?;
        let log_store = LogStore::new(db).map_err(|e| io(&e))?;
        Ok((dir, log_store, sm))
    }
}

#[test]
fn openraft_storage_suite_passes() -> Result<(), StorageError<u64>> {
    Suite::test_all(RocksBuilder)
}
