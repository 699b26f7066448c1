//! The Cluster calls on [`Client`]: the member list, membership changes (add a learner,
//! promote it, remove a member), leadership transfer and one member's status.
//!
//! ```no_run
//! # async fn example() -> corral_client::Result<()> {
//! use corral_client::Client;
//! let client = Client::connect(["127.0.0.1:2479"]).await?;
//! // The new member runs `corral serve --join --node-id 4 --peer-addr 127.0.0.1:2510 ...`.
//! client.member_add(4, "127.0.0.1:2510").await?;
//! // ... wait until `Status::applied_index` of member 4 reaches the leader's ...
//! client.member_promote(4).await?;
//! for member in client.member_list().await?.members {
//!     println!("{} {} learner={}", member.member_id, member.peer_addr, member.is_learner);
//! }
//! # Ok(())
//! # }
//! ```

use corral_proto::v1 as pb;
use corral_proto::v1::cluster_client::ClusterClient;

use crate::client::{Client, Transport};
use crate::error::{Error, Result};
use crate::retry::Retry;
use crate::types::Header;
use crate::types::{wire_header, FromWire};

/// One member of the cluster's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// Raft id of the member.
    pub member_id: u64,
    /// Its peer (Raft) address, `host:port`.
    pub peer_addr: String,
    /// True for a learner: it receives the log but does not vote.
    pub is_learner: bool,
}

/// Result of [`Client::member_list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberListResponse {
    /// Header of the member that answered.
    pub header: Header,
    /// Voters and learners, by id.
    pub members: Vec<Member>,
    /// The leader the answering member knows of, if any.
    pub leader_id: Option<u64>,
}

/// Result of [`Client::member_add`], [`Client::member_promote`] and
/// [`Client::member_remove`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChangeResponse {
    /// Header of the member that answered.
    pub header: Header,
    /// Voters and learners after the change, by id.
    pub members: Vec<Member>,
}

/// Result of [`Client::transfer_leader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransferLeaderResponse {
    /// Header of the member that answered.
    pub header: Header,
    /// The leader after the transfer.
    pub leader_id: u64,
}

/// One member's view of the cluster, from [`Client::status`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Header of the member that answered.
    pub header: Header,
    /// Raft id of the member that answered.
    pub member_id: u64,
    /// The leader this member follows, if it knows one.
    pub leader_id: Option<u64>,
    /// Its current Raft term.
    pub raft_term: u64,
    /// Index of the last log entry it knows to be committed.
    pub commit_index: u64,
    /// Index of the last log entry it has applied to its state machine.
    pub applied_index: u64,
    /// Cluster revision after its last applied write.
    pub revision: i64,
    /// Approximate size of its database files, bytes.
    pub db_size_bytes: u64,
    /// Its server version.
    pub version: String,
    /// Index of the last entry in its log.
    pub last_log_index: u64,
    /// True if it is a learner.
    pub is_learner: bool,
    /// Last log index covered by its latest snapshot, if it has one.
    pub snapshot_index: Option<u64>,
    /// Snapshots it received from a leader and installed since its process started.
    pub snapshot_installs: u64,
}

impl Status {
    /// Whether the answering member believes it is the leader.
    pub fn is_leader(&self) -> bool {
        self.leader_id == Some(self.member_id)
    }
}

impl Client {
    /// Lists the members (voters and learners) of the current configuration, as the
    /// answering member knows it.
    pub async fn member_list(&self) -> Result<MemberListResponse> {
        self.call(
            "",
            Retry::Safe,
            pb::MemberListRequest {},
            |channel, r| async move { cluster(channel).member_list(r).await },
        )
        .await
    }

    /// Adds member `member_id` (≥ 1, not in use) at `peer_addr` (`ip:port`) as a
    /// learner, which starts receiving the log at once. Start its process first with
    /// `corral serve --join`.
    ///
    /// Fails with [`Error::InvalidArgument`] (id 0, malformed address) and
    /// [`Error::Membership`] (id or address already in use).
    pub async fn member_add(
        &self,
        member_id: u64,
        peer_addr: impl Into<String>,
    ) -> Result<MemberChangeResponse> {
        let request = pb::MemberAddRequest {
            member_id,
            peer_addr: peer_addr.into(),
        };
        self.call("", Retry::Unsafe, request, |channel, r| async move {
            cluster(channel).member_add(r).await
        })
        .await
    }

