package concurrency

import (
	"context"
	"errors"
	"path"

	corral "github.com/corral-dev/corral/sdk-go"
)

// Barrier blocks waiters until it is released: it is up while its znode exists.
type Barrier struct {
	c    *corral.Client
	path string
}

// NewBarrier returns the barrier at path.
func NewBarrier(c *corral.Client, path string) *Barrier { return &Barrier{c: c, path: path} }

// Hold raises the barrier (creating its znode, and missing parents); raising a raised
// barrier is not an error.
func (b *Barrier) Hold(ctx context.Context) error {
	_, err := b.c.Create(ctx, b.path, nil, corral.WithCreateParents())
	if err != nil && !errors.Is(err, corral.ErrAlreadyExists) {
		return err
	}
	return nil
}

// Release lowers the barrier, letting every waiter through.
func (b *Barrier) Release(ctx context.Context) error {
	_, err := b.c.Delete(ctx, b.path)
	if err != nil && !errors.Is(err, corral.ErrNotFound) {
		return err
	}
	return nil
}

// Wait returns once the barrier is down (at once if it is not up).
func (b *Barrier) Wait(ctx context.Context) error {
	for {
		g, err := b.c.Get(ctx, b.path, corral.WithStatOnly())
		if errors.Is(err, corral.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := waitFor(ctx, b.c, nil, b.path, corral.ScopeNode, g.Header.Revision, isDeleteOf(b.path)); err != nil {
			return err
		}
	}
}

// DoubleBarrier lets count sessions start a computation together (Enter returns once
// count have entered) and finish it together (Leave returns once all have left).
type DoubleBarrier struct {
	s     *Session
	path  string
	count int
	key   string
}

// NewDoubleBarrier returns the double barrier at path for count participants on session s.
func NewDoubleBarrier(s *Session, path string, count int) *DoubleBarrier {
	return &DoubleBarrier{s: s, path: path, count: count}
}

func (b *DoubleBarrier) ready() string { return b.path + "/ready" }

// Enter registers this session and waits until count sessions have entered.
func (b *DoubleBarrier) Enter(ctx context.Context) error {
	me, err := createEntry(ctx, b.s, b.path+"/waiter-")
	if err != nil {
		return err
	}
	b.key = me.Path
	for {
		l, err := b.s.client.ListAll(ctx, b.path)
		if err != nil {
			return b.s.endedErr(err)
		}
		waiters, isReady := 0, false
		for _, n := range l.Nodes {
			if n.Path == b.ready() {
				isReady = true
			} else {
				waiters++
			}
		}
		if isReady {
			return nil
		}
		if waiters >= b.count {
			if _, err := b.s.client.Create(ctx, b.ready(), nil); err != nil && !errors.Is(err, corral.ErrAlreadyExists) {
				return err
			}
			return nil
		}
		if err := waitFor(ctx, b.s.client, b.s, b.path, corral.ScopeChildren, l.Header.Revision, func(ev corral.Event) bool {
			return ev.Type == corral.Created
		}); err != nil {
			return err
		}
	}
}

// Leave unregisters this session and waits until every participant has left.
func (b *DoubleBarrier) Leave(ctx context.Context) error {
	if b.key == "" {
		return ErrNotHeld
	}
	if _, err := b.s.client.Delete(ctx, b.key); err != nil && !errors.Is(err, corral.ErrNotFound) {
		return err
	}
	b.key = ""
	for {
		l, err := b.s.client.ListAll(ctx, b.path)
		if errors.Is(err, corral.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		waiters := 0
		for _, n := range l.Nodes {
			if n.Path != b.ready() {
				waiters++
			}
		}
		if waiters == 0 {
			if _, err := b.s.client.Delete(ctx, b.ready()); err != nil && !errors.Is(err, corral.ErrNotFound) {
				return err
			}
			return nil
		}
		if err := waitFor(ctx, b.s.client, b.s, b.path, corral.ScopeChildren, l.Header.Revision, func(ev corral.Event) bool {
			return ev.Type == corral.Deleted && path.Base(ev.Node.Path) != "ready"
		}); err != nil {
			return err
		}
	}
}
