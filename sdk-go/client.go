package corral

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
)

// DefaultPort is the port of a member's client API when an endpoint names none.
const DefaultPort = 2479

// DefaultDialTimeout is how long New waits for a connection when Config.DialTimeout is 0.
const DefaultDialTimeout = 5 * time.Second

// maxAttemptsWithoutDeadline bounds the attempts of a call whose ctx has no deadline
// (with one, attempts go on until it).
const maxAttemptsWithoutDeadline = 20

// maxResponseBytes is the largest response accepted: a page of a listing with data can
// be far above gRPC's 4 MiB default (znodes hold up to 1 MiB each by default).
const maxResponseBytes = 256 << 20

// Config configures a Client.
type Config struct {
	// Endpoints are the members' client addresses, "host:port", "http://host:port" or
	// "https://host:port" (port 2479 if omitted). At least one is required.
	Endpoints []string
	// TLS, when set, connects to the members over TLS with this configuration: its
	// RootCAs verify them (nil: the system's roots), its Certificates are the client
	// certificate for mTLS (a server started with --tls-client-ca then takes its CN as
	// the user), ServerName overrides the name expected on their certificates.
	// NewTLSConfig builds one from PEM files. "https://" endpoints without it use TLS
	// with the system's roots.
	TLS *tls.Config
	// Username and Password authenticate the client as that user: it gets a token
	// (Auth/Authenticate) before its first call, sends it on every call and stream as
	// "authorization: Bearer <token>", refreshes it before it runs out, and
	// authenticates again once when a call is refused for its token (expired, or
	// revoked by a password change). Against a cluster with auth off it sends none.
	Username string
	Password string
	// Token is a ready token (from Auth.Authenticate) to send instead; with Username
	// and Password as well, they get the next one when it is refused.
	Token string
	// DialTimeout is how long New waits for a first connection. Default 5 s.
	DialTimeout time.Duration
	// DisableExactlyOnce turns off request ids on writes. With them (the default) a
	// write whose outcome is unknown (connection cut, leader lost) is sent again and
	// the server applies it once; without them such a write fails with an error for
	// which IsOutcomeUnknown is true.
	DisableExactlyOnce bool
	// DialOptions are added to the gRPC dial options of every member's connection.
	DialOptions []grpc.DialOption
}

// Client is a connection to a Corral cluster: one gRPC connection per endpoint, calls
// going to one member at a time and moving to the next when it cannot serve them.
// Every member accepts every call, so no leader handling is needed. A Client is safe
// for concurrent use; Close it when done.
type Client struct {
	conns   []*grpc.ClientConn
	addrs   []string
	current atomic.Int64
	lanes   *lanes  // nil when exactly-once writes are off
	tokens  *tokens // nil when the client sends no credentials

	ctx    context.Context // cancelled by Close: ends watches and keepalives
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines (watches, keepalives)
}

