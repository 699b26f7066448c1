package corral

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// LeaderKey is the leader of an election.
type LeaderKey struct {
	// Name of the election.
	Name string
	// Key is the leader's znode.
	Key string
	// Value it published.
	Value []byte
	// CreateRevision of the key: strictly increases with each new leader.
	CreateRevision int64
	// LeaseID its leadership is bound to.
	LeaseID int64
}

func leaderFrom(l *pb.LeaderKey) *LeaderKey {
	if l == nil {
		return nil
	}
	return &LeaderKey{Name: l.GetName(), Key: l.GetKey(), Value: l.GetValue(), CreateRevision: l.GetCreateRevision(), LeaseID: l.GetLeaseId()}
}

// Campaign waits until lease leaseID leads election name (an absolute path) and
// returns its leader key; value is published while it leads. Options:
// WithWaitTimeout. Like Lock, a retry finds the lease's own place in the queue.
func (c *Client) Campaign(ctx context.Context, name string, leaseID int64, value []byte, opts ...Option) (*LeaderKey, error) {
	req := &pb.CampaignRequest{Name: name, LeaseId: leaseID, Value: value, WaitTimeoutMs: waitMs(apply(opts))}
	var resp *pb.CampaignResponse
	err := c.call(ctx, name, retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewElectionClient(conn).Campaign(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp.GetLeader() == nil {
		return nil, ErrInvalidResponse
	}
	return leaderFrom(resp.GetLeader()), nil
}

// Proclaim updates the leader's value, only while key (from Campaign, with the same
// lease) still leads; else ErrNotElectionLeader.
func (c *Client) Proclaim(ctx context.Context, key string, leaseID int64, value []byte) error {
	req := &pb.ProclaimRequest{Key: key, LeaseId: leaseID, Value: value}
	return c.call(ctx, key, retrySafe, func(ctx context.Context, conn *grpc.ClientConn) error {
		_, err := pb.NewElectionClient(conn).Proclaim(ctx, req)
		return err
	})
}

// Resign gives up leadership (or a place in the queue) of key, with the lease given to
// Campaign. A key already gone is not an error.
func (c *Client) Resign(ctx context.Context, key string, leaseID int64) error {
	req := &pb.ResignRequest{Key: key, LeaseId: leaseID}
	return c.call(ctx, key, retrySafe, func(ctx context.Context, conn *grpc.ClientConn) error {
		_, err := pb.NewElectionClient(conn).Resign(ctx, req)
		return err
	})
}

// Leader returns the current leader of election name; ErrNoLeader if there is none.
func (c *Client) Leader(ctx context.Context, name string) (*LeaderKey, error) {
	var resp *pb.LeaderResponse
	err := c.call(ctx, name, retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewElectionClient(conn).Leader(ctx, &pb.LeaderRequest{Name: name})
		return err
	})
	if err != nil {
		return nil, err
	}
	return leaderFrom(resp.GetLeader()), nil
}

// ObserveResponse is one message of Observe: the leader now (nil: none), or the error
// that ended the observation (the last message).
type ObserveResponse struct {
	Leader *LeaderKey
	Err    error
}

// Observe follows election name: the channel gets the leader now and after every
// change of leader or value, in order, reopening on the next member when a stream
// breaks. It is closed when ctx ends (or the client is closed), after a last message
// with Err if the observation failed for good.
func (c *Client) Observe(ctx context.Context, name string) (<-chan ObserveResponse, error) {
	if c.ctx.Err() != nil {
		return nil, ErrClosed
	}
	ch := make(chan ObserveResponse, 16)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(ch)
		defer cancel()
		defer stop()
		var b backoff
		var last *LeaderKey
		sent := false
		reauthed := false // reopened for a refused token, once in a row
		for {
			idx, conn := c.member()
			stream, err := pb.NewElectionClient(conn).Observe(ctx, &pb.ObserveRequest{Name: name})
			for err == nil {
				var resp *pb.LeaderResponse
				resp, err = stream.Recv()
				if err != nil {
					break
				}
				b.reset()
				reauthed = false
				l := leaderFrom(resp.GetLeader())
				// A reopened stream starts with the leader now: repeat nothing.
				if sent && sameLeader(l, last) {
					continue
				}
				last, sent = l, true
				select {
				case ch <- ObserveResponse{Leader: l}:
				case <-ctx.Done():
					return
				}
			}
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, io.EOF) {
				err = &Error{Code: codes.Unavailable, Message: "the member ended the observe stream", sentinel: ErrUnavailable}
			} else {
				err = fromStatus(ctx, err, name)
			}
			if !reauthed && c.newTokenCures(err) {
				reauthed = true
				continue
			}
			if !afterFailure(err, retrySafe) {
				select {
				case ch <- ObserveResponse{Err: err}:
				case <-ctx.Done():
				}
				return
			}
			c.skip(idx)
			if b.pause(ctx) != nil {
				return
			}
		}
	}()
	return ch, nil
}

func sameLeader(a, b *LeaderKey) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Key == b.Key && string(a.Value) == string(b.Value)
}
