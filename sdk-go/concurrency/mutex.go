package concurrency

import (
	"context"
	"errors"
	"sync"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
)

// Mutex is a distributed lock held by a Session, served by the server's fair (FIFO)
// Lock service, with a fencing token. One session holds a lock at most once: two
// Mutexes of one session on one name share the hold (use a session per contender).
type Mutex struct {
	s    *Session
	name string

	mu    sync.Mutex
	key   string
	token int64
	rev   int64
	lost  chan struct{} // closed when the current hold ends
	stop  context.CancelFunc
}

// NewMutex returns the mutex name (an absolute path, e.g. "/locks/db") on session s.
func NewMutex(s *Session, name string) *Mutex { return &Mutex{s: s, name: name} }

// Lock waits until the session holds the lock. It fails with ErrSessionExpired if the
// session ends first (at once if it already has), and with ctx's error if ctx ends
// first (leaving no place in the queue).
func (m *Mutex) Lock(ctx context.Context) error { return m.lock(ctx) }

// TryLock takes the lock if it is free, else fails with ErrLocked at once (leaving no
// place in the queue).
func (m *Mutex) TryLock(ctx context.Context) error {
	err := m.lock(ctx, corral.WithWaitTimeout(time.Millisecond))
	if errors.Is(err, corral.ErrWaitTimeout) {
		return ErrLocked
	}
	return err
}

func (m *Mutex) lock(ctx context.Context, opts ...corral.Option) error {
	if err := m.s.Err(); err != nil {
		return err
	}
	sctx, cancel := m.s.sessionCtx(ctx)
	defer cancel()
	held, err := m.s.client.Lock(sctx, m.name, m.s.id, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return m.s.endedErr(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stop != nil {
		m.stop()
	}
	m.key, m.token, m.rev = held.Key, held.FencingToken, held.Header.Revision
	m.lost = make(chan struct{})
	wctx, stop := context.WithCancel(context.Background())
	m.stop = stop
	go watchHold(wctx, m.s, held.Key, held.FencingToken, m.lost)
	return nil
}

// watchHold closes lost when key is deleted (by the lease's end or anyone) or the
// session ends; it returns when ctx is cancelled (Unlock).
func watchHold(ctx context.Context, s *Session, key string, createRev int64, lost chan struct{}) {
	defer close(lost)
	// The watch ends with the hold, not only at Unlock.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wch, err := s.client.Watch(ctx, key, corral.WithStartRevision(createRev+1), corral.WithFilter(corral.Updated))
	if err != nil {
		select {
		case <-s.done:
		case <-ctx.Done():
		}
		return
	}
	for {
		select {
		case <-s.done:
			return
		case r, ok := <-wch:
			if !ok || r.Err != nil {
				return
			}
			for _, ev := range r.Events {
				if ev.Type == corral.Deleted {
					return
				}
			}
		}
	}
}

// Unlock releases the lock held by this Mutex. Unlocking a hold that already ended
// (the session was lost) succeeds. The server releases a hold only by its own key
// and lease, so an Unlock retried late never releases a newer hold of the same
// session (which has another key).
func (m *Mutex) Unlock(ctx context.Context) error {
	m.mu.Lock()
	key, stop := m.key, m.stop
	m.mu.Unlock()
	if key == "" {
		return ErrNotHeld
	}
	if _, err := m.s.client.Unlock(ctx, key, m.s.id); err != nil && !errors.Is(err, corral.ErrLeaseNotFound) {
		return err
	}
	m.mu.Lock()
	if m.key == key {
		m.key, m.token, m.stop = "", 0, nil
	}
	m.mu.Unlock()
	if stop != nil {
		stop()
	}
	return nil
}

// FencingToken is the token of the current hold (0 if none): strictly increasing for
// each new holder of the lock. Pass it to the protected resource, which must reject
// requests with a lower token than one it has seen.
func (m *Mutex) FencingToken() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.token
}

// Key is the holder's znode of the current hold ("" if none).
func (m *Mutex) Key() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.key
}

// Revision is the header revision at which the current hold was granted (0 before the first Lock).
func (m *Mutex) Revision() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rev
}

// Done is closed when the current hold ends without Unlock: the session ended or the
// holder's znode was deleted. A holder must stop using the resource then. It is nil
// before the first Lock; after Unlock it is closed too.
func (m *Mutex) Done() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lost
}
