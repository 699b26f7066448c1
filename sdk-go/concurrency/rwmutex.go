package concurrency

import (
	"context"
	"errors"
	"strings"
	"sync"

	corral "github.com/corral-dev/corral/sdk-go"
)

// RWMutex is a distributed readers-writer lock on a Session (ZooKeeper's recipe):
// readers and writers queue as sequential ephemeral children of name; a reader holds
// once no writer is ahead of it, a writer once nothing is ahead. Each waiter watches
// only what it waits for.
type RWMutex struct {
	s    *Session
	name string

	mu  sync.Mutex
	key string
}

// NewRWMutex returns the readers-writer lock name (an absolute path) on session s.
func NewRWMutex(s *Session, name string) *RWMutex { return &RWMutex{s: s, name: name} }

// RLock waits for a read hold.
func (m *RWMutex) RLock(ctx context.Context) error { return m.acquire(ctx, "read-") }

// Lock waits for the write hold.
func (m *RWMutex) Lock(ctx context.Context) error { return m.acquire(ctx, "write-") }

func (m *RWMutex) acquire(ctx context.Context, kind string) error {
	if err := m.s.Err(); err != nil {
		return err
	}
	me, err := createEntry(ctx, m.s, m.name+"/"+kind)
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
		// The entry to wait for: the last one ahead that blocks this one.
		var blocker string
		found := false
		for _, n := range nodes {
			if n.Path == me.Path {
				found = true
				break
			}
			if kind == "write-" || strings.Contains(n.Path[len(m.name)+1:], "write-") {
				blocker = n.Path
			}
		}
		if !found {
			return giveUp(ErrSessionExpired)
		}
		if blocker == "" {
			m.mu.Lock()
			m.key = me.Path
			m.mu.Unlock()
			return nil
		}
		if err := waitFor(ctx, m.s.client, m.s, blocker, corral.ScopeNode, rev, isDeleteOf(blocker)); err != nil {
			return giveUp(err)
		}
	}
}

// Unlock releases the read or write hold.
func (m *RWMutex) Unlock(ctx context.Context) error {
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

// RUnlock releases the read hold (the same as Unlock).
func (m *RWMutex) RUnlock(ctx context.Context) error { return m.Unlock(ctx) }
