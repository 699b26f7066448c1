//! Watches: [`Client::watch`] returns a [`Watcher`], a stream of the changes to a
//! znode, its children or its subtree, in revision order. The watcher resumes on its
//! own after a broken stream or a member's restart, on the same or another member,
//! from the revision after the last one it received, so no event is lost or repeated.
//!
//! ```no_run
//! # async fn example(client: corral_client::Client) -> corral_client::Result<()> {
//! use corral_client::{EventType, WatchOptions};
//! let mut watcher = client.watch("/config", WatchOptions::new().subtree()).await?;
//! while let Some(event) = watcher.next().await {
//!     let event = event?;
//!     match event.kind {
//!         EventType::Created | EventType::Updated => println!("{} = {:?}", event.node.path, event.node.data),
//!         EventType::Deleted => println!("{} deleted", event.node.path),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use corral_proto::v1 as pb;
use corral_proto::v1::watch_client::WatchClient;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::options::GetOptions;
use crate::retry::{renew_and_retry, reopens, Backoff};
use crate::types::{required, FromWire, Node};

/// Which znodes a watch covers, relative to its path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum WatchScope {
    /// Only the znode at the path.
    #[default]
    Node,
    /// Only its direct children (their creates, updates and deletes).
    Children,
    /// The znode and all its descendants.
    Subtree,
}

/// Kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A znode was created.
    Created,
    /// A znode's data was set.
    Updated,
    /// A znode was deleted.
    Deleted,
}

impl EventType {
    /// The type's name as the API spells it: `CREATED`, `UPDATED`, `DELETED`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "CREATED",
            EventType::Updated => "UPDATED",
            EventType::Deleted => "DELETED",
        }
    }

    fn to_pb(self) -> pb::EventType {
        match self {
            EventType::Created => pb::EventType::Created,
            EventType::Updated => pb::EventType::Updated,
            EventType::Deleted => pb::EventType::Deleted,
        }
    }
}

/// One change to one znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// The znode after the change (for [`EventType::Deleted`]: as it was when deleted).
    pub node: Node,
    /// The znode before the change, when [`WatchOptions::prev_node`] was asked
    /// (updates and deletes only).
    pub prev_node: Option<Node>,
    /// Revision of the write that made the change; the events of one write share it.
    pub revision: i64,
}

/// Options of [`Client::watch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOptions {
    scope: WatchScope,
    start_revision: Option<i64>,
    prev_node: bool,
    filters: Vec<EventType>,
    progress_notify: bool,
}

impl WatchOptions {
    /// Defaults: the znode itself, every change after the watch starts, no previous node.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets which znodes are watched.
    pub fn scope(mut self, scope: WatchScope) -> Self {
        self.scope = scope;
        self
    }

    /// Watches the direct children of the path.
    pub fn children(self) -> Self {
        self.scope(WatchScope::Children)
    }

    /// Watches the znode and all its descendants.
    pub fn subtree(self) -> Self {
        self.scope(WatchScope::Subtree)
    }

    /// Delivers events from `revision` on (replayed from the server's history, then
    /// live), e.g. a read's `header.revision + 1` to see every change after that read.
    /// A revision no longer in the history ends the watcher with [`Error::Compacted`].
    ///
    /// Without it (or with 0) the watch starts after the cluster's current revision, read
    /// linearizably when the watch is made: it sees every write acknowledged after
    /// [`Client::watch`] returns, and none acknowledged before it was called.
    pub fn start_revision(mut self, revision: i64) -> Self {
        self.start_revision = Some(revision);
        self
    }

    /// Includes each update's and delete's previous znode in [`Event::prev_node`].
    pub fn prev_node(mut self) -> Self {
        self.prev_node = true;
        self
    }

    /// Does not deliver events of type `kind` (may be given several times).
    pub fn exclude(mut self, kind: EventType) -> Self {
        if !self.filters.contains(&kind) {
            self.filters.push(kind);
        }
        self
    }

    /// Asks the server for a progress notice after 10 s without events, which moves
    /// [`Watcher::revision`] on (and lets a resumed watch start later in the history).
    pub fn progress_notify(mut self) -> Self {
        self.progress_notify = true;
        self
    }
}

