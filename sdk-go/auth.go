package corral

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// refreshAt is the share of a token's lifetime after which it is refreshed: a call
// never leaves with a token about to expire on the way (the contract's ~20% left).
const refreshAt = 0.8

// authenticateMethod needs no token (it is how one is got).
const authenticateMethod = "/corral.v1.Auth/Authenticate"

// tokens is the client's token and what is known of it, shared by every call and
// stream of the client. The interceptors (installed on every member's connection,
// the one place tokens are handled) send it as "authorization: Bearer <token>",
// authenticate lazily before the first call, refresh it once less than 20% of its
// lifetime is left, and, when a call is refused for its token (invalid, expired,
// revoked), drop it and send the call once more with a new one. Concurrent calls share
// one Authenticate. A password and a token are never logged nor put in an error.
type tokens struct {
	username string

	mu       sync.Mutex
	password string // "" with a ready token only: nothing to refresh it with
	token    string
	gen      uint64    // bumped with every new token, so a refusal drops only the token it concerns
	refresh  time.Time // zero: unknown lifetime (a ready token)
	expires  time.Time
	off      bool    // the cluster has auth disabled: no token to get or send
	flight   *flight // the Authenticate under way
}

// flight is one Authenticate, waited for by the calls that need its token.
type flight struct {
	done chan struct{}
	err  error // set before done is closed
}

func newTokens(cfg Config) *tokens {
	if cfg.Username == "" && cfg.Token == "" {
		return nil
	}
	t := &tokens{username: cfg.Username, password: cfg.Password, token: cfg.Token}
	if cfg.Token != "" {
		t.gen = 1
	}
	return t
}

func (t *tokens) canAuthenticate() bool { return t != nil && t.username != "" && t.password != "" }

// noAuthKey marks the context of the client's own auth calls (Authenticate and the
// Status that follows a refusal), which carry no token.
type noAuthKey struct{}

func noAuth(ctx context.Context) context.Context {
	// Without the caller's metadata either (the request id of the call that needed it).
	return context.WithValue(metadata.NewOutgoingContext(ctx, metadata.MD{}), noAuthKey{}, true)
}

func skipAuth(ctx context.Context, method string) bool {
	return method == authenticateMethod || ctx.Value(noAuthKey{}) != nil
}

func withToken(ctx context.Context, token string) context.Context {
	if token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, AuthorizationHeader, "Bearer "+token)
}

// get returns the token to send now ("" for none) and its generation, authenticating
// on cc first when there is no usable token or it is due for a refresh. While a
// still-valid token is refreshed, other calls go on with it; without one they wait
// for the refresh under way and share its outcome.
func (t *tokens) get(ctx context.Context, cc *grpc.ClientConn) (string, uint64, error) {
	for {
		t.mu.Lock()
		if t.off {
			t.mu.Unlock()
			return "", 0, nil
		}
		now := time.Now()
		token, gen := t.token, t.gen
		if token != "" && !t.expires.IsZero() && !now.Before(t.expires) {
			token = ""
		}
		due := t.password != "" && (token == "" || (!t.refresh.IsZero() && !now.Before(t.refresh)))
		if !due {
			t.mu.Unlock()
			return token, gen, nil
		}
		if f := t.flight; f != nil {
			t.mu.Unlock()
			if token != "" {
				return token, gen, nil
			}
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", 0, ctx.Err()
			}
			// The starter's own deadline is no reason to fail this call: try again.
			if f.err != nil && !errors.Is(f.err, context.Canceled) && !errors.Is(f.err, context.DeadlineExceeded) &&
				status.Code(f.err) != codes.DeadlineExceeded && status.Code(f.err) != codes.Canceled {
				return "", 0, f.err
			}
			continue
		}
		f := &flight{done: make(chan struct{})}
		t.flight = f
		password := t.password
		t.mu.Unlock()

		f.err = t.authenticate(ctx, cc, password)
		t.mu.Lock()
		t.flight = nil
		t.mu.Unlock()
		close(f.done)
		if f.err != nil {
			if token != "" {
				// A refresh ahead of time failed (member down, say): the token still
				// works, and the next call tries again.
				return token, gen, nil
			}
			return "", 0, f.err
		}
	}
}

