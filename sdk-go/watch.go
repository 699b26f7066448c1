package corral

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc/codes"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// EventType is the kind of a change.
type EventType int

const (
	// Created: a znode was created.
	Created EventType = iota + 1
	// Updated: a znode's data was set.
	Updated
	// Deleted: a znode was deleted.
	Deleted
)

func (t EventType) String() string {
	switch t {
	case Created:
		return "CREATED"
	case Updated:
		return "UPDATED"
	case Deleted:
		return "DELETED"
	}
	return "UNKNOWN"
}

// Event is one change to one znode.
type Event struct {
	Type EventType
	// Node after the change (for Deleted: as it was when deleted).
	Node Node
	// PrevNode before the change, WithPrevNode (updates and deletes only).
	PrevNode *Node
	// Revision of the write that made the change; the events of one write share it.
	Revision int64
}

// WatchResponse is one message of a watch: the events of one or more whole revisions,
// a progress notice, or the error that ended the watch (the last message).
type WatchResponse struct {
	// Events in revision order; a revision is never split across responses.
	Events []Event
	// Revision through which every matching event has been delivered (with this response).
	Revision int64
	// Progress is true for a progress notice (no events).
	Progress bool
	// Err ended the watch: a *CompactedError (ErrCompacted) when its position left the
	// server's history, or an invalid watch's error. The channel closes after it.
	Err error
}

// WatchChan delivers a watch's responses; it is closed when the watch ends.
type WatchChan <-chan WatchResponse

// Watch watches path (which need not exist) and returns once the watch is registered.
// Options: WithScope, WithStartRevision, WithPrevNode, WithFilter, WithProgressNotify.
//
// A background goroutine holds the watch. When its stream breaks (the member died or
// restarted, the connection dropped, the member lost its leader) it re-creates the
// watch on the next member from the revision after the last one delivered: no event
// is lost or delivered twice. The channel is closed when ctx is cancelled (which also
// cancels the stream, so the server releases its watcher) or the client is closed,
// after a last response with Err if the watch failed for good.
//
// Without WithStartRevision the watch starts after the cluster's current revision,
// read linearizably: it sees every write acknowledged after Watch returns.
func (c *Client) Watch(ctx context.Context, path string, opts ...Option) (WatchChan, error) {
	if c.ctx.Err() != nil {
		return nil, ErrClosed
	}
	o := apply(opts)
	start := o.startRevision
	if start <= 0 {
		root, err := c.Get(ctx, "/", WithStatOnly())
		if err != nil {
			return nil, err
		}
		start = root.Header.Revision + 1
	}
	create := &pb.WatchCreateRequest{Path: path, Scope: pb.WatchCreateRequest_Scope(o.scope + 1), PrevNode: o.prevNode, ProgressNotify: o.progressNotify}
	for _, f := range o.filters {
		create.Filters = append(create.Filters, pb.EventType(f))
	}
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	w := &watcher{c: c, path: path, create: create, next: start, ch: make(chan WatchResponse, 64), ready: make(chan error, 1)}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(w.ch)
		defer cancel()
		defer stop()
		w.run(wctx)
	}()
	select {
	case err := <-w.ready:
		if err != nil {
			cancel()
			return nil, err
		}
		return w.ch, nil
	case <-ctx.Done():
		cancel()
		return nil, fmt.Errorf("corral: %w", ctx.Err())
	}
}

// watcher is the state of one watch's goroutine.
type watcher struct {
	c      *Client
	path   string
	create *pb.WatchCreateRequest
	// next is the first revision not yet delivered.
	next  int64
	ch    chan WatchResponse
	ready chan error // gets the outcome of the first registration, once
	told  bool
	// reauthed is set when the stream was just reopened for a refused token, which
	// is done once in a row (reset by a registration).
	reauthed bool
}

func (w *watcher) tellReady(err error) {
	if !w.told {
		w.told = true
		w.ready <- err
	}
}

