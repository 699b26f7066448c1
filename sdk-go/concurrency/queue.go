package concurrency

import (
	"context"
	"errors"

	corral "github.com/corral-dev/corral/sdk-go"
)

// Queue is a distributed FIFO queue of persistent sequential znodes under a path.
// Each item is dequeued by exactly one consumer.
type Queue struct {
	c    *corral.Client
	path string
}

// NewQueue returns the queue at path.
func NewQueue(c *corral.Client, path string) *Queue { return &Queue{c: c, path: path} }

// Enqueue appends value.
func (q *Queue) Enqueue(ctx context.Context, value []byte) error {
	_, err := q.c.Create(ctx, q.path+"/item-", value, corral.WithSequential(), corral.WithCreateParents())
	return err
}

// Dequeue removes and returns the oldest item, waiting for one if the queue is empty.
func (q *Queue) Dequeue(ctx context.Context) ([]byte, error) {
	for {
		l, err := q.c.List(ctx, q.path, corral.WithLimit(1))
		if err != nil && !errors.Is(err, corral.ErrNotFound) {
			return nil, err
		}
		var rev int64
		if err == nil {
			rev = l.Header.Revision
			if len(l.Nodes) > 0 {
				first := l.Nodes[0].Path
				// Read and delete at one revision: one consumer gets it.
				r, err := q.c.Txn(ctx).If(corral.CompareExists(first, true)).
					Then(corral.OpGet(first), corral.OpDelete(first)).Commit()
				if err != nil {
					return nil, err
				}
				if r.Succeeded && r.Results[0].Get != nil {
					return r.Results[0].Get.Node.Data, nil
				}
				continue // another consumer took it
			}
		} else {
			g, err := q.c.Get(ctx, "/", corral.WithStatOnly())
			if err != nil {
				return nil, err
			}
			rev = g.Header.Revision
		}
		if err := waitFor(ctx, q.c, nil, q.path, corral.ScopeChildren, rev, func(ev corral.Event) bool {
			return ev.Type == corral.Created
		}); err != nil {
			return nil, err
		}
	}
}