// authenticate gets a token for the client's user on cc. A cluster with auth off
// issues no tokens and needs none: Authenticate refuses with INVALID_ARGUMENT (as it
// does a malformed name), and Status tells which.
func (t *tokens) authenticate(ctx context.Context, cc *grpc.ClientConn, password string) error {
	sent := time.Now()
	resp, err := pb.NewAuthClient(cc).Authenticate(noAuth(ctx), &pb.AuthenticateRequest{Name: t.username, Password: password})
	if status.Code(err) == codes.InvalidArgument {
		st, serr := pb.NewAuthClient(cc).Status(noAuth(ctx), &pb.AuthStatusRequest{})
		if serr == nil && !st.GetEnabled() {
			t.mu.Lock()
			t.off, t.token = true, ""
			t.mu.Unlock()
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.token, t.off = resp.GetToken(), false
	t.gen++
	// The lifetime counts from when the request left, so the client never thinks the
	// token lives longer than the server does.
	if ttl := fromMs(resp.GetTtlMs()); ttl > 0 {
		t.refresh = sent.Add(time.Duration(float64(ttl) * refreshAt))
		t.expires = sent.Add(ttl)
	} else {
		t.refresh, t.expires = time.Time{}, time.Time{}
	}
	return nil
}

// refused reports whether err (a call's status) refused the token of gen (or its
// absence, !sent) in a way a new token cures, and drops that token if so: a client
// with a password then authenticates again. A client that sent no token sent none
// because auth was off; AUTH_REQUIRED says it is on now.
func (t *tokens) refused(err error, gen uint64, sent bool) bool {
	if !t.canAuthenticate() || !tokenRefusal(err) {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !sent {
		t.off = false
	} else if gen == t.gen {
		t.token = ""
	}
	return true
}

// authEnabled records that this client turned auth on: if it went without a token
// while auth was off, its next call authenticates (instead of waiting for a refusal,
// which Status, answered to anonymous callers too, would never give).
func (t *tokens) authEnabled() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.off = false
	t.mu.Unlock()
}

// passwordChanged keeps user's new password if it is the client's own (the change
// revoked its token, so that is dropped too).
func (t *tokens) passwordChanged(user, password string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.username == user && t.password != "" {
		t.password, t.token = password, ""
	}
}

// tokenReasons are the UNAUTHENTICATED reasons a new token cures.
var tokenReasons = map[string]bool{
	pb.ErrorReason_AUTH_REQUIRED.String(): true,
	pb.ErrorReason_INVALID_TOKEN.String(): true,
	pb.ErrorReason_TOKEN_EXPIRED.String(): true,
	pb.ErrorReason_TOKEN_REVOKED.String(): true,
}

// tokenRefusal reports whether a gRPC status error refuses a call's token (or its
// lack of one) for a reason a new token cures.
func tokenRefusal(err error) bool {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unauthenticated {
		return false
	}
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok && i.GetDomain() == ErrorDomain {
			return tokenReasons[i.GetReason()]
		}
	}
	return false
}

// unary is the unary interceptor: the token on the call, and one more attempt with a
// new token when the first is refused for it.
func (t *tokens) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if skipAuth(ctx, method) {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	for retried := false; ; retried = true {
		token, gen, err := t.get(ctx, cc)
		if err != nil {
			return err
		}
		err = invoker(withToken(ctx, token), method, req, reply, cc, opts...)
		if err == nil || retried || !t.refused(err, gen, token != "") {
			return err
		}
	}
}

// stream is the stream interceptor: the token on the stream. A stream refused for
// its token drops it; the stream's owner (a watch, an observer, a keepalive) reopens
// it, and the reopened stream carries a new one (see Client.newTokenCures).
func (t *tokens) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if skipAuth(ctx, method) {
		return streamer(ctx, desc, cc, method, opts...)
	}
	token, gen, err := t.get(ctx, cc)
	if err != nil {
		return nil, err
	}
	s, err := streamer(withToken(ctx, token), desc, cc, method, opts...)
	if err != nil {
		t.refused(err, gen, token != "")
		return nil, err
	}
	return &tokenStream{ClientStream: s, t: t, gen: gen, sent: token != ""}, nil
}

