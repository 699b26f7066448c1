//! Client sessions for exactly-once writes: the results of each client's recent
//! requests, so a retried request (same client id and sequence) gets its first result
//! back instead of being applied twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::command::CommandResult;
pub use super::command::MAX_RESULTS_PER_CLIENT;

/// One client's recent requests, as kept in the `sessions` column family.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Leader clock stamp of the client's last request (for window expiry), ms.
    pub last_ms: i64,
    /// Sequences below this were forgotten: their outcome can no longer be told.
    pub floor: u64,
    /// Sequence → first result.
    pub results: BTreeMap<u64, CommandResult>,
}

impl SessionRecord {
    /// Remembers `result` for `seq`, forgetting the oldest beyond the bound.
    pub fn remember(&mut self, seq: u64, result: CommandResult, now_ms: i64) {
        self.results.insert(seq, result);
        while self.results.len() > MAX_RESULTS_PER_CLIENT {
            if let Some((oldest, _)) = self.results.pop_first() {
                self.floor = self.floor.max(oldest + 1);
            }
        }
        self.last_ms = self.last_ms.max(now_ms);
    }
}
