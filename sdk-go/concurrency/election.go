package concurrency

import (
	"context"
	"errors"
	"sync"

	corral "github.com/corral-dev/corral/sdk-go"
)

// Election is a leader election on a Session, served by the server's Election
// service: campaigners queue in order and the first leads until it resigns or its
// session ends.
type Election struct {
	s    *Session
	name string

	mu     sync.Mutex
	leader *corral.LeaderKey
}

// NewElection returns the election name (an absolute path) on session s.
func NewElection(s *Session, name string) *Election { return &Election{s: s, name: name} }

// Campaign waits until this session leads, publishing value. It fails with
// ErrSessionExpired if the session ends first, and with ctx's error if ctx does.
func (e *Election) Campaign(ctx context.Context, value []byte) error {
	if err := e.s.Err(); err != nil {
		return err
	}
	sctx, cancel := e.s.sessionCtx(ctx)
	defer cancel()
	l, err := e.s.client.Campaign(sctx, e.name, e.s.id, value)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return e.s.endedErr(err)
	}
	e.mu.Lock()
	e.leader = l
	e.mu.Unlock()
	return nil
}

// Proclaim updates the published value while this session still leads; else
// ErrNotLeader.
func (e *Election) Proclaim(ctx context.Context, value []byte) error {
	l := e.Key()
	if l == nil {
		return ErrNotLeader
	}
	if err := e.s.client.Proclaim(ctx, l.Key, e.s.id, value); err != nil {
		if errors.Is(err, corral.ErrNotElectionLeader) || errors.Is(err, corral.ErrNotFound) {
			return ErrNotLeader
		}
		return e.s.endedErr(err)
	}
	e.mu.Lock()
	if e.leader != nil && e.leader.Key == l.Key {
		e.leader.Value = value
	}
	e.mu.Unlock()
	return nil
}

// Resign gives up leadership; resigning when not leading is not an error.
func (e *Election) Resign(ctx context.Context) error {
	l := e.Key()
	if l == nil {
		return nil
	}
	if err := e.s.client.Resign(ctx, l.Key, e.s.id); err != nil && !errors.Is(err, corral.ErrLeaseNotFound) {
		return err
	}
	e.mu.Lock()
	if e.leader != nil && e.leader.Key == l.Key {
		e.leader = nil
	}
	e.mu.Unlock()
	return nil
}

// Leader returns the current leader; corral.ErrNoLeader if there is none.
func (e *Election) Leader(ctx context.Context) (*corral.LeaderKey, error) {
	return e.s.client.Leader(ctx, e.name)
}

// Observe follows the election: the leader now and after every change (nil: none),
// until ctx ends.
func (e *Election) Observe(ctx context.Context) (<-chan corral.ObserveResponse, error) {
	return e.s.client.Observe(ctx, e.name)
}

// Key is this session's leader key after a successful Campaign (nil otherwise).
func (e *Election) Key() *corral.LeaderKey {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.leader == nil {
		return nil
	}
	l := *e.leader
	return &l
}

// Rev is the create revision of this session's leader key (0 if not leading): it
// strictly increases with each new leader, so it fences like a lock's token.
func (e *Election) Rev() int64 {
	if l := e.Key(); l != nil {
		return l.CreateRevision
	}
	return 0
}