// run (re-)creates the watch from w.next on the current member and forwards its
// messages until ctx ends or the watch fails for good.
func (w *watcher) run(ctx context.Context) {
	var b backoff
	for {
		idx, err := w.stream(ctx, &b)
		if ctx.Err() != nil {
			w.tellReady(fmt.Errorf("corral: %w", ctx.Err()))
			return
		}
		if !w.reauthed && w.c.newTokenCures(err) {
			// Refused for its token (dropped by the interceptor): the same member, at
			// once, with a new one.
			w.reauthed = true
			continue
		}
		if !afterFailure(err, retrySafe) {
			if !w.told {
				w.tellReady(err)
				return
			}
			select {
			case w.ch <- WatchResponse{Err: err, Revision: w.next - 1}:
			case <-ctx.Done():
			}
			return
		}
		w.c.skip(idx)
		if b.pause(ctx) != nil {
			w.tellReady(fmt.Errorf("corral: %w", ctx.Err()))
			return
		}
	}
}

// stream runs one Watch stream on the current member; returns its index and why it ended.
func (w *watcher) stream(ctx context.Context, b *backoff) (int, error) {
	idx, conn := w.c.member()
	sctx, cancel := context.WithCancel(ctx)
	// Cancelling the stream's context resets the HTTP/2 stream: the server drops the watcher.
	defer cancel()
	st, err := pb.NewWatchClient(conn).Watch(sctx)
	if err != nil {
		return idx, fromStatus(ctx, err, w.path)
	}
	create := w.create
	req := &pb.WatchRequest{Request: &pb.WatchRequest_Create{Create: &pb.WatchCreateRequest{
		Path: create.Path, Scope: create.Scope, StartRevision: w.next, PrevNode: create.PrevNode,
		Filters: create.Filters, ProgressNotify: create.ProgressNotify,
	}}}
	if err := st.Send(req); err != nil {
		_, err = st.Recv()
		return idx, w.streamErr(ctx, err)
	}
	for {
		resp, err := st.Recv()
		if err != nil {
			return idx, w.streamErr(ctx, err)
		}
		if resp.GetCreated() {
			w.tellReady(nil)
			b.reset()
			w.reauthed = false
			continue
		}
		if resp.GetCanceled() {
			if cr := resp.GetCompactRevision(); cr > 0 {
				return idx, &CompactedError{CompactRevision: cr, Message: resp.GetCancelReason()}
			}
			return idx, &Error{Code: codes.Unavailable, Message: "the member ended the watch: " + resp.GetCancelReason(), sentinel: ErrUnavailable}
		}
		if resp.GetProgress() {
			rev := resp.GetHeader().GetRevision()
			w.next = max(w.next, rev+1)
			if !w.send(ctx, WatchResponse{Progress: true, Revision: rev}) {
				return idx, ctx.Err()
			}
			continue
		}
		from := w.next
		var events []Event
		for _, e := range resp.GetEvents() {
			// A revision is never split across messages, so whole revisions below
			// from were delivered before (by an earlier stream).
			if e.GetRevision() < from {
				continue
			}
			w.next = max(w.next, e.GetRevision()+1)
			ev := Event{Type: EventType(e.GetType()), Node: nodeFrom(e.GetNode()), Revision: e.GetRevision()}
			if e.GetPrevNode() != nil {
				n := nodeFrom(e.GetPrevNode())
				ev.PrevNode = &n
			}
			events = append(events, ev)
		}
		if len(events) > 0 && !w.send(ctx, WatchResponse{Events: events, Revision: w.next - 1}) {
			return idx, ctx.Err()
		}
	}
}

func (w *watcher) send(ctx context.Context, r WatchResponse) bool {
	select {
	case w.ch <- r:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *watcher) streamErr(ctx context.Context, err error) error {
	if errors.Is(err, io.EOF) {
		return &Error{Code: codes.Unavailable, Message: "the member ended the watch stream", sentinel: ErrUnavailable}
	}
	return fromStatus(ctx, err, w.path)
}
