//! The stored form of a lease (ZooKeeper's session).

use serde::{Deserialize, Serialize};

/// A lease as kept in the `leases` column family. Its deadline lives only in the
/// leader's memory; what is stored is the granted TTL and the remaining time as of the
/// last checkpoint, so a new leader never restarts a lease's clock from scratch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// Lease id (≥ 1).
    pub id: i64,
    /// Granted time to live, ms.
    pub ttl_ms: i64,
    /// Time left as of the last checkpoint (the TTL at grant), ms.
    pub remaining_ms: i64,
    /// The user who granted it (only they and root may use it once auth is enabled);
    /// `None` for a lease granted anonymously.
    pub owner: Option<String>,
}

/// The layout written before leases had owners; still read, as owned by nobody.
#[derive(Deserialize)]
struct LeaseRecordV1 {
    id: i64,
    ttl_ms: i64,
    remaining_ms: i64,
}

impl LeaseRecord {
    /// Decodes a stored lease in either layout.
    pub fn decode(bytes: &[u8]) -> Result<LeaseRecord, bincode::Error> {
        // The old layout is exactly 24 bytes; the new one is at least 25 (the owner tag).
        if bytes.len() == 24 {
            let v1: LeaseRecordV1 = bincode::deserialize(bytes)?;
            return Ok(LeaseRecord {
                id: v1.id,
                ttl_ms: v1.ttl_ms,
                remaining_ms: v1.remaining_ms,
                owner: None,
            });
        }
        bincode::deserialize(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_written_before_owners_still_decode() {
        #[derive(Serialize)]
        struct V1 {
            id: i64,
            ttl_ms: i64,
            remaining_ms: i64,
        }
        let old = bincode::serialize(&V1 {
            id: 7,
            ttl_ms: 5000,
            remaining_ms: 4000,
        })
        .expect("encode");
        let rec = LeaseRecord::decode(&old).expect("decode");
        assert_eq!((rec.id, rec.ttl_ms, rec.remaining_ms), (7, 5000, 4000));
        assert_eq!(rec.owner, None);
        for owner in [None, Some("alice".to_string())] {
            let new = LeaseRecord {
                id: 1,
                ttl_ms: 2,
                remaining_ms: 3,
                owner,
            };
            let bytes = bincode::serialize(&new).expect("encode");
            assert_eq!(LeaseRecord::decode(&bytes).expect("decode"), new);
        }
    }
}
