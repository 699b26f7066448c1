//! A multi-node cluster of [`Server`]s on 127.0.0.1, addressed by node id: start,
//! wait for an agreed leader, per-member clients and status, kill -9, pause/resume,
//! restart, and new members started with `--join`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use corral_client::{Client, Status};

use crate::proxy::Proxy;
use crate::{NodeConfig, Ports, Server, CLIENT_TIMEOUT, READY_TIMEOUT};

/// Per-call timeout of [`Cluster::status`]: a member that takes longer is paused or
/// dead, and polling loops move on.
pub const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// How long [`Cluster::wait_applied`] waits for a member to apply up to an index.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(180);

/// Pause between polls of the members' status.
const POLL: Duration = Duration::from_millis(50);

/// A cluster of `corral` processes, each with its own data directory, log and ports.
/// Members are addressed by their Raft node id (1..=n for the initial ones).
///
/// Dropping it kills every process and prints each log's tail.
#[derive(Debug)]
pub struct Cluster {
    members: BTreeMap<u64, Server>,
    /// Flags every member is started with, new ones included.
    extra_args: Vec<String>,
    /// With [`Cluster::start_with_links`]: the proxy on each directed link, keyed
    /// (from, to); member `from` dials member `to`'s peer port through it.
    links: BTreeMap<(u64, u64), Proxy>,
}

impl Cluster {
    /// Starts members 1..=`size` with default settings and waits until every one
    /// serves linearizable reads and all agree on a leader.
    pub async fn start(size: u64) -> Result<Cluster> {
        Self::start_with(size, &[]).await
    }

    /// As [`Cluster::start`], with further `corral serve` flags for every member
    /// (e.g. `["--snapshot-every-entries", "2000"]`), new members included.
    pub async fn start_with(size: u64, extra_args: &[&str]) -> Result<Cluster> {
        Self::launch(size, extra_args, false).await
    }

    /// As [`Cluster::start_with`], with a [`Proxy`] on every directed link between two
    /// members (given to each member as `--peer-routes`), so that the test can
    /// partition the network: [`Cluster::isolate`], [`Cluster::block_link`],
    /// [`Cluster::heal`]. Clients still reach every member directly.
    pub async fn start_with_links(size: u64, extra_args: &[&str]) -> Result<Cluster> {
        Self::launch(size, extra_args, true).await
    }

    /// A new cluster of `size` members; those in `restored` are first made with
    /// `corral restore backup`, the others start empty.
    pub async fn start_restored(size: u64, backup: &Path, restored: &[u64]) -> Result<Cluster> {
        Self::launch_from(size, &[], false, Some((backup, restored))).await
    }

    async fn launch(size: u64, extra_args: &[&str], with_links: bool) -> Result<Cluster> {
        Self::launch_from(size, extra_args, with_links, None).await
    }

