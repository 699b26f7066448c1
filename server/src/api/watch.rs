//! `corral.v1.Watch`: one bidirectional stream multiplexing many watches. The handler
//! only parses requests and converts messages; each watch runs in `watch::watcher`.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use corral_proto::v1 as pb;
use corral_proto::v1::watch_server::Watch;
use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::convert;
use super::errors::{from_transport, ApiError};
use super::ApiContext;
use crate::acl::Perms;
use crate::auth::caller::Who;
use crate::store::path;
use crate::watch::watcher::{self, WatchMessage, WatchOptions, WatchSink};
use crate::watch::{Scope, WatchSpec};
use crate::znode::{Event, EventKind, Node};

/// Idle time after which a watch that asked for progress notices gets one.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Messages buffered per stream before watchers wait (and, if it lasts, fall back to
/// replaying from the history).
const STREAM_BUFFER: usize = 64;
/// Most watches on one stream.
const MAX_WATCHES_PER_STREAM: usize = 10_000;

/// The Watch service.
pub struct WatchService {
    cx: ApiContext,
}

impl WatchService {
    /// Watch service over `cx`.
    pub fn new(cx: ApiContext) -> Self {
        Self { cx }
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, Status>> + Send + 'static>>;

/// Checks a watch's create request and turns it into the watcher's options, or refuses
/// it with INVALID_ARGUMENT (public for the fuzz targets in `fuzz/`).
pub fn parse_create(c: &pb::WatchCreateRequest) -> Result<WatchOptions, ApiError> {
    path::validate(&c.path).map_err(|source| ApiError::InvalidPath {
        field: "create.path".into(),
        source,
        path: c.path.clone(),
    })?;
    let scope = match pb::watch_create_request::Scope::try_from(c.scope) {
        Ok(
            pb::watch_create_request::Scope::Node | pb::watch_create_request::Scope::Unspecified,
        ) => Scope::Node,
        Ok(pb::watch_create_request::Scope::Children) => Scope::Children,
        Ok(pb::watch_create_request::Scope::Subtree) => Scope::Subtree,
        Err(_) => {
            return Err(ApiError::InvalidArgument(format!(
                "create.scope {} is unknown; use NODE, CHILDREN or SUBTREE",
                c.scope
            )))
        }
    };
    if c.start_revision < 0 {
        return Err(ApiError::InvalidArgument(format!(
            "create.start_revision must be ≥ 0 (got {}); 0 means from now",
            c.start_revision
        )));
    }
    if c.watch_id < 0 {
        return Err(ApiError::InvalidArgument(format!(
            "create.watch_id must be ≥ 0 (got {}); 0 lets the server choose",
            c.watch_id
        )));
    }
    let mut exclude = Vec::new();
    for f in &c.filters {
        exclude.push(match pb::EventType::try_from(*f) {
            Ok(pb::EventType::Created) => EventKind::Created,
            Ok(pb::EventType::Updated) => EventKind::Updated,
            Ok(pb::EventType::Deleted) => EventKind::Deleted,
            Ok(pb::EventType::Unspecified) | Err(_) => {
                return Err(ApiError::InvalidArgument(format!(
                    "create.filters has unknown event type {f}"
                )))
            }
        });
    }
    Ok(WatchOptions {
        spec: WatchSpec {
            path: c.path.clone(),
            scope,
            exclude,
        },
        start_revision: c.start_revision,
        progress_notify: c.progress_notify.then_some(PROGRESS_EVERY),
    })
}

fn event(e: Event, with_prev: bool) -> pb::Event {
    let kind = match e.kind {
        EventKind::Created => pb::EventType::Created,
        EventKind::Updated => pb::EventType::Updated,
        EventKind::Deleted => pb::EventType::Deleted,
    };
    let prev_node = if with_prev {
        e.prev.map(|record| {
            convert::node(Node {
                path: e.path.clone(),
                record,
            })
        })
    } else {
        None
    };
    pb::Event {
        r#type: kind as i32,
        node: Some(convert::node(Node {
            path: e.path,
            record: e.node,
        })),
        prev_node,
        revision: e.revision,
    }
}

/// State of one stream, owned by its task.
struct StreamState {
    cx: ApiContext,
    who: Who,
    watches: HashMap<i64, JoinHandle<()>>,
    next_id: i64,
    out: mpsc::Sender<Result<pb::WatchResponse, Status>>,
    /// Watches that ended on their own (cancelled by the server) report here.
    ended: mpsc::UnboundedSender<i64>,
    progress_rx: watch::Receiver<u64>,
}

/// A watch's way to its client: its messages are converted and queued on the stream's
/// output by the watcher's own task, not relayed through the stream's task.
struct StreamSink {
    cx: ApiContext,
    /// The stream's caller: events on znodes they may not read are never sent.
    who: Who,
    with_prev: bool,
    out: mpsc::Sender<Result<pb::WatchResponse, Status>>,
    ended: mpsc::UnboundedSender<i64>,
}

impl WatchSink for StreamSink {
    async fn send(&self, id: i64, mut msg: WatchMessage) -> bool {
        if let WatchMessage::Events(events) = &mut msg {
            if self.who.enabled {
                // Judged by each znode's ACL at the event, with the caller's current
                // roles; an unreadable event is dropped whole, path included.
                match self.cx.node.db().auth() {
                    Ok(state) if state.enabled && self.who.revoked_in(&state) => {
                        // The user was deleted or changed password: a watch opened
                        // with the old token ends, as a new call with it would fail.
                        let user = self.who.user.as_deref().unwrap_or_default();
                        let reason = format!(
                            "the token of user {user} was revoked (the user was deleted or \
                             changed password); authenticate again and resume the watch"
                        );
                        let end = WatchMessage::Canceled {
                            reason,
                            compact_revision: 0,
                        };
                        let resp = response_for(&self.cx, id, self.with_prev, end);
                        let _ = self.out.send(Ok(resp)).await;
                        let _ = self.ended.send(id);
                        return false;
                    }
                    Ok(state) if state.enabled => {
                        let caller = state.caller(self.who.user.as_deref());
                        events.retain(|e| caller.may(e.acl.as_ref(), Perms::READ));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        // Cannot tell what the caller may read: send nothing, end the watch.
                        tracing::warn!(watch_id = id, "watch ended: auth state unreadable: {e}");
                        return false;
                    }
                }
                if events.is_empty() {
                    return true;
                }
            }
        }
        let canceled = matches!(msg, WatchMessage::Canceled { .. });
        let resp = response_for(&self.cx, id, self.with_prev, msg);
        let sent = self.out.send(Ok(resp)).await.is_ok();
        if canceled {
            let _ = self.ended.send(id);
        }
        sent
    }
}

fn response(cx: &ApiContext, watch_id: i64, revision: i64) -> pb::WatchResponse {
    pb::WatchResponse {
        header: cx.header(revision),
        watch_id,
        ..Default::default()
    }
}

/// The client's message for `msg` of watch `id`.
fn response_for(cx: &ApiContext, id: i64, with_prev: bool, msg: WatchMessage) -> pb::WatchResponse {
    let applied = cx.node.applied_revision();
    match msg {
        WatchMessage::Events(events) => {
            let mut resp = response(cx, id, applied);
            resp.events = events.into_iter().map(|e| event(e, with_prev)).collect();
            resp
        }
        WatchMessage::Progress(rev) => {
            let mut resp = response(cx, id, rev);
            resp.progress = true;
            resp
        }
        WatchMessage::Canceled {
            reason,
            compact_revision,
        } => {
            let mut resp = response(cx, id, applied);
            resp.canceled = true;
            resp.cancel_reason = reason;
            resp.compact_revision = compact_revision;
            resp
        }
    }
}

impl StreamState {
    /// Starts a watch and queues its "created" answer, ahead of anything it sends.
    async fn create(&mut self, c: pb::WatchCreateRequest) -> Result<(), ApiError> {
        let opts = parse_create(&c)?;
        if self.watches.len() >= MAX_WATCHES_PER_STREAM {
            return Err(ApiError::InvalidArgument(format!(
                "a stream carries at most {MAX_WATCHES_PER_STREAM} watches; open another stream"
            )));
        }
        let id = if c.watch_id > 0 {
            if self.watches.contains_key(&c.watch_id) {
                return Err(ApiError::InvalidArgument(format!(
                    "watch_id {} is already in use on this stream",
                    c.watch_id
                )));
            }
            c.watch_id
        } else {
            while self.watches.contains_key(&self.next_id) {
                // Past i64::MAX start again at 1: at most MAX_WATCHES_PER_STREAM are taken.
                self.next_id = self.next_id.checked_add(1).unwrap_or(1);
            }
            self.next_id
        };
        // Saturating: a client may pick watch_id i64::MAX (found by grpc_fuzz; `+ 1`
        // overflowed and panicked the stream's task in debug builds).
        self.next_id = self.next_id.max(id.saturating_add(1));
        let hub = self.cx.node.hub().clone();
        if c.start_revision > hub.applied_revision().saturating_add(1) {
            // Maybe only this member is behind: ask the leader how far the cluster is.
            self.cx.node.read_barrier().await?;
            let now = hub.applied_revision();
            if c.start_revision > now.saturating_add(1) {
                return Err(ApiError::InvalidArgument(format!(
                    "create.start_revision {} is in the future: the cluster is at revision {now}; \
                     use 0 to watch from now, or at most {}",
                    c.start_revision,
                    now + 1
                )));
            }
        }
        let mut created = response(&self.cx, id, hub.applied_revision());
        created.created = true;
        // If the client is gone, the loop ends at its next turn.
        let _ = self.out.send(Ok(created)).await;
        let sink = StreamSink {
            cx: self.cx.clone(),
            who: self.who.clone(),
            with_prev: c.prev_node,
            out: self.out.clone(),
            ended: self.ended.clone(),
        };
        let task = tokio::spawn(watcher::run(hub, id, opts, sink, self.progress_rx.clone()));
        self.watches.insert(id, task);
        Ok(())
    }

    fn cancel(&mut self, id: i64, reason: &str) -> pb::WatchResponse {
        let known = match self.watches.remove(&id) {
            Some(task) => {
                task.abort();
                true
            }
            None => false,
        };
        let mut resp = response(&self.cx, id, self.cx.node.applied_revision());
        resp.canceled = true;
        resp.cancel_reason = if known {
            reason.to_string()
        } else {
            format!("no watch {id} on this stream")
        };
        resp
    }
}

#[tonic::async_trait]
impl Watch for WatchService {
    type WatchStream = WatchStream;

    async fn watch(
        &self,
        req: Request<Streaming<pb::WatchRequest>>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let who = self.cx.who(&req).await?;
        super::access::require_user(&who)?;
        let mut incoming = req.into_inner();
        let (out_tx, out_rx) = mpsc::channel::<Result<pb::WatchResponse, Status>>(STREAM_BUFFER);
        let (ended_tx, mut ended_rx) = mpsc::unbounded_channel();
        let (progress_tx, progress_rx) = watch::channel(0u64);
        let mut state = StreamState {
            cx: self.cx.clone(),
            who,
            watches: HashMap::new(),
            next_id: 1,
            out: out_tx.clone(),
            ended: ended_tx,
            progress_rx,
        };
        tokio::spawn(async move {
            // A client may half-close its side after sending its requests (grpcurl -d
            // does); its watches keep streaming until it cancels the call.
            let mut input_open = true;
            loop {
                if !input_open && state.watches.is_empty() {
                    break;
                }
                let reply = tokio::select! {
                    req = incoming.next(), if input_open => match req {
                        None => {
                            input_open = false;
                            continue;
                        }
                        // A message that does not decode is the client's mistake: say so.
                        Some(Err(e)) => Err(from_transport(e, state.cx.limits())),
                        Some(Ok(req)) => match req.request {
                            Some(pb::watch_request::Request::Create(c)) => {
                                match state.create(c).await {
                                    Ok(()) => continue,
                                    Err(e) => Err(Status::from(e)),
                                }
                            }
                            Some(pb::watch_request::Request::Cancel(c)) => {
                                Ok(state.cancel(c.watch_id, "canceled by the client"))
                            }
                            Some(pb::watch_request::Request::Progress(_)) => {
                                progress_tx.send_modify(|n| *n += 1);
                                continue;
                            }
                            None => Err(Status::from(ApiError::InvalidArgument(
                                "WatchRequest sets none of create, cancel, progress".into(),
                            ))),
                        },
                    },
                    Some(id) = ended_rx.recv() => {
                        state.watches.remove(&id);
                        continue;
                    }
                    _ = out_tx.closed() => break,
                };
                // A malformed request ends the stream with its error; the client's
                // other watches end with it and must be re-created.
                let fatal = reply.is_err();
                if out_tx.send(reply).await.is_err() || fatal {
                    break;
                }
            }
            for (_, task) in state.watches.drain() {
                task.abort();
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }
}
