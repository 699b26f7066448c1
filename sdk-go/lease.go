package corral

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// LeaseGrantResponse is a granted lease.
type LeaseGrantResponse struct {
	Header Header
	// ID of the lease: bind ephemeral znodes, locks and campaigns to it.
	ID int64
	// TTL granted.
	TTL time.Duration
}

// LeaseRevokeResponse is the result of Revoke.
type LeaseRevokeResponse struct {
	// Header; Revision is the revision of the deletes (unchanged if none).
	Header Header
	// Deleted is the number of ephemeral znodes deleted with the lease.
	Deleted int64
}

// LeaseKeepAliveResponse is the answer to one keepalive.
type LeaseKeepAliveResponse struct {
	Header Header
	ID     int64
	// TTL is the lease's time to live, now restarted.
	TTL time.Duration
}

// LeaseTimeToLiveResponse is a lease's state.
type LeaseTimeToLiveResponse struct {
	Header Header
	ID     int64
	// TTL granted.
	TTL time.Duration
	// Remaining before expiry unless kept alive.
	Remaining time.Duration
	// Nodes are its ephemeral znodes, with WithNodes.
	Nodes []string
}

// LeaseStatus is one lease of Leases.
type LeaseStatus struct {
	ID  int64
	TTL time.Duration
}

