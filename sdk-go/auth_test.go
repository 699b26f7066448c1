package corral_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/internal/testcluster"
)

const (
	rootPassword = "root-secret"
	// tokenTTL is the lifetime of the tokens of startAuth's servers: short, so tests
	// run across refreshes.
	tokenTTL = 2 * time.Second
)

// startAuth starts a member issuing 2 s tokens, with auth enabled and the user root.
func startAuth(t *testing.T) *testcluster.Cluster {
	t.Helper()
	cl := testcluster.StartWith(t, 1, testcluster.Options{Args: []string{"--auth-token-ttl-ms", strconv.Itoa(int(tokenTTL.Milliseconds()))}})
	anonymous := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	if err := anonymous.Auth().UserAdd(ctx, "root", rootPassword); err != nil {
		t.Fatal(err)
	}
	if err := anonymous.Auth().Enable(ctx); err != nil {
		t.Fatal(err)
	}
	return cl
}

// calls counts what a client's calls went through: Authenticate calls and attempts
// refused as UNAUTHENTICATED (an interceptor inside the client's own).
type calls struct {
	authenticates atomic.Int64
	mu            sync.Mutex
	refused       []string    // the messages of UNAUTHENTICATED answers
	times         []time.Time // when each Authenticate was sent
}

func (c *calls) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if method == "/corral.v1.Auth/Authenticate" {
		c.authenticates.Add(1)
		c.mu.Lock()
		c.times = append(c.times, time.Now())
		c.mu.Unlock()
	}
	err := invoker(ctx, method, req, reply, cc, opts...)
	if status.Code(err) == codes.Unauthenticated && method != "/corral.v1.Auth/Authenticate" {
		c.mu.Lock()
		c.refused = append(c.refused, status.Convert(err).Message())
		c.mu.Unlock()
	}
	return err
}

func (c *calls) refusals() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.refused)
}

func connectWith(t testing.TB, cfg corral.Config) *corral.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := corral.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func connectAs(t testing.TB, cl *testcluster.Cluster, user, password string, counter *calls) *corral.Client {
	t.Helper()
	cfg := corral.Config{Endpoints: cl.Endpoints(), Username: user, Password: password}
	if counter != nil {
		cfg.DialOptions = []grpc.DialOption{grpc.WithChainUnaryInterceptor(counter.unary)}
	}
	return connectWith(t, cfg)
}

