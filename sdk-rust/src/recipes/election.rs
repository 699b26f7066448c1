//! [`LeaderElection`]: campaign for leadership, observe the leader, proclaim a new
//! value and resign, on the server's Election service, held by a [`Session`].
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use std::time::Duration;
//! use corral_client::{recipes::LeaderElection, Session};
//! let session = Session::new(&client, Duration::from_secs(10)).await?;
//! let election = LeaderElection::new(&session, "/elections/scheduler");
//! let leadership = election.campaign("10.0.0.7:9000").await?;
//! tokio::select! {
//!     lost = leadership.lost() => eprintln!("no longer leading: {lost}"),
//!     _ = async { /* lead: schedule jobs */ } => {}
//! }
//! leadership.resign().await?;
//! # Ok(())
//! # }
//! ```

use std::time::Duration;

use super::{bounded, lease_error};
use crate::{Client, Error, LeaderKey, LockOptions, Observer, Result, Session};

/// An election named by a path (e.g. `/elections/scheduler`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    session: Session,
    name: String,
}

impl LeaderElection {
    /// Election `name` (an absolute path other than `/`), campaigned for with
    /// `session`'s lease.
    pub fn new(session: &Session, name: impl Into<String>) -> LeaderElection {
        LeaderElection {
            session: session.clone(),
            name: name.into(),
        }
    }

    /// The election's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until this session leads, publishing `value` (e.g. its address).
    /// Campaigners are served in order. Fails with [`Error::SessionLost`] if the
    /// session is lost first.
    pub async fn campaign(&self, value: impl Into<Vec<u8>>) -> Result<Leadership> {
        self.campaign_with(value.into(), LockOptions::new()).await
    }

    /// As [`campaign`](Self::campaign), giving up after `wait` with
    /// [`Error::WaitTimeout`].
    pub async fn campaign_timeout(
        &self,
        value: impl Into<Vec<u8>>,
        wait: Duration,
    ) -> Result<Leadership> {
        self.campaign_with(value.into(), LockOptions::new().wait_timeout(wait))
            .await
    }

    async fn campaign_with(&self, value: Vec<u8>, options: LockOptions) -> Result<Leadership> {
        self.session.check()?;
        let client = self.session.client();
        let key = bounded(
            &self.session,
            None,
            client.campaign(&self.name, self.session.lease_id(), value, options),
        )
        .await
        .map_err(|e| lease_error(&self.session, e))?;
        Ok(Leadership {
            client: client.clone(),
            session: self.session.clone(),
            key,
            resigned: false,
        })
    }

    /// The current leader, or `None`.
    pub async fn leader(&self) -> Result<Option<LeaderKey>> {
        self.session.client().leader(&self.name).await
    }

    /// Follows the leader: now, and after every change.
    pub async fn observe(&self) -> Result<Observer> {
        self.session.client().observe(&self.name).await
    }
}

/// This session's leadership of an election, from [`LeaderElection::campaign`]. Ends
/// with [`resign`](Self::resign), on drop (in the background), or with the session.
#[derive(Debug)]
pub struct Leadership {
    client: Client,
    session: Session,
    key: LeaderKey,
    resigned: bool,
}

impl Leadership {
    /// The leader key: the leader's znode, value and create revision (which strictly
    /// increases with each new leader: use it as a fencing token).
    pub fn key(&self) -> &LeaderKey {
        &self.key
    }

    /// Publishes a new value while still leading; fails with
    /// [`Error::NotElectionLeader`] once leadership is lost.
    pub async fn proclaim(&mut self, value: impl Into<Vec<u8>>) -> Result<()> {
        let value = value.into();
        self.client
            .proclaim(&self.key.key, self.session.lease_id(), value.clone())
            .await?;
        self.key.value = value;
        Ok(())
    }

    /// Whether this session may still lead: false once the session is lost.
    pub fn is_leader(&self) -> bool {
        !self.session.is_lost()
    }

    /// Resolves when the session is lost, and with it the leadership.
    pub async fn lost(&self) -> Error {
        self.session.lost().await
    }

    /// Steps down; the next campaigner leads.
    pub async fn resign(mut self) -> Result<()> {
        self.resigned = true;
        self.client
            .resign(&self.key.key, self.session.lease_id())
            .await
            .map_err(|e| lease_error(&self.session, e))
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        if !self.resigned {
            super::remove_later(&self.client, std::mem::take(&mut self.key.key));
        }
    }
}