/// What the background task hands the [`Watcher`].
#[derive(Debug)]
enum Message {
    /// The events of one or more whole revisions.
    Events(Vec<Event>),
    /// Every event up to this revision has been delivered.
    Progress(i64),
}

/// Events buffered between the background task and the user, in messages.
const CHANNEL_MESSAGES: usize = 64;

/// A stream of [`Event`]s in revision order, from [`Client::watch`]; also a
/// [`Stream`] of `Result<Event>`.
///
/// A background task holds the watch. When its stream breaks (the member died or
/// restarted, the connection dropped, the member lost its leader) it re-creates the
/// watch, on the next member, from the revision after the last one it received: no
/// event is lost or delivered twice. The stream ends with [`Error::Compacted`] when
/// the position is no longer in the server's history (re-read the state and watch
/// again), with the error of an invalid watch, and never otherwise.
///
/// Dropping the watcher cancels the watch.
#[derive(Debug)]
pub struct Watcher {
    rx: mpsc::Receiver<Result<Message>>,
    progress_tx: mpsc::Sender<()>,
    buffer: VecDeque<Event>,
    /// Revision delivered through once `buffer` is drained.
    buffered_through: i64,
    /// Revision every event up to which has been handed to the user.
    revision: i64,
    task: JoinHandle<()>,
    ended: bool,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Watcher {
    /// The next event; `None` once the watch has ended (after an error).
    pub async fn next(&mut self) -> Option<Result<Event>> {
        std::future::poll_fn(|cx| self.poll_event(cx)).await
    }

    /// The revision through which every matching event has been returned by
    /// [`next`](Self::next): the start revision − 1 at first, then the revision of the
    /// last event returned (once all events of that revision are), or a progress
    /// notice's revision.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// Asks the server how far the watch has got, and waits for the answer: returns
    /// the revision through which every matching event has been received. Events that
    /// arrive meanwhile stay queued for [`next`](Self::next); once they are all
    /// returned, [`revision`](Self::revision) is at least the revision returned here.
    pub async fn progress(&mut self) -> Result<i64> {
        let ended = || Error::Transport {
            message: "the watch has ended".into(),
        };
        self.progress_tx.send(()).await.map_err(|_| ended())?;
        loop {
            match self.rx.recv().await {
                Some(Ok(Message::Events(events))) => self.enqueue(events),
                Some(Ok(Message::Progress(revision))) => {
                    self.buffered_through = self.buffered_through.max(revision);
                    if self.buffer.is_empty() {
                        self.revision = self.revision.max(revision);
                    }
                    return Ok(revision);
                }
                Some(Err(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                None => return Err(ended()),
            }
        }
    }

    fn enqueue(&mut self, events: Vec<Event>) {
        if let Some(last) = events.last() {
            self.buffered_through = self.buffered_through.max(last.revision);
        }
        self.buffer.extend(events);
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event>>> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                if self.buffer.is_empty() {
                    self.revision = self.revision.max(self.buffered_through);
                }
                return Poll::Ready(Some(Ok(event)));
            }
            if self.ended {
                return Poll::Ready(None);
            }
            match self.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    self.ended = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(Message::Events(events)))) => self.enqueue(events),
                Poll::Ready(Some(Ok(Message::Progress(revision)))) => {
                    self.buffered_through = self.buffered_through.max(revision);
                    self.revision = self.revision.max(revision);
                }
            }
        }
    }
}

impl Stream for Watcher {
    type Item = Result<Event>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_event(cx)
    }
}

/// What the background task watches.
#[derive(Debug, Clone)]
struct Spec {
    path: String,
    scope: pb::watch_create_request::Scope,
    prev_node: bool,
    filters: Vec<i32>,
    progress_notify: bool,
}

impl Spec {
    fn create(&self, start_revision: i64) -> pb::WatchRequest {
        pb::WatchRequest {
            request: Some(pb::watch_request::Request::Create(pb::WatchCreateRequest {
                path: self.path.clone(),
                scope: self.scope.into(),
                start_revision,
                prev_node: self.prev_node,
                filters: self.filters.clone(),
                progress_notify: self.progress_notify,
                watch_id: 0,
            })),
        }
    }
}