func TestAuthCallsTypedErrorsAndACLs(t *testing.T) {
	cl := startAuth(t)
	ctx := testCtx(t)
	root := connectAs(t, cl, "root", rootPassword, nil)
	st, err := root.Auth().Status(ctx)
	if err != nil || !st.Enabled || st.User != "root" || st.TokenTTL != tokenTTL {
		t.Fatalf("status: %+v %v", st, err)
	}

	// Anonymous, and a wrong password: unauthenticated, with the reason.
	anonymous := connect(t, cl.Endpoints()...)
	_, err = anonymous.Get(ctx, "/")
	if !errors.Is(err, corral.ErrUnauthenticated) || !errors.Is(err, corral.ErrAuthRequired) {
		t.Fatalf("anonymous get: %v", err)
	}
	wrong := connectAs(t, cl, "root", "not-the-password", nil)
	_, err = wrong.Get(ctx, "/")
	if !errors.Is(err, corral.ErrBadCredentials) || !errors.Is(err, corral.ErrUnauthenticated) {
		t.Fatalf("wrong password: %v", err)
	}

	// Users and roles.
	auth := root.Auth()
	if err := auth.UserAdd(ctx, "alice", "alice-pw"); err != nil {
		t.Fatal(err)
	}
	if err := auth.UserAdd(ctx, "alice", "x"); !errors.Is(err, corral.ErrUserExists) {
		t.Fatalf("second UserAdd: %v", err)
	}
	if err := auth.RoleAdd(ctx, "readers"); err != nil {
		t.Fatal(err)
	}
	if err := auth.RoleAdd(ctx, "readers"); !errors.Is(err, corral.ErrRoleExists) {
		t.Fatalf("second RoleAdd: %v", err)
	}
	if err := auth.UserGrantRole(ctx, "alice", "readers"); err != nil {
		t.Fatal(err)
	}
	if err := auth.UserGrantRole(ctx, "alice", "nope"); !errors.Is(err, corral.ErrRoleNotFound) {
		t.Fatalf("grant of a missing role: %v", err)
	}
	users, err := auth.UserList(ctx)
	if err != nil || !slices.ContainsFunc(users, func(u corral.User) bool { return u.Name == "alice" && slices.Equal(u.Roles, []string{"readers"}) }) {
		t.Fatalf("users: %+v %v", users, err)
	}
	roles, err := auth.RoleList(ctx)
	if err != nil || !slices.Contains(roles, "readers") {
		t.Fatalf("roles: %v %v", roles, err)
	}
	if err := auth.UserDelete(ctx, "root"); !errors.Is(err, corral.ErrRootRequired) {
		t.Fatalf("deleting root: %v", err)
	}
	if err := auth.UserDelete(ctx, "nobody"); !errors.Is(err, corral.ErrUserNotFound) {
		t.Fatalf("deleting a missing user: %v", err)
	}

	// ACLs: readers may read /team, nothing else; a child takes its parent's ACL.
	acl := []corral.ACLEntry{corral.RoleACL("readers", corral.PermRead), corral.UserACL("bob", corral.PermRead|corral.PermWrite)}
	if _, err := root.Create(ctx, "/team", []byte("v0"), corral.WithACL(acl...)); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Create(ctx, "/team/child", nil); err != nil {
		t.Fatal(err)
	}
	got, err := root.GetACL(ctx, "/team/child")
	if err != nil || !slices.Equal(got.ACL, acl) || got.Stat.ACLVersion != 0 {
		t.Fatalf("inherited ACL: %+v %v", got, err)
	}
	alice := connectAs(t, cl, "alice", "alice-pw", nil)
	if r, err := alice.Get(ctx, "/team"); err != nil || string(r.Node.Data) != "v0" {
		t.Fatalf("alice reads: %+v %v", r, err)
	}
	_, err = alice.Put(ctx, "/team", []byte("v1"))
	var denied *corral.PermissionDeniedError
	if !errors.Is(err, corral.ErrPermissionDenied) || !errors.As(err, &denied) ||
		denied.Path != "/team" || denied.Permission != "write" || denied.User != "alice" {
		t.Fatalf("alice writes: %v (%+v)", err, denied)
	}
	if _, err := alice.Auth().UserList(ctx); !errors.As(err, &denied) || denied.Permission != "root" || denied.Path != "" {
		t.Fatalf("alice lists users: %v (%+v)", err, denied)
	}
	if r, err := root.Get(ctx, "/team"); err != nil || string(r.Node.Data) != "v0" || r.Node.Stat.Version != 0 {
		t.Fatalf("after the refusal: %+v %v", r, err)
	}

	// SetACL with compare-and-set on the ACL version.
	set, err := root.SetACL(ctx, "/team", []corral.ACLEntry{corral.AnyoneACL(corral.PermRead)}, corral.WithExpectedACLVersion(0))
	if err != nil || set.Stat.ACLVersion != 1 {
		t.Fatalf("set ACL: %+v %v", set, err)
	}
	_, err = root.SetACL(ctx, "/team", acl, corral.WithExpectedACLVersion(0))
	var mismatch *corral.ACLVersionMismatchError
	if !errors.Is(err, corral.ErrACLVersionMismatch) || !errors.As(err, &mismatch) || mismatch.Current != 1 || mismatch.Expected != 0 || mismatch.Path != "/team" {
		t.Fatalf("stale set ACL: %v", err)
	}
	got, err = root.GetACL(ctx, "/team")
	if err != nil || len(got.ACL) != 1 || got.ACL[0] != corral.AnyoneACL(corral.PermRead) || got.Stat.ACLVersion != 1 {
		t.Fatalf("ACL after: %+v %v", got, err)
	}
	if _, err := root.GetACL(ctx, "/none"); !errors.Is(err, corral.ErrNotFound) {
		t.Fatalf("ACL of a missing znode: %v", err)
	}

	// A token for another client.
	tok, err := auth.Authenticate(ctx, "alice", "alice-pw")
	if err != nil || tok.TTL != tokenTTL || tok.Token == "" {
		t.Fatalf("authenticate: %v %v", tok, err)
	}
	if s := fmt.Sprintf("%v %+v", *tok, tok); strings.Contains(s, tok.Token) {
		t.Fatalf("a printed Token shows the token: %s", s)
	}
	byToken := connectWith(t, corral.Config{Endpoints: cl.Endpoints(), Token: tok.Token})
	if st, err := byToken.Auth().Status(ctx); err != nil || st.User != "alice" || !slices.Equal(st.Roles, []string{"readers"}) {
		t.Fatalf("status by token: %+v %v", st, err)
	}
}