// New connects to the cluster: it returns once a connection to one of the endpoints
// is up (within Config.DialTimeout and ctx), with connections to the others made on
// first use. ctx bounds only the connecting.
func New(ctx context.Context, cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("corral: Config.Endpoints is empty")
	}
	addrs := make([]string, len(cfg.Endpoints))
	tlsConfig := cfg.TLS
	for i, e := range cfg.Endpoints {
		a, scheme, err := parseEndpoint(e)
		if err != nil {
			return nil, err
		}
		switch {
		case scheme == "https" && tlsConfig == nil:
			tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		case scheme == "http" && cfg.TLS != nil:
			return nil, fmt.Errorf("corral: endpoint %q is http:// but Config.TLS is set; use https:// or host:port", e)
		}
		addrs[i] = a
	}
	if cfg.Password != "" && cfg.Username == "" {
		return nil, errors.New("corral: Config.Password is set without Config.Username")
	}
	if cfg.Username != "" && cfg.Password == "" && cfg.Token == "" {
		return nil, errors.New("corral: Config.Username is set without Config.Password (or Config.Token)")
	}
	dialTimeout := cfg.DialTimeout
	if dialTimeout <= 0 {
		dialTimeout = DefaultDialTimeout
	}
	transport := insecure.NewCredentials()
	if tlsConfig != nil {
		transport = credentials.NewTLS(tlsConfig)
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		// A member that died or froze without closing its sockets is noticed by
		// streams and long waits.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxResponseBytes)),
	}
	c := &Client{addrs: addrs, tokens: newTokens(cfg)}
	if c.tokens != nil {
		opts = append(opts, grpc.WithChainUnaryInterceptor(c.tokens.unary), grpc.WithChainStreamInterceptor(c.tokens.stream))
	}
	opts = append(opts, cfg.DialOptions...)
	for _, a := range addrs {
		conn, err := grpc.NewClient(a, opts...)
		if err != nil {
			c.closeConns()
			return nil, fmt.Errorf("corral: endpoint %q: %w", a, err)
		}
		c.conns = append(c.conns, conn)
	}
	if !cfg.DisableExactlyOnce {
		c.lanes = newLanes()
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	first, err := c.connectFirst(dctx)
	if err != nil {
		c.closeConns()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("corral: %w", ctx.Err())
		}
		return nil, err
	}
	c.current.Store(int64(first))
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// connectFirst starts connecting to every endpoint and returns the index of the first
// (in the order given) that is up once any is.
func (c *Client) connectFirst(ctx context.Context) (int, error) {
	for _, conn := range c.conns {
		conn.Connect()
	}
	for {
		for i, conn := range c.conns {
			if conn.GetState() == connectivity.Ready {
				return i, nil
			}
		}
		// Wait for any state change, polling (one waiter per connection would leak).
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, &Error{Code: codes.Unavailable, Message: fmt.Sprintf("cannot connect to any endpoint (%s)", strings.Join(c.addrs, ", ")), sentinel: ErrUnavailable, transport: true}
		case <-t.C:
		}
	}
}

func (c *Client) closeConns() {
	for _, conn := range c.conns {
		_ = conn.Close()
	}
}

// Close ends the client's watches and keepalives and closes its connections.
// Calls under way fail.
func (c *Client) Close() error {
	c.cancel()
	c.wg.Wait()
	var first error
	for _, conn := range c.conns {
		if err := conn.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Endpoints returns the endpoints as host:port, in the order given.
func (c *Client) Endpoints() []string { return append([]string(nil), c.addrs...) }

// CurrentEndpoint is the endpoint (host:port) calls go to now; it moves on when that
// member cannot be reached or cannot serve.
func (c *Client) CurrentEndpoint() string { idx, _ := c.member(); return c.addrs[idx] }

// ClientID is the prefix of this client's request ids ("go-<16 hex digits>"), or ""
// when exactly-once writes are off. Each concurrent write uses <prefix>-<lane>/<seq>.
func (c *Client) ClientID() string {
	if c.lanes == nil {
		return ""
	}
	return c.lanes.prefix
}

// member is the member calls go to now.
func (c *Client) member() (int, *grpc.ClientConn) {
	i := int(c.current.Load()) % len(c.conns)
	return i, c.conns[i]
}

// skip moves off member failed (unless another call already did).
func (c *Client) skip(failed int) {
	c.current.CompareAndSwap(int64(failed), int64((failed+1)%len(c.conns)))
}

// retryKind says how a call may be retried after a failure.
type retryKind int

const (
	// retrySafe: a read, or a call whose repetition changes nothing.
	retrySafe retryKind = iota
	// retryWithRequestID: a write carrying a request id, applied once whatever the retries.
	retryWithRequestID
	// retryUnsafe: a write without a request id: sent again only when certainly not applied.
	retryUnsafe
)

// afterFailure decides whether a failed attempt is sent again (the rules of the Rust
// client's retry.rs): a request that never left the client (no connection) always is;
// one whose connection broke, or that the server answered OUTCOME_UNKNOWN, only if
// repeating it is safe; one the server refused as UNAVAILABLE (certainly not applied)
// always is; anything else is the answer.
func afterFailure(err error, retry retryKind) bool {
	e := asError(err)
	if e == nil {
		return false
	}
	if e.transport {
		if retry != retryUnsafe {
			return true
		}
		return strings.Contains(e.Message, "connection error")
	}
	switch e.sentinel {
	case ErrUnavailable:
		return true
	case ErrOutcomeUnknown:
		return retry != retryUnsafe
	}
	return false
}

// backoff: no pause before the first attempt on each member, then 25 ms doubling to 1 s
// between rounds.
type backoff struct{ next time.Duration }

const (
	backoffFirst = 25 * time.Millisecond
	backoffMax   = time.Second
)

func (b *backoff) pause(ctx context.Context) error {
	if b.next == 0 {
		b.next = backoffFirst
	}
	t := time.NewTimer(b.next)
	defer t.Stop()
	b.next = min(b.next*2, backoffMax)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (b *backoff) reset() { b.next = 0 }

// call sends an RPC with rpc to the current member, and again (to the next member,
// pausing once every member was tried) while afterFailure allows and ctx lasts. A
// retryWithRequestID call carries one request id for all its attempts.
func (c *Client) call(ctx context.Context, path string, retry retryKind, rpc func(ctx context.Context, conn *grpc.ClientConn) error) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	if retry == retryWithRequestID {
		if c.lanes == nil {
			retry = retryUnsafe
		} else {
			lane := c.lanes.take()
			defer c.lanes.give(lane)
			ctx = metadata.AppendToOutgoingContext(ctx, RequestIDHeader, lane.requestID(c.lanes.prefix))
		}
	}
	_, hasDeadline := ctx.Deadline()
	var b backoff
	leftInRound := len(c.conns)
	for attempt := 1; ; attempt++ {
		idx, conn := c.member()
		err := fromStatus(ctx, rpc(ctx, conn), path)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// Our deadline passed on this member (frozen, cut off): the next call goes elsewhere.
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				c.skip(idx)
			}
			return err
		}
		if !afterFailure(err, retry) {
			return err
		}
		c.skip(idx)
		if !hasDeadline && attempt >= maxAttemptsWithoutDeadline {
			return err
		}
		leftInRound--
		if leftInRound == 0 {
			leftInRound = len(c.conns)
			if perr := b.pause(ctx); perr != nil {
				return err
			}
		}
	}
}