// Grant grants a lease that expires ttl (1 s to 1 day) after its last keepalive.
func (c *Client) Grant(ctx context.Context, ttl time.Duration) (*LeaseGrantResponse, error) {
	req := &pb.LeaseGrantRequest{TtlMs: ms(ttl)}
	var resp *pb.LeaseGrantResponse
	err := c.call(ctx, "", retryWithRequestID, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewLeaseClient(conn).Grant(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &LeaseGrantResponse{Header: headerFrom(resp.GetHeader()), ID: resp.GetLeaseId(), TTL: fromMs(resp.GetTtlMs())}, nil
}

// Revoke revokes a lease, deleting its ephemeral znodes in one revision (and so
// releasing its locks and leaderships). Fails with ErrLeaseNotFound.
func (c *Client) Revoke(ctx context.Context, id int64) (*LeaseRevokeResponse, error) {
	req := &pb.LeaseRevokeRequest{LeaseId: id}
	var resp *pb.LeaseRevokeResponse
	err := c.call(ctx, "", retryWithRequestID, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewLeaseClient(conn).Revoke(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &LeaseRevokeResponse{Header: headerFrom(resp.GetHeader()), Deleted: resp.GetDeleted()}, nil
}

// TimeToLive reports a lease's TTL, remaining time and, WithNodes, its znodes.
func (c *Client) TimeToLive(ctx context.Context, id int64, opts ...Option) (*LeaseTimeToLiveResponse, error) {
	req := &pb.LeaseTimeToLiveRequest{LeaseId: id, WithNodes: apply(opts).withNodes}
	var resp *pb.LeaseTimeToLiveResponse
	err := c.call(ctx, "", retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewLeaseClient(conn).TimeToLive(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &LeaseTimeToLiveResponse{Header: headerFrom(resp.GetHeader()), ID: resp.GetLeaseId(),
		TTL: fromMs(resp.GetTtlMs()), Remaining: fromMs(resp.GetRemainingMs()), Nodes: resp.GetNodes()}, nil
}

// Leases lists every lease.
func (c *Client) Leases(ctx context.Context) ([]LeaseStatus, error) {
	var resp *pb.LeaseListResponse
	err := c.call(ctx, "", retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewLeaseClient(conn).List(ctx, &pb.LeaseListRequest{})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]LeaseStatus, 0, len(resp.GetLeases()))
	for _, l := range resp.GetLeases() {
		out = append(out, LeaseStatus{ID: l.GetLeaseId(), TTL: fromMs(l.GetTtlMs())})
	}
	return out, nil
}

// keepAliveStream is a KeepAlive stream open on one member.
type keepAliveStream struct {
	member int
	cancel context.CancelFunc
	stream grpc.BidiStreamingClient[pb.LeaseKeepAliveRequest, pb.LeaseKeepAliveResponse]
}

// keepAliveOnStream refreshes lease id once over *s (opening one on the current member
// if nil), waiting at most timeout for the answer. On failure the stream is dropped.
func (c *Client) keepAliveOnStream(ctx context.Context, s **keepAliveStream, id int64, timeout time.Duration) (*LeaseKeepAliveResponse, error) {
	if *s == nil {
		idx, conn := c.member()
		sctx, cancel := context.WithCancel(ctx)
		st, err := pb.NewLeaseClient(conn).KeepAlive(sctx)
		if err != nil {
			cancel()
			err = fromStatus(ctx, err, "")
			if !c.newTokenCures(err) {
				c.skip(idx)
			}
			return nil, err
		}
		*s = &keepAliveStream{member: idx, cancel: cancel, stream: st}
	}
	ks := *s
	fail := func(err error) (*LeaseKeepAliveResponse, error) {
		ks.cancel()
		*s = nil
		err = fromStatus(ctx, err, "")
		if errors.Is(err, ErrNotFound) {
			// A stream ended by the server says so for this lease only.
			if e := asError(err); e != nil {
				e.sentinel = ErrLeaseNotFound
			}
		}
		// A lease that ended, or a token refused, is no fault of the member.
		if !errors.Is(err, ErrLeaseNotFound) && !c.newTokenCures(err) {
			c.skip(ks.member)
		}
		return nil, err
	}
	timer := time.AfterFunc(timeout, ks.cancel)
	defer timer.Stop()
	if err := ks.stream.Send(&pb.LeaseKeepAliveRequest{LeaseId: id}); err != nil {
		_, err = ks.stream.Recv() // the real status
		return fail(err)
	}
	resp, err := ks.stream.Recv()
	if err != nil {
		return fail(err)
	}
	return &LeaseKeepAliveResponse{Header: headerFrom(resp.GetHeader()), ID: resp.GetLeaseId(), TTL: fromMs(resp.GetTtlMs())}, nil
}

// KeepAliveOnce refreshes a lease once and returns its restarted TTL, retrying on the
// next member after a broken stream or an unavailable member (a keepalive changes
// nothing if repeated). Fails with ErrLeaseNotFound once the lease has ended.
func (c *Client) KeepAliveOnce(ctx context.Context, id int64) (*LeaseKeepAliveResponse, error) {
	var s *keepAliveStream
	defer func() {
		if s != nil {
			s.cancel()
		}
	}()
	var b backoff
	reauthed := false
	for attempt := 1; ; attempt++ {
		resp, err := c.keepAliveOnStream(ctx, &s, id, 5*time.Second)
		if err == nil {
			return resp, nil
		}
		if !reauthed && ctx.Err() == nil && c.newTokenCures(err) {
			// Again on the same member with a new token (the interceptor dropped the old).
			reauthed = true
			continue
		}
		if ctx.Err() != nil || !afterFailure(err, retrySafe) || attempt >= maxAttemptsWithoutDeadline {
			return nil, err
		}
		if attempt%len(c.conns) == 0 {
			if b.pause(ctx) != nil {
				return nil, err
			}
		}
	}
}

// KeepAlive keeps lease id alive until ctx is cancelled: a background goroutine
// refreshes it every TTL/3 over a KeepAlive stream, moving to the next member when
// one fails. Each answer is offered on the returned channel (dropped if the reader is
// behind: the channel never slows the keepalives).
//
// The channel is closed when ctx ends, when the client is closed, and when the
// lease is lost: the server says it has ended, or no keepalive succeeded for a whole
// TTL (it may have expired). A reader learns of the loss by the close. The first
// keepalive is made before KeepAlive returns; it fails with ErrLeaseNotFound if the
// lease has already ended.
func (c *Client) KeepAlive(ctx context.Context, id int64) (<-chan *LeaseKeepAliveResponse, error) {
	first, err := c.KeepAliveOnce(ctx, id)
	if err != nil {
		return nil, err
	}
	ch := make(chan *LeaseKeepAliveResponse, 1)
	ch <- first
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(ch)
		c.keepAliveLoop(ctx, id, first.TTL, ch)
	}()
	return ch, nil
}

// keepAliveLoop refreshes the lease every ttl/3 until it is lost or ctx ends.
func (c *Client) keepAliveLoop(ctx context.Context, id int64, ttl time.Duration, ch chan<- *LeaseKeepAliveResponse) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	every := max(ttl/3, 100*time.Millisecond)
	var s *keepAliveStream
	defer func() {
		if s != nil {
			s.cancel()
		}
	}()
	lastOK := time.Now()
	wait := every
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		resp, err := c.keepAliveOnStream(ctx, &s, id, every)
		switch {
		case err == nil:
			lastOK = time.Now()
			wait = every
			select {
			case ch <- resp:
			default:
			}
		case ctx.Err() != nil:
			return
		case errors.Is(err, ErrLeaseNotFound):
			return
		case time.Since(lastOK) >= ttl:
			// Presumed expired; make sure it is, so nothing bound to it outlives what
			// its holders now believe.
			rctx, rcancel := context.WithTimeout(context.Background(), every)
			_, _ = c.Revoke(rctx, id)
			rcancel()
			return
		default:
			wait = 100 * time.Millisecond
		}
	}
}