impl Client {
    /// Watches `path` (which need not exist): returns once the watch is registered,
    /// with a [`Watcher`] of its events. See [`WatchOptions`] for the scope, the start
    /// revision and filters.
    ///
    /// Fails with [`Error::InvalidArgument`] for an invalid path, and
    /// [`Error::Timeout`] if no member registers the watch within the client's
    /// timeout. A start revision no longer in the history is reported by the
    /// watcher: its first item is [`Error::Compacted`].
    pub async fn watch(
        &self,
        path: impl Into<String>,
        options: impl Into<Option<WatchOptions>>,
    ) -> Result<Watcher> {
        let path = path.into();
        let options = options.into().unwrap_or_default();
        let start = match options.start_revision {
            Some(revision) if revision > 0 => revision,
            // 0 means "from now", as on the wire.
            _ => match self.get("/", GetOptions::new().stat_only()).await {
                Ok(root) => root.header.revision + 1,
                // A user who may not read "/" (auth on) may still watch it and get the
                // events they may read: "now" is then the member's applied revision,
                // which Auth/Status reports to anyone (at most a few writes behind, so
                // at most those few readable events come first).
                Err(Error::PermissionDenied { .. }) => {
                    self.auth_status().await?.header.revision + 1
                }
                Err(e) => return Err(e),
            },
        };
        let spec = Spec {
            path,
            scope: match options.scope {
                WatchScope::Node => pb::watch_create_request::Scope::Node,
                WatchScope::Children => pb::watch_create_request::Scope::Children,
                WatchScope::Subtree => pb::watch_create_request::Scope::Subtree,
            },
            prev_node: options.prev_node,
            filters: options.filters.iter().map(|f| f.to_pb() as i32).collect(),
            progress_notify: options.progress_notify,
        };
        let (tx, rx) = mpsc::channel(CHANNEL_MESSAGES);
        let (progress_tx, progress_rx) = mpsc::channel(4);
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(run(self.clone(), spec, start, tx, progress_rx, ready_tx));
        let watcher = Watcher {
            rx,
            progress_tx,
            buffer: VecDeque::new(),
            buffered_through: start - 1,
            revision: start - 1,
            task,
            ended: false,
        };
        let ready = async {
            match ready_rx.await {
                Ok(result) => result,
                Err(_) => Err(Error::Transport {
                    message: "the watch task ended before the watch was registered".into(),
                }),
            }
        };
        match self.timeout() {
            Some(timeout) => {
                tokio::time::timeout(timeout, ready)
                    .await
                    .map_err(|_| Error::Timeout {
                        message: format!("no member registered the watch within {timeout:?}"),
                    })??
            }
            None => ready.await?,
        }
        Ok(watcher)
    }
}

