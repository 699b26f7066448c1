package concurrency

import (
	"context"
	"errors"
	"sort"
	"strings"

	corral "github.com/corral-dev/corral/sdk-go"
)

// waitFor watches path (scope) from revision after+1 until an event satisfies ok,
// ctx ends, or the session (if any) ends.
func waitFor(ctx context.Context, c *corral.Client, s *Session, path string, scope corral.Scope, after int64, ok func(corral.Event) bool) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch, err := c.Watch(wctx, path, corral.WithScope(scope), corral.WithStartRevision(after+1))
	if err != nil {
		return err
	}
	var done <-chan struct{}
	if s != nil {
		done = s.done
	}
	for {
		select {
		case <-done:
			return s.Err()
		case <-ctx.Done():
			return ctx.Err()
		case r, open := <-wch:
			if !open {
				return ctx.Err()
			}
			if r.Err != nil {
				if errors.Is(r.Err, corral.ErrCompacted) {
					return nil // re-read the state
				}
				return r.Err
			}
			for _, ev := range r.Events {
				if ok(ev) {
					return nil
				}
			}
		}
	}
}

// children lists path's children sorted by their sequence suffix (the last 10 digits),
// with the listing's revision.
func children(ctx context.Context, c *corral.Client, path string) ([]corral.Node, int64, error) {
	l, err := c.ListAll(ctx, path)
	if err != nil {
		return nil, 0, err
	}
	nodes := l.Nodes
	sort.SliceStable(nodes, func(i, j int) bool { return seq(nodes[i].Path) < seq(nodes[j].Path) })
	return nodes, l.Header.Revision, nil
}

// seq is the 10-digit sequence suffix of a sequential znode's path.
func seq(path string) string {
	if len(path) < 10 {
		return path
	}
	return path[len(path)-10:]
}

// ensureContainer makes path exist as a container (parents persistent).
func ensureContainer(ctx context.Context, c *corral.Client, path string) error {
	_, err := c.Create(ctx, path, nil, corral.WithContainer(), corral.WithCreateParents())
	if err != nil && !errors.Is(err, corral.ErrAlreadyExists) {
		return err
	}
	return nil
}

// createEntry creates a sequential ephemeral child prefix (under a container parent)
// bound to s's lease, re-making the parent if the server deleted it meanwhile.
func createEntry(ctx context.Context, s *Session, prefix string) (*corral.CreateResponse, error) {
	parent := prefix[:strings.LastIndex(prefix, "/")]
	for {
		if err := ensureContainer(ctx, s.client, parent); err != nil {
			return nil, err
		}
		r, err := s.client.Create(ctx, prefix, nil, corral.WithSequential(), corral.WithLease(s.id))
		if errors.Is(err, corral.ErrParentNotFound) {
			continue
		}
		return r, s.endedErr(err)
	}
}

func isDeleteOf(path string) func(corral.Event) bool {
	return func(ev corral.Event) bool { return ev.Type == corral.Deleted && ev.Node.Path == path }
}