// lanes hands out request ids. A write takes a lane (a client id of its own with a
// sequence counter) for its whole life, retries included, and gives it back when
// done; concurrent writes take different lanes. So each lane has at most one write in
// flight, and a retry always carries the newest sequence of its lane: the server,
// which keeps each client id's last 256 results, can never have forgotten it.
type lanes struct {
	prefix string
	mu     sync.Mutex
	free   []lane
	made   uint64
}

type lane struct{ id, seq uint64 }

func newLanes() *lanes {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &lanes{prefix: "go-" + hex.EncodeToString(b[:])}
}

func (l *lanes) take() lane {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := len(l.free); n > 0 {
		ln := l.free[n-1]
		l.free = l.free[:n-1]
		ln.seq++
		return ln
	}
	ln := lane{id: l.made, seq: 1}
	l.made++
	return ln
}

func (l *lanes) give(ln lane) {
	l.mu.Lock()
	l.free = append(l.free, ln)
	l.mu.Unlock()
}

func (ln lane) requestID(prefix string) string {
	return prefix + "-" + strconv.FormatUint(ln.id, 10) + "/" + strconv.FormatUint(ln.seq, 10)
}

// parseEndpoint normalises an endpoint to host:port, and returns its scheme ("http",
// "https", or "" when none was given).
func parseEndpoint(endpoint string) (addr, scheme string, err error) {
	bad := func(why string) error { return fmt.Errorf("corral: invalid endpoint %q: %s", endpoint, why) }
	e := strings.TrimSpace(endpoint)
	if e == "" {
		return "", "", bad("empty endpoint")
	}
	if s, rest, ok := strings.Cut(e, "://"); ok {
		switch s {
		case "http", "https":
			e, scheme = rest, s
		default:
			return "", "", bad(fmt.Sprintf("unsupported scheme %q; use host:port, http://host:port or https://host:port", s))
		}
	}
	e = strings.TrimSuffix(e, "/")
	if e == "" {
		return "", "", bad("missing host")
	}
	if strings.ContainsAny(e, "/?@") {
		return "", "", bad("an endpoint is host:port, without a path, query or user")
	}
	host, port, err := net.SplitHostPort(e)
	if err != nil {
		// No port given.
		if strings.HasPrefix(e, "[") || strings.Count(e, ":") == 0 {
			host, port = strings.Trim(e, "[]"), strconv.Itoa(DefaultPort)
		} else {
			return "", "", bad("not a host:port")
		}
	}
	if host == "" {
		return "", "", bad("missing host")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", "", bad("the port must be a number from 1 to 65535")
	}
	return net.JoinHostPort(host, port), scheme, nil
}