    /// Makes learner `member_id` a voter; a voter is left as it is.
    ///
    /// Fails with [`Error::MemberNotFound`], and with [`Error::Membership`] while the
    /// learner is still far behind the leader's log.
    pub async fn member_promote(&self, member_id: u64) -> Result<MemberChangeResponse> {
        let request = pb::MemberPromoteRequest { member_id };
        self.call("", Retry::Unsafe, request, |channel, r| async move {
            cluster(channel).member_promote(r).await
        })
        .await
    }

    /// Removes voter or learner `member_id` from the cluster.
    ///
    /// Fails with [`Error::MemberNotFound`], and with [`Error::Membership`] for the
    /// last voter.
    pub async fn member_remove(&self, member_id: u64) -> Result<MemberChangeResponse> {
        let request = pb::MemberRemoveRequest { member_id };
        self.call("", Retry::Unsafe, request, |channel, r| async move {
            cluster(channel).member_remove(r).await
        })
        .await
    }

    /// Moves leadership to voter `member_id` and returns the leader afterwards. Takes
    /// about one election timeout; the cluster accepts no writes meanwhile.
    ///
    /// Fails with [`Error::MemberNotFound`], [`Error::Membership`] for a learner, and
    /// [`Error::Timeout`] if the member did not catch up or win in time.
    pub async fn transfer_leader(&self, member_id: u64) -> Result<TransferLeaderResponse> {
        let request = pb::TransferLeaderRequest { member_id };
        self.call("", Retry::Unsafe, request, |channel, r| async move {
            cluster(channel).transfer_leader(r).await
        })
        .await
    }

    /// The status of the member this client talks to (its view: leader, term,
    /// indexes, revision, size, version). Connect to one endpoint only to ask a given
    /// member; `member_id` says which one answered.
    pub async fn status(&self) -> Result<Status> {
        self.call(
            "",
            Retry::Safe,
            pb::StatusRequest {},
            |channel, r| async move { cluster(channel).status(r).await },
        )
        .await
    }
}

/// A Cluster stub on `channel`; cheap (the channel is shared).
fn cluster(channel: Transport) -> ClusterClient<Transport> {
    ClusterClient::new(channel)
}

/// `None` for the 0 the wire uses for "none".
fn nonzero(value: u64) -> Option<u64> {
    (value != 0).then_some(value)
}

impl Member {
    /// The client's member for the generated one.
    pub(crate) fn from_pb(m: pb::Member) -> Self {
        Member {
            member_id: m.member_id,
            peer_addr: m.peer_addr,
            is_learner: m.is_learner,
        }
    }
}

fn members(members: Vec<pb::Member>) -> Vec<Member> {
    members.into_iter().map(Member::from_pb).collect()
}

impl FromWire<pb::MemberListResponse> for MemberListResponse {
    fn from_wire(r: pb::MemberListResponse) -> Result<Self> {
        Ok(MemberListResponse {
            header: wire_header(r.header)?,
            members: members(r.members),
            leader_id: nonzero(r.leader_id),
        })
    }
}

/// The three membership changes answer alike.
macro_rules! member_change_from {
    ($($response:ty),*) => {$(
        impl FromWire<$response> for MemberChangeResponse {
            fn from_wire(r: $response) -> Result<Self> {
                Ok(MemberChangeResponse {
                    header: wire_header(r.header)?,
                    members: members(r.members),
                })
            }
        }
    )*};
}

member_change_from!(
    pb::MemberAddResponse,
    pb::MemberPromoteResponse,
    pb::MemberRemoveResponse
);

impl FromWire<pb::TransferLeaderResponse> for TransferLeaderResponse {
    fn from_wire(r: pb::TransferLeaderResponse) -> Result<Self> {
        if r.leader_id == 0 {
            return Err(Error::InvalidResponse {
                message: "leader transfer answered without a leader".into(),
            });
        }
        Ok(TransferLeaderResponse {
            header: wire_header(r.header)?,
            leader_id: r.leader_id,
        })
    }
}

