package concurrency

import (
	"context"
	"errors"
	"sync"

	corral "github.com/corral-dev/corral/sdk-go"
)

// Semaphore lets at most n sessions hold it at once, served in FIFO order: holders
// are sequential ephemeral children of name; the first n hold.
type Semaphore struct {
	s    *Session
	name string
	n    int

	mu  sync.Mutex
	key string
}

// NewSemaphore returns the semaphore name (an absolute path) of n permits on session s.
// Every user of one semaphore must give the same n.
func NewSemaphore(s *Session, name string, n int) *Semaphore {
	return &Semaphore{s: s, name: name, n: n}
}

// Acquire waits for a permit.
func (m *Semaphore) Acquire(ctx context.Context) error {
	if err := m.s.Err(); err != nil {
		return err
	}
	me, err := createEntry(ctx, m.s, m.name+"/permit-")
	if err != nil {
		return err
	}
	giveUp := func(err error) error {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.s.ttl)
		defer cancel()
		_, _ = m.s.client.Delete(dctx, me.Path)
		return err
	}
	for {
		nodes, rev, err := children(ctx, m.s.client, m.name)
		if err != nil {
			return giveUp(m.s.endedErr(err))
		}
		pos := -1
		for i, n := range nodes {
			if n.Path == me.Path {
				pos = i
			}
		}
		if pos < 0 {
			return giveUp(ErrSessionExpired)
		}
		if pos < m.n {
			m.mu.Lock()
			m.key = me.Path
			m.mu.Unlock()
			return nil
		}
		// Any entry ahead going may give this one a permit.
		ahead := map[string]bool{}
		for _, n := range nodes[:pos] {
			ahead[n.Path] = true
		}
		err = waitFor(ctx, m.s.client, m.s, m.name, corral.ScopeChildren, rev, func(ev corral.Event) bool {
			return ev.Type == corral.Deleted && ahead[ev.Node.Path]
		})
		if err != nil {
			return giveUp(err)
		}
	}
}

// Release gives the permit back.
func (m *Semaphore) Release(ctx context.Context) error {
	m.mu.Lock()
	key := m.key
	m.key = ""
	m.mu.Unlock()
	if key == "" {
		return ErrNotHeld
	}
	if _, err := m.s.client.Delete(ctx, key); err != nil && !errors.Is(err, corral.ErrNotFound) {
		return err
	}
	return nil
}