// Calls, a keepalive and a watch go on for 5 s with 2 s tokens: tokens are refreshed
// before they expire, so no call is ever refused.
func TestTokensAreRefreshedBeforeTheyExpire(t *testing.T) {
	cl := startAuth(t)
	ctx := testCtx(t)
	root := connectAs(t, cl, "root", rootPassword, nil)
	if err := root.Auth().UserAdd(ctx, "busy", "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Create(ctx, "/busy", nil, corral.WithACL(corral.UserACL("busy", corral.PermAll))); err != nil {
		t.Fatal(err)
	}
	var counter calls
	c := connectAs(t, cl, "busy", "pw", &counter)
	lease, err := c.Grant(ctx, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	keepalives, err := c.KeepAlive(kctx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	wch, err := c.Watch(ctx, "/busy")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n := 0
	for time.Since(start) < 5*time.Second {
		if _, err := c.Put(ctx, "/busy", []byte(strconv.Itoa(n))); err != nil {
			t.Fatalf("put %d after %v: %v", n, time.Since(start), err)
		}
		r := <-wch
		if r.Err != nil || len(r.Events) != 1 || string(r.Events[0].Node.Data) != strconv.Itoa(n) {
			t.Fatalf("watch after put %d: %+v", n, r)
		}
		n++
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := c.TimeToLive(ctx, lease.ID); err != nil {
		t.Fatalf("lease lost while kept alive across token refreshes: %v", err)
	}
	select {
	case _, ok := <-keepalives:
		if !ok {
			t.Fatal("keepalive channel closed")
		}
	default:
	}
	if r := counter.refusals(); len(r) != 0 {
		t.Fatalf("calls refused (tokens not refreshed in time): %q", r)
	}
	if a := counter.authenticates.Load(); a < 3 {
		t.Fatalf("%d Authenticate calls in 5 s of 2 s tokens", a)
	}
	// Each token was replaced at about 80% of its life: before it expired, not after.
	counter.mu.Lock()
	defer counter.mu.Unlock()
	for i := 1; i < len(counter.times); i++ {
		if gap := counter.times[i].Sub(counter.times[i-1]); gap < tokenTTL/2 || gap >= tokenTTL {
			t.Errorf("token %d replaced %v after the one before (lifetime %v)", i, gap, tokenTTL)
		}
	}
}

// A user's password change revokes their tokens: a ready token cannot recover, the old
// password gets no new one, the client that changed its own password goes on.
func TestTokenRevokedByAPasswordChange(t *testing.T) {
	cl := startAuth(t)
	ctx := testCtx(t)
	root := connectAs(t, cl, "root", rootPassword, nil)
	if err := root.Auth().UserAdd(ctx, "dave", "pw-1"); err != nil {
		t.Fatal(err)
	}
	tok, err := root.Auth().Authenticate(ctx, "dave", "pw-1")
	if err != nil {
		t.Fatal(err)
	}
	byToken := connectWith(t, corral.Config{Endpoints: cl.Endpoints(), Token: tok.Token})
	oldPassword := connectAs(t, cl, "dave", "pw-1", nil)
	changer := connectAs(t, cl, "dave", "pw-1", nil)
	for _, c := range []*corral.Client{byToken, oldPassword, changer} {
		if st, err := c.Auth().Status(ctx); err != nil || st.User != "dave" {
			t.Fatalf("before: %+v %v", st, err)
		}
	}
	if err := changer.Auth().UserChangePassword(ctx, "dave", "pw-2"); err != nil {
		t.Fatal(err)
	}
	_, err = byToken.Auth().Status(ctx)
	var e *corral.Error
	if !errors.Is(err, corral.ErrTokenRevoked) || !errors.As(err, &e) || e.User() != "dave" {
		t.Fatalf("ready token after the change: %v", err)
	}
	if _, err := oldPassword.Auth().Status(ctx); !errors.Is(err, corral.ErrBadCredentials) {
		t.Fatalf("old password after the change: %v", err)
	}
	if st, err := changer.Auth().Status(ctx); err != nil || st.User != "dave" {
		t.Fatalf("changer after the change: %+v %v", st, err)
	}
}

func TestConcurrentCallsShareOneAuthenticate(t *testing.T) {
	cl := startAuth(t)
	var counter calls
	c := connectAs(t, cl, "root", rootPassword, &counter)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	start := make(chan struct{})
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := c.Get(ctx, "/")
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if a := counter.authenticates.Load(); a != 1 {
		t.Fatalf("%d Authenticate calls for 16 concurrent first calls", a)
	}
}

// A client whose token the server refuses (here one it cannot verify) gets a new one,
// once, for calls and for streams: watches, observers and keepalives reopen with it.
func TestARefusedTokenIsReplacedForCallsAndStreams(t *testing.T) {
	cl := startAuth(t)
	ctx := testCtx(t)
	root := connectAs(t, cl, "root", rootPassword, nil)
	bad := "v1.AAAA.BBBB"
	refusedClient := func(counter *calls) *corral.Client {
		cfg := corral.Config{Endpoints: cl.Endpoints(), Username: "root", Password: rootPassword, Token: bad}
		if counter != nil {
			cfg.DialOptions = []grpc.DialOption{grpc.WithChainUnaryInterceptor(counter.unary)}
		}
		return connectWith(t, cfg)
	}

	var counter calls
	if _, err := refusedClient(&counter).Get(ctx, "/"); err != nil {
		t.Fatal(err)
	}
	if r := counter.refusals(); len(r) != 1 || counter.authenticates.Load() != 1 {
		t.Fatalf("refusals %q, %d authenticates", r, counter.authenticates.Load())
	}
	// Without a password a refused token is the answer.
	onlyToken := connectWith(t, corral.Config{Endpoints: cl.Endpoints(), Token: bad})
	if _, err := onlyToken.Get(ctx, "/"); !errors.Is(err, corral.ErrInvalidToken) {
		t.Fatalf("bad ready token: %v", err)
	}

	// A watch whose first stream is refused (no unary call came first).
	put, err := root.Put(ctx, "/refused", []byte("1"), corral.WithCreateIfMissing())
	if err != nil {
		t.Fatal(err)
	}
	wch, err := refusedClient(nil).Watch(ctx, "/refused", corral.WithStartRevision(put.Header.Revision))
	if err != nil {
		t.Fatal(err)
	}
	if r := <-wch; r.Err != nil || len(r.Events) != 1 || string(r.Events[0].Node.Data) != "1" {
		t.Fatalf("watch: %+v", r)
	}
	obs, err := refusedClient(nil).Observe(ctx, "/refused-election")
	if err != nil {
		t.Fatal(err)
	}
	if r := <-obs; r.Err != nil || r.Leader != nil {
		t.Fatalf("observe: %+v", r)
	}
	lease, err := root.Grant(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := refusedClient(nil).KeepAliveOnce(ctx, lease.ID); err != nil {
		t.Fatalf("keepalive: %v", err)
	}
}

// A client with credentials works against a cluster with auth off (no token to get),
// and authenticates once auth is turned on.
func TestAClientWithCredentialsFollowsAuthBeingTurnedOn(t *testing.T) {
	cl := testcluster.Start(t, 1)
	ctx := testCtx(t)
	c := connectAs(t, cl, "root", "pw", nil)
	if _, err := c.Put(ctx, "/before", []byte("1"), corral.WithCreateIfMissing()); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth().Enable(ctx); !errors.Is(err, corral.ErrRootRequired) {
		t.Fatalf("enable without root: %v", err)
	}
	if err := c.Auth().UserAdd(ctx, "root", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth().Enable(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Auth().Status(ctx); err != nil || st.User != "root" || !st.Enabled {
		t.Fatalf("after enable: %+v %v", st, err)
	}
	if err := c.Auth().Disable(ctx); err != nil {
		t.Fatal(err)
	}
	// A client that started while auth was off (so it holds no token) is refused for
	// want of one once another client turns auth on: it authenticates then.
	other := connectAs(t, cl, "root", "pw", nil)
	if st, err := other.Auth().Status(ctx); err != nil || st.Enabled || st.User != "" {
		t.Fatalf("after disable: %+v %v", st, err)
	}
	if err := c.Auth().Enable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Get(ctx, "/before"); err != nil {
		t.Fatalf("get after another client enabled auth: %v", err)
	}
	if st, err := other.Auth().Status(ctx); err != nil || st.User != "root" {
		t.Fatalf("status after another client enabled auth: %+v %v", st, err)
	}
}

func TestConfigRejectsHalfCredentialsAndMixedSchemes(t *testing.T) {
	ctx := testCtx(t)
	for _, cfg := range []corral.Config{
		{Endpoints: []string{"127.0.0.1:1"}, Password: "pw"},
		{Endpoints: []string{"127.0.0.1:1"}, Username: "u"},
		{Endpoints: []string{"http://127.0.0.1:1"}, TLS: &tls.Config{MinVersion: tls.VersionTLS12}},
	} {
		if c, err := corral.New(ctx, cfg); err == nil {
			_ = c.Close()
			t.Errorf("accepted %+v", cfg)
		}
	}
}

// The server ends a watch at its next event once its token is revoked (a password
// change): the client that knows the new password resumes it from that event; one
// with the old password ends it with ErrBadCredentials.
func TestAWatchEndedByAPasswordChangeResumesOrFailsTyped(t *testing.T) {
	cl := startAuth(t)
	ctx := testCtx(t)
	root := connectAs(t, cl, "root", rootPassword, nil)
	if err := root.Auth().UserAdd(ctx, "erin", "pw-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Create(ctx, "/erin", nil, corral.WithACL(corral.UserACL("erin", corral.PermRead))); err != nil {
		t.Fatal(err)
	}
	changer := connectAs(t, cl, "erin", "pw-1", nil)
	stale := connectAs(t, cl, "erin", "pw-1", nil)
	resumed, err := changer.Watch(ctx, "/erin")
	if err != nil {
		t.Fatal(err)
	}
	ended, err := stale.Watch(ctx, "/erin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Put(ctx, "/erin", []byte("1")); err != nil {
		t.Fatal(err)
	}
	for _, w := range []corral.WatchChan{resumed, ended} {
		if r := <-w; r.Err != nil || len(r.Events) != 1 || string(r.Events[0].Node.Data) != "1" {
			t.Fatalf("before: %+v", r)
		}
	}
	if err := changer.Auth().UserChangePassword(ctx, "erin", "pw-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Put(ctx, "/erin", []byte("2")); err != nil {
		t.Fatal(err)
	}
	if r := <-resumed; r.Err != nil || len(r.Events) != 1 || string(r.Events[0].Node.Data) != "2" {
		t.Fatalf("resumed watch: %+v", r)
	}
	if r := <-ended; !errors.Is(r.Err, corral.ErrBadCredentials) {
		t.Fatalf("watch of the old password: %+v", r)
	}
	if _, ok := <-ended; ok {
		t.Fatal("watch channel open after its error")
	}
}