impl FromWire<pb::StatusResponse> for Status {
    fn from_wire(r: pb::StatusResponse) -> Result<Self> {
        Ok(Status {
            header: wire_header(r.header)?,
            member_id: r.member_id,
            leader_id: nonzero(r.leader_id),
            raft_term: r.raft_term,
            commit_index: r.commit_index,
            applied_index: r.applied_index,
            revision: r.revision,
            db_size_bytes: r.db_size_bytes,
            version: r.version,
            last_log_index: r.last_log_index,
            is_learner: r.is_learner,
            snapshot_index: nonzero(r.snapshot_index),
            snapshot_installs: r.snapshot_installs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Option<pb::ResponseHeader> {
        Some(pb::ResponseHeader {
            cluster_id: 9,
            member_id: 2,
            revision: 40,
            raft_term: 3,
        })
    }

    #[test]
    fn zero_leader_and_snapshot_index_mean_none() {
        let status = Status::from_wire(pb::StatusResponse {
            header: header(),
            member_id: 2,
            leader_id: 0,
            snapshot_index: 0,
            ..Default::default()
        })
        .expect("valid status");
        assert_eq!(status.leader_id, None);
        assert_eq!(status.snapshot_index, None);
        assert!(!status.is_leader());
        let list = MemberListResponse::from_wire(pb::MemberListResponse {
            header: header(),
            members: vec![],
            leader_id: 0,
        })
        .expect("valid list");
        assert_eq!(list.leader_id, None);
    }

    #[test]
    fn status_keeps_every_field() {
        let status = Status::from_wire(pb::StatusResponse {
            header: header(),
            member_id: 2,
            leader_id: 2,
            raft_term: 3,
            commit_index: 100,
            applied_index: 99,
            revision: 40,
            db_size_bytes: 4096,
            version: "0.1.0".into(),
            last_log_index: 101,
            is_learner: false,
            snapshot_index: 50,
            snapshot_installs: 1,
        })
        .expect("valid status");
        assert_eq!(
            status,
            Status {
                header: Header {
                    cluster_id: 9,
                    member_id: 2,
                    revision: 40,
                    raft_term: 3,
                },
                member_id: 2,
                leader_id: Some(2),
                raft_term: 3,
                commit_index: 100,
                applied_index: 99,
                revision: 40,
                db_size_bytes: 4096,
                version: "0.1.0".into(),
                last_log_index: 101,
                is_learner: false,
                snapshot_index: Some(50),
                snapshot_installs: 1,
            }
        );
        assert!(status.is_leader());
    }

    #[test]
    fn member_changes_keep_the_members_in_order() {
        let pb_member = |id, learner| pb::Member {
            member_id: id,
            peer_addr: format!("127.0.0.1:{}", 2480 + id),
            is_learner: learner,
        };
        let change = MemberChangeResponse::from_wire(pb::MemberAddResponse {
            header: header(),
            members: vec![pb_member(1, false), pb_member(4, true)],
        })
        .expect("valid response");
        assert_eq!(
            change.members,
            [
                Member {
                    member_id: 1,
                    peer_addr: "127.0.0.1:2481".into(),
                    is_learner: false,
                },
                Member {
                    member_id: 4,
                    peer_addr: "127.0.0.1:2484".into(),
                    is_learner: true,
                },
            ]
        );
    }

    #[test]
    fn responses_without_header_or_leader_are_invalid() {
        let err = MemberChangeResponse::from_wire(pb::MemberRemoveResponse {
            header: None,
            members: vec![],
        })
        .expect_err("no header");
        assert!(matches!(err, Error::InvalidResponse { .. }));
        let err = TransferLeaderResponse::from_wire(pb::TransferLeaderResponse {
            header: header(),
            leader_id: 0,
        })
        .expect_err("no leader");
        assert!(matches!(err, Error::InvalidResponse { .. }));
    }
}
