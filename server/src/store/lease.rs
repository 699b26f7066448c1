//! The stored form of a lease (ZooKeeper's session).

use serde::{Deserialize, Serialize};

/// A lease as kept in the `leases` column family. Its deadline lives only in the
/// leader's memory; what is stored is the granted TTL and the remaining time as of the
/// last checkpoint, so a new leader never restarts a lease's clock from scratch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// Lease id (≥ 1).
    pub id: i64,
    /// Granted time to live, ms.
    pub ttl_ms: i64,
    /// Time left as of the last checkpoint (the TTL at grant), ms.
    pub remaining_ms: i64,
}