/// Holds the watch: (re-)creates it from `next` on the current member and forwards its
/// messages until the [`Watcher`] is dropped or the watch fails for good.
async fn run(
    client: Client,
    spec: Spec,
    mut next: i64,
    tx: mpsc::Sender<Result<Message>>,
    mut progress_rx: mpsc::Receiver<()>,
    ready: oneshot::Sender<Result<()>>,
) {
    let mut ready = Some(ready);
    // Reports a failure for good: to `watch()` if it still waits, else to the stream.
    let fail = |ready: &mut Option<oneshot::Sender<Result<()>>>, error: Error| {
        let tx = tx.clone();
        let ready = ready.take();
        async move {
            match ready {
                Some(ready) => {
                    let _ = ready.send(Err(error));
                }
                None => {
                    let _ = tx.send(Err(error)).await;
                }
            }
        }
    };
    let mut backoff = Backoff::new();
    // Whether the token was renewed since the watch last got through.
    let mut renewed = false;
    loop {
        let generation = match client.stream_token().await {
            Ok(generation) => generation,
            Err(error) if reopens(&error) && !tx.is_closed() => {
                backoff.pause().await;
                continue;
            }
            Err(error) => {
                fail(&mut ready, error).await;
                return;
            }
        };
        let (index, channel) = client.members.current();
        let outcome = async {
            let (req_tx, req_rx) = mpsc::channel(4);
            req_tx
                .send(spec.create(next))
                .await
                .map_err(|_| Error::Transport {
                    message: "watch request stream closed".into(),
                })?;
            let mut stream = WatchClient::new(channel)
                .watch(ReceiverStream::new(req_rx))
                .await
                .map_err(|s| Error::from_status(&s, &spec.path))?
                .into_inner();
            loop {
                tokio::select! {
                    message = stream.message() => {
                        let response = match message {
                            Ok(Some(response)) => response,
                            Ok(None) => {
                                return Err(Error::Unavailable {
                                    leader_id: None,
                                    leader_addr: None,
                                    message: "the member ended the watch stream".into(),
                                })
                            }
                            Err(status) => return Err(Error::from_status(&status, &spec.path)),
                        };
                        if response.created {
                            if let Some(ready) = ready.take() {
                                let _ = ready.send(Ok(()));
                            }
                            backoff.reset();
                            renewed = false;
                            continue;
                        }
                        if response.canceled {
                            if response.compact_revision > 0 {
                                return Err(Error::Compacted {
                                    compact_revision: response.compact_revision,
                                    message: response.cancel_reason,
                                });
                            }
                            return Err(Error::Unavailable {
                                leader_id: None,
                                leader_addr: None,
                                message: format!("the member ended the watch: {}", response.cancel_reason),
                            });
                        }
                        if response.progress {
                            let revision = required(response.header, "response header")?.revision;
                            next = next.max(revision + 1);
                            if tx.send(Ok(Message::Progress(revision))).await.is_err() {
                                return Ok(());
                            }
                            continue;
                        }
                        let from = next;
                        let mut events = Vec::with_capacity(response.events.len());
                        for event in response.events {
                            // A revision is never split across messages, so whole
                            // revisions below `from` were delivered before.
                            if event.revision < from {
                                continue;
                            }
                            next = next.max(event.revision + 1);
                            events.push(convert(event)?);
                        }
                        if !events.is_empty() && tx.send(Ok(Message::Events(events))).await.is_err() {
                            return Ok(());
                        }
                    }
                    asked = progress_rx.recv() => {
                        if asked.is_none() {
                            return Ok(());
                        }
                        let progress = pb::WatchRequest {
                            request: Some(pb::watch_request::Request::Progress(
                                pb::WatchProgressRequest {},
                            )),
                        };
                        if req_tx.send(progress).await.is_err() {
                            return Err(Error::Transport { message: "watch request stream closed".into() });
                        }
                    }
                    _ = tx.closed() => return Ok(()),
                }
            }
        }
        .await;
        let error = match outcome {
            // The watcher was dropped.
            Ok(()) => return,
            Err(error) => error,
        };
        // The token expired or was revoked: reopened at once, with a new one, from the
        // same position.
        if renew_and_retry(&error, client.members.tokens.can_renew(), renewed) {
            renewed = true;
            client.members.tokens.reject(generation);
            continue;
        }
        if !reopens(&error) {
            fail(&mut ready, error).await;
            return;
        }
        if tx.is_closed() {
            return;
        }
        client.members.skip(index);
        backoff.pause().await;
    }
}

fn convert(event: pb::Event) -> Result<Event> {
    let kind = match pb::EventType::try_from(event.r#type) {
        Ok(pb::EventType::Created) => EventType::Created,
        Ok(pb::EventType::Updated) => EventType::Updated,
        Ok(pb::EventType::Deleted) => EventType::Deleted,
        Ok(pb::EventType::Unspecified) | Err(_) => {
            return Err(Error::InvalidResponse {
                message: format!("unknown event type {}", event.r#type),
            })
        }
    };
    Ok(Event {
        kind,
        node: Node::from_wire(required(event.node, "event node")?)?,
        prev_node: event.prev_node.map(Node::from_wire).transpose()?,
        revision: event.revision,
    })
}
