// Package concurrency holds the coordination recipes built on a Session (a lease
// kept alive): Mutex with fencing tokens, RWMutex, Semaphore, Election, Barrier,
// DoubleBarrier and Queue. Everything a recipe holds is bound to its session's lease,
// so it is released when the process dies or the session ends, and each recipe says
// so (Done) instead of going on as if it still held it.
package concurrency

import (
	"context"
	"errors"
	"sync"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
)

// DefaultTTL is the time to live of a session's lease unless WithTTL says otherwise.
const DefaultTTL = 10 * time.Second

var (
	// ErrSessionExpired: the session's lease ended (expired, revoked, or could not be
	// kept alive for a whole TTL); what was bound to it is gone.
	ErrSessionExpired = errors.New("concurrency: session expired")
	// ErrSessionClosed: the session was closed by its owner.
	ErrSessionClosed = errors.New("concurrency: session closed")
	// ErrLocked: TryLock found the lock held by another session.
	ErrLocked = errors.New("concurrency: locked by another session")
	// ErrNotHeld: Unlock or Release of something this recipe does not hold.
	ErrNotHeld = errors.New("concurrency: not held")
	// ErrNotLeader: Proclaim or Resign without leading.
	ErrNotLeader = errors.New("concurrency: not the leader")
)

// SessionOption configures NewSession.
type SessionOption func(*sessionOptions)

type sessionOptions struct {
	ttl   time.Duration
	lease int64
}

// WithTTL sets the lease's time to live (default DefaultTTL, at least 1 s). The
// session is lost at most one TTL after its process dies or is cut off.
func WithTTL(ttl time.Duration) SessionOption { return func(o *sessionOptions) { o.ttl = ttl } }

// WithExistingLease keeps an existing lease alive as the session instead of granting one.
func WithExistingLease(id int64) SessionOption {
	return func(o *sessionOptions) { o.lease = id }
}

// Session is a lease kept alive in the background (every TTL/3, on whichever member
// answers). Done is closed when the session ends: its lease was lost (the server said
// it ended, or no keepalive succeeded for a whole TTL), or it was closed or orphaned.
// A Session is safe for concurrent use.
type Session struct {
	client *corral.Client
	id     int64
	ttl    time.Duration
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error // why it ended, once it has
}

// NewSession grants a lease (or takes WithExistingLease's) and starts keeping it
// alive; ctx bounds only the grant and the first keepalive.
func NewSession(ctx context.Context, client *corral.Client, opts ...SessionOption) (*Session, error) {
	o := sessionOptions{ttl: DefaultTTL}
	for _, f := range opts {
		f(&o)
	}
	id := o.lease
	if id == 0 {
		g, err := client.Grant(ctx, o.ttl)
		if err != nil {
			return nil, err
		}
		id, o.ttl = g.ID, g.TTL
	}
	kctx, cancel := context.WithCancel(context.Background())
	// The first keepalive answers within ctx; later ones are bounded by the session.
	first, err := client.KeepAliveOnce(ctx, id)
	if err != nil {
		cancel()
		return nil, err
	}
	o.ttl = first.TTL
	ch, err := client.KeepAlive(kctx, id)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &Session{client: client, id: id, ttl: o.ttl, cancel: cancel, done: make(chan struct{})}
	go func() {
		for range ch {
		}
		// The channel closes when the lease is lost or the keepalives were stopped.
		s.finish(ErrSessionExpired)
	}()
	return s, nil
}

func (s *Session) finish(why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = why
		close(s.done)
	}
}

// Client is the client the session was made with.
func (s *Session) Client() *corral.Client { return s.client }

// Lease is the session's lease: bind ephemeral znodes, locks and campaigns to it.
func (s *Session) Lease() int64 { return s.id }

// TTL is the lease's time to live.
func (s *Session) TTL() time.Duration { return s.ttl }

// Done is closed when the session ends (lost, closed or orphaned).
func (s *Session) Done() <-chan struct{} { return s.done }

// Err is nil while the session lasts, then ErrSessionExpired if it was lost or
// ErrSessionClosed if its owner closed or orphaned it.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops the keepalives and revokes the lease: its ephemeral znodes are deleted
// and its locks and leaderships released at once. A lease that already ended is not
// an error.
func (s *Session) Close(ctx context.Context) error {
	s.finish(ErrSessionClosed)
	s.cancel()
	if _, err := s.client.Revoke(ctx, s.id); err != nil && !errors.Is(err, corral.ErrLeaseNotFound) {
		return err
	}
	return nil
}

// Orphan stops the keepalives without revoking the lease: what is bound to it lasts
// until the TTL runs out, as if the process had crashed.
func (s *Session) Orphan() {
	s.finish(ErrSessionClosed)
	s.cancel()
}

// sessionCtx is ctx, also cancelled when the session ends; stop releases it.
func (s *Session) sessionCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// endedErr turns an error of a call cut short because the session ended into the
// session's error.
func (s *Session) endedErr(err error) error {
	if err == nil {
		return nil
	}
	if serr := s.Err(); serr != nil {
		return serr
	}
	if errors.Is(err, corral.ErrLeaseNotFound) || errors.Is(err, corral.ErrEntryGone) {
		return ErrSessionExpired
	}
	return err
}
