package corral

import (
	"context"

	"google.golang.org/grpc"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// LockResponse is a held lock.
type LockResponse struct {
	Header Header
	// Key is the holder's znode (a sequential ephemeral child of the lock); pass it to Unlock.
	Key string
	// FencingToken strictly increases for each new holder of the lock (the key's create
	// revision): a protected resource rejects requests with a lower token than one it saw.
	FencingToken int64
}

// Lock waits until lease leaseID holds lock name (an absolute path, created as a
// container znode if absent) and returns its key and fencing token. Waiters are
// served in FIFO order; the lock is released by Unlock or when the lease ends.
// Options: WithWaitTimeout (else it waits as long as ctx allows).
//
// A lease has one place per lock, so the call is sent again after a broken connection
// or an unavailable member: the retry finds the same place. Fails with
// ErrWaitTimeout, ErrLeaseNotFound, ErrEntryGone (the lease ended while waiting).
func (c *Client) Lock(ctx context.Context, name string, leaseID int64, opts ...Option) (*LockResponse, error) {
	req := &pb.LockRequest{Name: name, LeaseId: leaseID, WaitTimeoutMs: waitMs(apply(opts))}
	var resp *pb.LockResponse
	err := c.call(ctx, name, retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewLockClient(conn).Lock(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &LockResponse{Header: headerFrom(resp.GetHeader()), Key: resp.GetKey(), FencingToken: resp.GetFencingToken()}, nil
}

func waitMs(o options) int64 {
	if o.waitTimeout <= 0 {
		return 0
	}
	return max(ms(o.waitTimeout), 1)
}

// Unlock releases a held lock (or a place in its queue) by its key and the lease given
// to Lock. A key already gone is not an error; a key that is not a lock's queue entry
// (ErrNotQueueEntry) or is another lease's (ErrNotEntryOwner) is refused and left
// alone: an Unlock retried late can never release a newer hold, which has another key.
func (c *Client) Unlock(ctx context.Context, key string, leaseID int64) (*Header, error) {
	req := &pb.UnlockRequest{Key: key, LeaseId: leaseID}
	var resp *pb.UnlockResponse
	err := c.call(ctx, key, retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewLockClient(conn).Unlock(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	h := headerFrom(resp.GetHeader())
	return &h, nil
}
