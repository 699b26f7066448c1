//! [`ServiceRegistry`]: service discovery (Curator's `ServiceDiscovery`, Consul's
//! catalog). Each instance registers an ephemeral znode
//! `<root>/<service>/<instance-id>` holding its metadata (e.g. its address as JSON),
//! bound to its [`Session`]: when the process dies or loses its session, the instance
//! disappears. Clients discover the instances of a service, or watch them through a
//! [`Cache`].
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use std::time::Duration;
//! use corral_client::{recipes::ServiceRegistry, Session};
//! let session = Session::new(&client, Duration::from_secs(10)).await?;
//! let registry = ServiceRegistry::new(&client, "/services");
//! let me = registry.register(&session, "api", "host-7", r#"{"addr":"10.0.0.7:8080"}"#).await?;
//!
//! let mut api = registry.watch("api").await?;
//! loop {
//!     for instance in api.instances() {
//!         println!("{} at {}", instance.id, String::from_utf8_lossy(&instance.metadata));
//!     }
//!     api.changed().await?;
//! }
//! # }
//! ```

use tokio::sync::watch;

use super::{join, name, Cache};
use crate::{Client, CreateOptions, Error, ListOptions, Node, Result, Session};

/// A registry of services under a root path (e.g. `/services`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServiceRegistry {
    client: Client,
    root: String,
}

/// One registered instance of a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instance id it registered with.
    pub id: String,
    /// Its znode.
    pub path: String,
    /// The metadata it published.
    pub metadata: Vec<u8>,
    /// The lease (session) it is bound to.
    pub lease_id: i64,
    /// Revision at which it registered.
    pub registered_revision: i64,
}

impl From<Node> for Instance {
    fn from(node: Node) -> Self {
        Instance {
            id: name(&node.path).to_string(),
            lease_id: node.stat.lease_id,
            registered_revision: node.stat.create_revision,
            metadata: node.data,
            path: node.path,
        }
    }
}

impl ServiceRegistry {
    /// The registry under `root`.
    pub fn new(client: &Client, root: impl Into<String>) -> ServiceRegistry {
        ServiceRegistry {
            client: client.clone(),
            root: root.into(),
        }
    }

    fn service_path(&self, service: &str) -> String {
        join(&self.root, service)
    }

    /// Registers instance `id` of `service` with `metadata`, for as long as
    /// `session` lives (or until [`Registration::deregister`]). Fails with
    /// [`Error::AlreadyExists`] if another live session registered the same id.
    pub async fn register(
        &self,
        session: &Session,
        service: &str,
        id: &str,
        metadata: impl Into<Vec<u8>>,
    ) -> Result<Registration> {
        session.check()?;
        let path = join(&self.service_path(service), id);
        let options = CreateOptions::new()
            .ephemeral(session.lease_id())
            .create_parents();
        let metadata = metadata.into();
        match self.client.create(&path, metadata.clone(), options).await {
            Ok(_) => {}
            // This session's own registration (e.g. registering again after a restart
            // of the service's work loop) is taken over with the new metadata.
            Err(e @ Error::AlreadyExists { .. }) => {
                let existing = self.client.get(&path, None).await?;
                if existing.node.stat.lease_id != session.lease_id() {
                    return Err(e);
                }
                self.client.put(&path, metadata, None).await?;
            }
            Err(e) => return Err(super::lease_error(session, e)),
        }
        Ok(Registration {
            client: self.client.clone(),
            path,
        })
    }

    /// The instances of `service` now, by id.
    pub async fn discover(&self, service: &str) -> Result<Vec<Instance>> {
        match self
            .client
            .list_all(self.service_path(service), ListOptions::new().with_data())
            .await
        {
            Ok(all) => Ok(all.nodes.into_iter().map(Instance::from).collect()),
            Err(Error::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Follows the instances of `service`.
    pub async fn watch(&self, service: &str) -> Result<ServiceWatcher> {
        let cache = Cache::start(&self.client, self.service_path(service)).await?;
        let revision = cache.subscribe();
        Ok(ServiceWatcher { cache, revision })
    }
}

/// A registered instance, from [`ServiceRegistry::register`]. It stays registered
/// until [`deregister`](Self::deregister) or the end of its session (dropping this
/// value does not deregister).
#[derive(Debug, Clone)]
pub struct Registration {
    client: Client,
    path: String,
}

impl Registration {
    /// The instance's znode.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Publishes new metadata.
    pub async fn update(&self, metadata: impl Into<Vec<u8>>) -> Result<()> {
        self.client.put(&self.path, metadata, None).await.map(drop)
    }

    /// Removes the instance.
    pub async fn deregister(self) -> Result<()> {
        super::remove(&self.client, &self.path).await
    }
}

/// The live instances of one service, mirrored locally, from
/// [`ServiceRegistry::watch`].
#[derive(Debug)]
pub struct ServiceWatcher {
    cache: Cache,
    revision: watch::Receiver<i64>,
}

impl ServiceWatcher {
    /// The instances now, by id.
    pub fn instances(&self) -> Vec<Instance> {
        self.cache
            .children(self.cache.path())
            .into_iter()
            .map(Instance::from)
            .collect()
    }

    /// Waits for the next change of the service's znodes (an instance registered,
    /// updated or gone).
    pub async fn changed(&mut self) -> Result<()> {
        self.revision.changed().await.map_err(|_| Error::Transport {
            message: "the service watcher stopped".into(),
        })
    }

    /// The underlying cache (e.g. to [`Cache::sync`] or wait for a revision).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }
}