    async fn launch_from(
        size: u64,
        extra_args: &[&str],
        with_links: bool,
        backup: Option<(&Path, &[u64])>,
    ) -> Result<Cluster> {
        let extra_args: Vec<String> = extra_args.iter().map(|a| a.to_string()).collect();
        // Another process may grab a port between allocation and a member's bind;
        // only then is a retry on fresh ports right.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let ports = (0..size)
                .map(|_| Ports::allocate())
                .collect::<Result<Vec<_>>>()?;
            let initial_cluster = (1..=size)
                .zip(&ports)
                .map(|(id, p)| format!("{id}=127.0.0.1:{}", p.peer))
                .collect::<Vec<_>>()
                .join(",");
            let mut links = BTreeMap::new();
            if with_links {
                for from in 1..=size {
                    for (to, p) in (1..=size).zip(&ports) {
                        if from != to {
                            let proxy = Proxy::start(&format!("127.0.0.1:{}", p.peer)).await?;
                            links.insert((from, to), proxy);
                        }
                    }
                }
            }
            let mut members = BTreeMap::new();
            for (id, ports) in (1..=size).zip(ports) {
                let mut args = extra_args.clone();
                let routes: Vec<String> = links
                    .iter()
                    .filter(|((from, _), _)| *from == id)
                    .map(|((_, to), proxy)| format!("{to}={}", proxy.addr))
                    .collect();
                if !routes.is_empty() {
                    args.push("--peer-routes".into());
                    args.push(routes.join(","));
                }
                let config = NodeConfig {
                    node_id: id,
                    ports,
                    initial_cluster: Some(initial_cluster.clone()),
                    extra_args: args,
                };
                let mut server = Server::create(config)?;
                if let Some((backup, restored)) = backup {
                    if restored.contains(&id) {
                        server.restore(backup)?;
                    }
                }
                server.respawn()?;
                members.insert(id, server);
            }
            let mut cluster = Cluster {
                members,
                extra_args: extra_args.clone(),
                links,
            };
            match cluster.wait_all_ready().await {
                Ok(()) => {
                    cluster.wait_leader().await?;
                    return Ok(cluster);
                }
                Err(e) if attempt < 3 && cluster.members.values().any(Server::lost_port_race) => {
                    eprintln!("corral-tests: port taken, retrying the cluster on new ports: {e:#}");
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until every launched, unpaused member answers a linearizable read.
    async fn wait_all_ready(&mut self) -> Result<()> {
        for server in self.members.values_mut() {
            if server.is_launched() && !server.is_paused() {
                server.wait_ready().await?;
            }
        }
        Ok(())
    }

    /// The ids of every member the harness knows, started or not.
    pub fn ids(&self) -> Vec<u64> {
        self.members.keys().copied().collect()
    }

    /// The ids of the members that are launched and not paused.
    pub fn live_ids(&self) -> Vec<u64> {
        self.members
            .iter()
            .filter(|(_, s)| s.is_launched() && !s.is_paused())
            .map(|(&id, _)| id)
            .collect()
    }

    /// Member `id`. Panics if the cluster has no such member (a bug in the test).
    pub fn member(&self, id: u64) -> &Server {
        self.members
            .get(&id)
            .unwrap_or_else(|| panic!("the cluster has no member {id}"))
    }

    /// Member `id`, to inject faults directly. Panics if there is no such member.
    pub fn member_mut(&mut self, id: u64) -> &mut Server {
        self.members
            .get_mut(&id)
            .unwrap_or_else(|| panic!("the cluster has no member {id}"))
    }

    /// A client connected to member `id` only, with [`CLIENT_TIMEOUT`] per call: every
    /// call is served (or forwarded) by that member.
    pub async fn client(&self, id: u64) -> Result<Client> {
        self.member(id).client().await
    }

    /// A client with every member's endpoint, `first` first: calls go to `first`
    /// until it cannot be reached, then move on (see `ClientBuilder::connect`).
    pub async fn client_all(&self, first: u64) -> Result<Client> {
        let mut endpoints = vec![self.member(first).endpoint()];
        endpoints.extend(
            self.members
                .iter()
                .filter(|(&id, _)| id != first)
                .map(|(_, s)| s.endpoint()),
        );
        Client::builder(endpoints)
            .timeout(CLIENT_TIMEOUT)
            .connect()
            .await
            .context("connecting to the cluster")
    }

    /// Member `id`'s own status, asked on a fresh connection to it alone, within
    /// [`STATUS_TIMEOUT`].
    pub async fn status(&self, id: u64) -> Result<Status> {
        let client = Client::builder([self.member(id).endpoint()])
            .timeout(STATUS_TIMEOUT)
            .connect_timeout(STATUS_TIMEOUT)
            .connect()
            .await
            .with_context(|| format!("connecting to member {id}"))?;
        client
            .status()
            .await
            .with_context(|| format!("status of member {id}"))
    }

    /// Waits (up to [`READY_TIMEOUT`]) until a leader is elected and every launched,
    /// unpaused member follows it: the leader says it leads and every other such
    /// member names it. Returns its id.
    pub async fn wait_leader(&self) -> Result<u64> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let why_not = match self.agreed_leader().await {
                Ok(leader) => return Ok(leader),
                Err(why_not) => why_not,
            };
            if Instant::now() >= deadline {
                bail!("no agreed leader within {READY_TIMEOUT:?}: {why_not}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The leader every live member names, or why there is none.
    async fn agreed_leader(&self) -> std::result::Result<u64, String> {
        let ids = self.live_ids();
        let mut named = Vec::new();
        for &id in &ids {
            let status = self.status(id).await.map_err(|e| format!("{e:#}"))?;
            named.push((id, status.leader_id, status.raft_term));
        }
        let Some(&(_, Some(leader), _)) = named.first() else {
            return Err(format!("(member, leader, term): {named:?}"));
        };
        let agreed = named.iter().all(|&(_, l, _)| l == Some(leader));
        if !agreed || !ids.contains(&leader) {
            return Err(format!("(member, leader, term): {named:?}"));
        }
        Ok(leader)
    }

    /// The agreed leader (see [`Cluster::wait_leader`]).
    pub async fn leader(&self) -> Result<&Server> {
        let id = self.wait_leader().await?;
        Ok(self.member(id))
    }

    /// The agreed leader's id and a live member that is not the leader.
    pub async fn leader_and_follower(&self) -> Result<(u64, u64)> {
        let leader = self.wait_leader().await?;
        let follower = self
            .live_ids()
            .into_iter()
            .find(|&id| id != leader)
            .context("no live follower")?;
        Ok((leader, follower))
    }

    /// Waits (up to 180 s) until member `id` has applied log index `index`; returns its
    /// status then.
    pub async fn wait_applied(&self, id: u64, index: u64) -> Result<Status> {
        let deadline = Instant::now() + CATCH_UP_TIMEOUT;
        loop {
            let last = match self.status(id).await {
                Ok(status) if status.applied_index >= index => return Ok(status),
                Ok(status) => format!("applied index {}", status.applied_index),
                Err(e) => format!("{e:#}"),
            };
            if Instant::now() >= deadline {
                bail!("member {id} did not apply index {index} within {CATCH_UP_TIMEOUT:?}; last: {last}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until every live member has applied everything the agreed leader had
    /// committed when this was called, so serializable reads on each see at least
    /// that. Returns that commit index.
    pub async fn wait_caught_up(&self) -> Result<u64> {
        let leader = self.wait_leader().await?;
        let commit_index = self.status(leader).await?.commit_index;
        for id in self.live_ids() {
            self.wait_applied(id, commit_index).await?;
        }
        Ok(commit_index)
    }

    /// Partitions the link from member `from` to member `to` (one direction: what
    /// `from` sends to `to`, and the answers on those connections). Panics without
    /// [`Cluster::start_with_links`] (a bug in the test).
    pub fn block_link(&self, from: u64, to: u64) {
        self.link(from, to).block();
    }

    /// Cuts member `id` off from every other member, both ways; clients still reach it.
    pub fn isolate(&self, id: u64) {
        for (&(from, to), proxy) in &self.links {
            if from == id || to == id {
                proxy.block();
            }
        }
    }

    /// Ends every partition: held-back traffic flows again.
    pub fn heal(&self) {
        for proxy in self.links.values() {
            proxy.unblock();
        }
    }

    fn link(&self, from: u64, to: u64) -> &Proxy {
        self.links.get(&(from, to)).unwrap_or_else(|| {
            panic!("no link {from}->{to}: start the cluster with Cluster::start_with_links")
        })
    }

    /// Kills member `id` with SIGKILL (see [`Server::kill9`]).
    pub fn kill9(&mut self, id: u64) -> Result<()> {
        self.member_mut(id).kill9()
    }

    /// Freezes member `id` with SIGSTOP (see [`Server::pause`]).
    pub fn pause(&mut self, id: u64) -> Result<()> {
        self.member_mut(id).pause()
    }

    /// Continues member `id` with SIGCONT.
    pub fn resume(&mut self, id: u64) -> Result<()> {
        self.member_mut(id).resume()
    }

    /// Starts member `id` again on its data and ports (stopping it first if it runs)
    /// and waits until it serves linearizable reads; the rest must have a quorum.
    pub async fn restart(&mut self, id: u64) -> Result<()> {
        self.member_mut(id).restart().await
    }

    /// Starts every member that is not running again, then waits until all serve
    /// linearizable reads and agree on a leader: after all were killed, no single one
    /// could become ready alone.
    pub async fn restart_all(&mut self) -> Result<()> {
        for server in self.members.values_mut() {
            if !server.is_running() {
                server.respawn()?;
            }
        }
        self.wait_all_ready().await?;
        self.wait_leader().await.map(drop)
    }

    /// Starts a process for new member `id` with `--join` (and the cluster's flags) on
    /// fresh ports, without waiting: it is in no configuration until a `MemberAdd`
    /// names it. Returns its peer address, `127.0.0.1:<port>`, for that `MemberAdd`.
    pub fn add_learner_process(&mut self, id: u64) -> Result<String> {
        if self.members.contains_key(&id) {
            bail!("the cluster already has a member {id}");
        }
        let mut extra_args = self.extra_args.clone();
        extra_args.push("--join".into());
        let config = NodeConfig {
            node_id: id,
            ports: Ports::allocate()?,
            initial_cluster: None,
            extra_args,
        };
        let peer_addr = format!("127.0.0.1:{}", config.ports.peer);
        self.members.insert(id, Server::spawn(config)?);
        Ok(peer_addr)
    }
}