// tokenStream notices a refusal of its token on any receive.
type tokenStream struct {
	grpc.ClientStream
	t    *tokens
	gen  uint64
	sent bool
}

func (s *tokenStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.t.refused(err, s.gen, s.sent)
	}
	return err
}

// newTokenCures reports whether a stream that failed with err (mapped) is to be
// reopened at once, on the same member, with a new token: the client can
// authenticate, and the refusal is one a new token cures. Streams allow it once in
// a row, so a refusal a new token does not cure ends them.
func (c *Client) newTokenCures(err error) bool {
	if !c.tokens.canAuthenticate() {
		return false
	}
	return errors.Is(err, ErrTokenExpired) || errors.Is(err, ErrTokenRevoked) || errors.Is(err, ErrInvalidToken) ||
		errors.Is(err, ErrAuthRequired)
}

// Auth is the auth management API of a client (Client.Auth): turning auth on and
// off, tokens, users and roles. Every call but Authenticate and Status needs the
// root user once auth is enabled (a user may change their own password). Changes
// carry the client's request id, so a retried one is applied once.
type Auth struct{ c *Client }

// Auth returns the client's auth management API.
func (c *Client) Auth() *Auth { return &Auth{c: c} }

// AuthStatus is whether auth is enabled, and who the answering member takes the caller to be.
type AuthStatus struct {
	Header  Header
	Enabled bool
	// User is the caller's user name; "" when anonymous (always while auth is off).
	User string
	// Roles are the caller's roles.
	Roles []string
	// TokenTTL is the lifetime of the tokens the member issues.
	TokenTTL time.Duration
}

// User is a user and their roles (in name order).
type User struct {
	Name  string
	Roles []string
}

// Token is a token from Authenticate, for another client's Config.Token.
type Token struct {
	Header Header
	// Token to send as "authorization: Bearer <token>".
	Token string
	// TTL is how long it stays valid from when it was issued.
	TTL time.Duration
}

// String leaves the token itself out, so that it does not end up in logs.
func (t Token) String() string { return "corral.Token{TTL: " + t.TTL.String() + "}" }

func (a *Auth) change(ctx context.Context, rpc func(context.Context, pb.AuthClient) error) error {
	return a.c.call(ctx, "", retryWithRequestID, func(ctx context.Context, conn *grpc.ClientConn) error {
		return rpc(ctx, pb.NewAuthClient(conn))
	})
}

// Enable turns auth on; fails with ErrRootRequired until the user root exists.
func (a *Auth) Enable(ctx context.Context) error {
	err := a.change(ctx, func(ctx context.Context, cl pb.AuthClient) error {
		_, err := cl.Enable(ctx, &pb.AuthEnableRequest{})
		return err
	})
	if err == nil {
		a.c.tokens.authEnabled()
	}
	return err
}

// Disable turns auth off: every call is then allowed.
func (a *Auth) Disable(ctx context.Context) error {
	return a.change(ctx, func(ctx context.Context, cl pb.AuthClient) error {
		_, err := cl.Disable(ctx, &pb.AuthDisableRequest{})
		return err
	})
}

// Status reports whether auth is enabled and who the server takes this client to be.
func (a *Auth) Status(ctx context.Context) (*AuthStatus, error) {
	var r *pb.AuthStatusResponse
	err := a.c.call(ctx, "", retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		r, err = pb.NewAuthClient(conn).Status(ctx, &pb.AuthStatusRequest{})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &AuthStatus{Header: headerFrom(r.GetHeader()), Enabled: r.GetEnabled(), User: r.GetUser(),
		Roles: r.GetRoles(), TokenTTL: fromMs(r.GetTokenTtlMs())}, nil
}

// Authenticate returns a token for user name (for another client's Config.Token);
// this client's own token is not changed. Fails with ErrBadCredentials.
func (a *Auth) Authenticate(ctx context.Context, name, password string) (*Token, error) {
	var r *pb.AuthenticateResponse
	err := a.c.call(ctx, "", retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		r, err = pb.NewAuthClient(conn).Authenticate(ctx, &pb.AuthenticateRequest{Name: name, Password: password})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Token{Header: headerFrom(r.GetHeader()), Token: r.GetToken(), TTL: fromMs(r.GetTtlMs())}, nil
}

// UserAdd adds a user with a password. Fails with ErrUserExists.
func (a *Auth) UserAdd(ctx context.Context, name, password string) error {
	return a.change(ctx, func(ctx context.Context, cl pb.AuthClient) error {
		_, err := cl.UserAdd(ctx, &pb.AuthUserAddRequest{Name: name, Password: password})
		return err
	})
}

// UserDelete deletes a user; their tokens stop working at once. Fails with ErrUserNotFound.
func (a *Auth) UserDelete(ctx context.Context, name string) error {
	return a.change(ctx, func(ctx context.Context, cl pb.AuthClient) error {
		_, err := cl.UserDelete(ctx, &pb.AuthUserDeleteRequest{Name: name})
		return err
	})
}

// UserList lists the users and their roles, in name order.
func (a *Auth) UserList(ctx context.Context) ([]User, error) {
	var r *pb.AuthUserListResponse
	err := a.c.call(ctx, "", retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		r, err = pb.NewAuthClient(conn).UserList(ctx, &pb.AuthUserListRequest{})
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]User, 0, len(r.GetUsers()))
	for _, u := range r.GetUsers() {
		out = append(out, User{Name: u.GetName(), Roles: u.GetRoles()})
	}
	return out, nil
}

// UserChangePassword sets a user's password; their earlier tokens stop working at
// once. When name is this client's own user, the client keeps the new password.
func (a *Auth) UserChangePassword(ctx context.Context, name, password string) error {
	err := a.change(ctx, func(ctx context.Context, cl pb.AuthClient) error {
		_, err := cl.UserChangePassword(ctx, &pb.AuthUserChangePasswordRequest{Name: name, Password: password})
		return err
	})
	if err == nil {
		a.c.tokens.passwordChanged(name, password)
	}
	return err
}

// UserGrantRole gives a user a role (nothing happens if they have it). Fails with
// ErrUserNotFound, ErrRoleNotFound.
func (a *Auth) UserGrantRole(ctx context.Context, name, role string) error {
	return a.change(ctx, func(ctx context.Context, cl pb.AuthClient) error {
		_, err := cl.UserGrantRole(ctx, &pb.AuthUserGrantRoleRequest{Name: name, Role: role})
		return err
	})
}

// UserRevokeRole takes a role from a user (nothing happens if they lack it).
func (a *Auth) UserRevokeRole(ctx context.Context, name, role string) error {
	return a.change(ctx, func(ctx context.Context, cl pb.AuthClient) error {
		_, err := cl.UserRevokeRole(ctx, &pb.AuthUserRevokeRoleRequest{Name: name, Role: role})
		return err
	})
}

// RoleAdd adds a role. Fails with ErrRoleExists.
func (a *Auth) RoleAdd(ctx context.Context, name string) error {
	return a.change(ctx, func(ctx context.Context, cl pb.AuthClient) error {
		_, err := cl.RoleAdd(ctx, &pb.AuthRoleAddRequest{Name: name})
		return err
	})
}

// RoleDelete deletes a role and takes it from every user. Fails with ErrRoleNotFound.
func (a *Auth) RoleDelete(ctx context.Context, name string) error {
	return a.change(ctx, func(ctx context.Context, cl pb.AuthClient) error {
		_, err := cl.RoleDelete(ctx, &pb.AuthRoleDeleteRequest{Name: name})
		return err
	})
}

// RoleList lists the role names in order.
func (a *Auth) RoleList(ctx context.Context) ([]string, error) {
	var r *pb.AuthRoleListResponse
	err := a.c.call(ctx, "", retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		r, err = pb.NewAuthClient(conn).RoleList(ctx, &pb.AuthRoleListRequest{})
		return err
	})
	if err != nil {
		return nil, err
	}
	return r.GetRoles(), nil
}
