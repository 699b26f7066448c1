package corral

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every error the server raises:
// the proto package's name.
const ErrorDomain = "corral.v1"

// Sentinel errors, one per reason of the server's error contract (ErrorReason in
// proto/corral/v1/common.proto) plus a few of the client's own. Test with errors.Is;
// use errors.As with the typed errors (*Error, *VersionMismatchError, ...) for details.
var (
	// ErrInvalidArgument: the request is invalid (any field); nothing changed. Also
	// matched by every error of code INVALID_ARGUMENT (ErrInvalidPath, ErrDataTooLarge).
	ErrInvalidArgument = errors.New("corral: invalid argument")
	// ErrInvalidPath: a path breaks the path rules.
	ErrInvalidPath = errors.New("corral: invalid path")
	// ErrDataTooLarge: the data is over the server's limit (1 MiB by default).
	ErrDataTooLarge = errors.New("corral: data too large")
	// ErrNotFound: the znode does not exist.
	ErrNotFound = errors.New("corral: znode not found")
	// ErrParentNotFound: the parent of the znode to create does not exist.
	ErrParentNotFound = errors.New("corral: parent not found")
	// ErrLeaseNotFound: the lease does not exist or has ended.
	ErrLeaseNotFound = errors.New("corral: lease not found")
	// ErrMemberNotFound: no member with that id.
	ErrMemberNotFound = errors.New("corral: member not found")
	// ErrNoLeader: the election has no leader.
	ErrNoLeader = errors.New("corral: election has no leader")
	// ErrAlreadyExists: a znode already exists at the path.
	ErrAlreadyExists = errors.New("corral: znode already exists")
	// ErrLeaseExists: a lease with the requested id already exists.
	ErrLeaseExists = errors.New("corral: lease already exists")
	// ErrVersionMismatch: expected_version did not match (see *VersionMismatchError).
	ErrVersionMismatch = errors.New("corral: version mismatch")
	// ErrNotEmpty: a non-recursive delete of a znode with children.
	ErrNotEmpty = errors.New("corral: znode has children")
	// ErrEphemeralParent: ephemeral znodes cannot have children.
	ErrEphemeralParent = errors.New("corral: ephemeral znodes cannot have children")
	// ErrMembership: the membership change is not allowed now.
	ErrMembership = errors.New("corral: membership change not allowed")
	// ErrRequestTooOld: a retried write's request id is older than the results the
	// server keeps; its outcome can no longer be told.
	ErrRequestTooOld = errors.New("corral: request id too old")
	// ErrNotElectionLeader: the key does not lead its election (Proclaim).
	ErrNotElectionLeader = errors.New("corral: not the election leader")
	// ErrEntryGone: the caller's queue entry was deleted while it waited.
	ErrEntryGone = errors.New("corral: queue entry gone")
	// ErrNotQueueEntry: Unlock, Resign or Proclaim named a key that is not a queue entry.
	ErrNotQueueEntry = errors.New("corral: not a queue entry")
	// ErrNotEntryOwner: the queue entry is held by another lease.
	ErrNotEntryOwner = errors.New("corral: queue entry held by another lease")
	// ErrUnavailable: the member cannot serve the request now (no leader, not leader,
	// shutting down, unreachable). Also matched by ErrOutcomeUnknown errors.
	ErrUnavailable = errors.New("corral: unavailable")
	// ErrOutcomeUnknown: the write may or may not have been applied. The client
	// retries writes with their request id itself; this is what is left when it could not.
	ErrOutcomeUnknown = errors.New("corral: outcome unknown")
	// ErrTimeout: the server gave up at the call's deadline.
	ErrTimeout = errors.New("corral: timed out")
	// ErrWaitTimeout: Lock or Campaign waited its wait timeout; it left no queue entry.
	ErrWaitTimeout = errors.New("corral: wait timeout")
	// ErrInternal: a failure inside the server.
	ErrInternal = errors.New("corral: internal error")
	// ErrCompacted: a watch's position is no longer in the history (see *CompactedError).
	ErrCompacted = errors.New("corral: revision compacted")
	// ErrPermissionDenied: the caller may not do this; nothing changed (see
	// *PermissionDeniedError). Also matched by every error of code PERMISSION_DENIED.
	ErrPermissionDenied = errors.New("corral: permission denied")
	// ErrUnauthenticated: the call carries no valid credentials; nothing changed. Also
	// matched by every error of code UNAUTHENTICATED (ErrAuthRequired, ErrInvalidToken,
	// ErrTokenExpired, ErrTokenRevoked, ErrBadCredentials).
	ErrUnauthenticated = errors.New("corral: unauthenticated")
	// ErrAuthRequired: auth is enabled and the call carried no credentials.
	ErrAuthRequired = errors.New("corral: credentials required")
	// ErrInvalidToken: the token is malformed or does not verify (another cluster's).
	ErrInvalidToken = errors.New("corral: invalid token")
	// ErrTokenExpired: the token has expired. A client with a password re-authenticates
	// by itself; this is what is left when that did not help.
	ErrTokenExpired = errors.New("corral: token expired")
	// ErrTokenRevoked: the token's user was deleted or changed password since.
	ErrTokenRevoked = errors.New("corral: token revoked")
	// ErrBadCredentials: wrong user name or password.
	ErrBadCredentials = errors.New("corral: wrong user name or password")
	// ErrACLVersionMismatch: SetACL's expected ACL version did not match (see
	// *ACLVersionMismatchError).
	ErrACLVersionMismatch = errors.New("corral: ACL version mismatch")
	// ErrUserNotFound: no user with that name.
	ErrUserNotFound = errors.New("corral: user not found")
	// ErrUserExists: a user with that name already exists.
	ErrUserExists = errors.New("corral: user already exists")
	// ErrRoleNotFound: no role with that name.
	ErrRoleNotFound = errors.New("corral: role not found")
	// ErrRoleExists: a role with that name already exists.
	ErrRoleExists = errors.New("corral: role already exists")
	// ErrRootRequired: auth needs the user root (Enable is refused until it exists,
	// and root cannot be deleted while auth is enabled).
	ErrRootRequired = errors.New("corral: the root user is required")
	// ErrResourceExhausted: a quota or limit of the server was reached.
	ErrResourceExhausted = errors.New("corral: resource exhausted")
	// ErrUnsupported: the server does not implement the call.
	ErrUnsupported = errors.New("corral: not supported by this server")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("corral: client closed")
	// ErrInvalidResponse: the server's answer lacked a field the API promises.
	ErrInvalidResponse = errors.New("corral: invalid response from server")
)

// reasonSentinels maps the generated ErrorReason values to the sentinels. A reason
// missing here (a newer server's) is typed by its status code.
var reasonSentinels = map[pb.ErrorReason]error{
	pb.ErrorReason_INVALID_PATH:         ErrInvalidPath,
	pb.ErrorReason_INVALID_ARGUMENT:     ErrInvalidArgument,
	pb.ErrorReason_DATA_TOO_LARGE:       ErrDataTooLarge,
	pb.ErrorReason_NODE_NOT_FOUND:       ErrNotFound,
	pb.ErrorReason_PARENT_NOT_FOUND:     ErrParentNotFound,
	pb.ErrorReason_LEASE_NOT_FOUND:      ErrLeaseNotFound,
	pb.ErrorReason_MEMBER_NOT_FOUND:     ErrMemberNotFound,
	pb.ErrorReason_NO_LEADER:            ErrNoLeader,
	pb.ErrorReason_NODE_EXISTS:          ErrAlreadyExists,
	pb.ErrorReason_LEASE_EXISTS:         ErrLeaseExists,
	pb.ErrorReason_VERSION_MISMATCH:     ErrVersionMismatch,
	pb.ErrorReason_NOT_EMPTY:            ErrNotEmpty,
	pb.ErrorReason_EPHEMERAL_PARENT:     ErrEphemeralParent,
	pb.ErrorReason_MEMBERSHIP:           ErrMembership,
	pb.ErrorReason_REQUEST_TOO_OLD:      ErrRequestTooOld,
	pb.ErrorReason_NOT_ELECTION_LEADER:  ErrNotElectionLeader,
	pb.ErrorReason_ENTRY_GONE:           ErrEntryGone,
	pb.ErrorReason_NOT_QUEUE_ENTRY:      ErrNotQueueEntry,
	pb.ErrorReason_NOT_ENTRY_OWNER:      ErrNotEntryOwner,
	pb.ErrorReason_NOT_LEADER:           ErrUnavailable,
	pb.ErrorReason_UNAVAILABLE:          ErrUnavailable,
	pb.ErrorReason_OUTCOME_UNKNOWN:      ErrOutcomeUnknown,
	pb.ErrorReason_TIMEOUT:              ErrTimeout,
	pb.ErrorReason_WAIT_TIMEOUT:         ErrWaitTimeout,
	pb.ErrorReason_INTERNAL:             ErrInternal,
	pb.ErrorReason_AUTH_REQUIRED:        ErrAuthRequired,
	pb.ErrorReason_INVALID_TOKEN:        ErrInvalidToken,
	pb.ErrorReason_TOKEN_EXPIRED:        ErrTokenExpired,
	pb.ErrorReason_TOKEN_REVOKED:        ErrTokenRevoked,
	pb.ErrorReason_BAD_CREDENTIALS:      ErrBadCredentials,
	pb.ErrorReason_PERMISSION_DENIED:    ErrPermissionDenied,
	pb.ErrorReason_ACL_VERSION_MISMATCH: ErrACLVersionMismatch,
	pb.ErrorReason_USER_NOT_FOUND:       ErrUserNotFound,
	pb.ErrorReason_USER_EXISTS:          ErrUserExists,
	pb.ErrorReason_ROLE_NOT_FOUND:       ErrRoleNotFound,
	pb.ErrorReason_ROLE_EXISTS:          ErrRoleExists,
	pb.ErrorReason_ROOT_REQUIRED:        ErrRootRequired,
}

// requiredMetadata lists, per reason, the metadata a typed error is built from; a
// reason whose metadata is missing or malformed is not trusted and typed by its code.
var requiredMetadata = map[pb.ErrorReason][]pb.ErrorMetadataKey{
	pb.ErrorReason_NODE_NOT_FOUND:   {pb.ErrorMetadataKey_PATH},
	pb.ErrorReason_NODE_EXISTS:      {pb.ErrorMetadataKey_PATH},
	pb.ErrorReason_VERSION_MISMATCH: {pb.ErrorMetadataKey_PATH, pb.ErrorMetadataKey_EXPECTED_VERSION, pb.ErrorMetadataKey_CURRENT_VERSION},
	pb.ErrorReason_NOT_EMPTY:        {pb.ErrorMetadataKey_PATH, pb.ErrorMetadataKey_NUM_CHILDREN},
	pb.ErrorReason_ACL_VERSION_MISMATCH: {pb.ErrorMetadataKey_PATH, pb.ErrorMetadataKey_EXPECTED_VERSION,
		pb.ErrorMetadataKey_CURRENT_VERSION},
	pb.ErrorReason_PERMISSION_DENIED: {pb.ErrorMetadataKey_PERMISSION},
}

// numericKeys are metadata values that must parse as integers when present.
var numericKeys = []pb.ErrorMetadataKey{
	pb.ErrorMetadataKey_EXPECTED_VERSION, pb.ErrorMetadataKey_CURRENT_VERSION,
	pb.ErrorMetadataKey_NUM_CHILDREN, pb.ErrorMetadataKey_LEASE_ID, pb.ErrorMetadataKey_MEMBER_ID,
}

// codeSentinels types a status without a (usable) ErrorInfo by its code.
var codeSentinels = map[codes.Code]error{
	codes.InvalidArgument:   ErrInvalidArgument,
	codes.OutOfRange:        ErrInvalidArgument,
	codes.NotFound:          ErrNotFound,
	codes.AlreadyExists:     ErrAlreadyExists,
	codes.Unavailable:       ErrUnavailable,
	codes.DeadlineExceeded:  ErrTimeout,
	codes.PermissionDenied:  ErrPermissionDenied,
	codes.Unauthenticated:   ErrUnauthenticated,
	codes.ResourceExhausted: ErrResourceExhausted,
	codes.Unimplemented:     ErrUnsupported,
	codes.Internal:          ErrInternal,
	codes.DataLoss:          ErrInternal,
}

// metadataKey is the ErrorInfo metadata key of an ErrorMetadataKey value: its name
// in lower case (PATH -> "path").
func metadataKey(k pb.ErrorMetadataKey) string { return strings.ToLower(k.String()) }

// headerName is the gRPC metadata header of a MetadataHeader value: its name in lower
// case with '-' for '_' (CORRAL_REQUEST_ID -> "corral-request-id").
func headerName(h pb.MetadataHeader) string {
	return strings.ReplaceAll(strings.ToLower(h.String()), "_", "-")
}

// RequestIDHeader is the metadata header carrying a write's request id,
// "<client-id>/<sequence>".
var RequestIDHeader = headerName(pb.MetadataHeader_CORRAL_REQUEST_ID)

// LeaderIDHeader is the metadata header of a NOT_LEADER error naming the leader's Raft id.
var LeaderIDHeader = headerName(pb.MetadataHeader_CORRAL_LEADER_ID)

// AuthorizationHeader is the metadata header carrying the caller's token,
// "Bearer <token>"; the client sets it on every call and stream.
var AuthorizationHeader = headerName(pb.MetadataHeader_AUTHORIZATION)

// Error is an error answered by the server (or raised by the client's transport),
// with the status code, the ErrorInfo reason and metadata. errors.Is matches it
// against the sentinel of its reason (or of its code when it has no known reason).
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// Reason is the ErrorInfo reason (an ErrorReason name), "" if none was given.
	Reason string
	// Message is the server's explanation, for people.
	Message string
	// Metadata is the ErrorInfo metadata (keys: ErrorMetadataKey names in lower case).
	Metadata map[string]string
	// Path is the znode path concerned: the one the server named, else the request's.
	Path string

	sentinel error
	// transport is set for failures raised by the client's own stack (no connection,
	// connection broken mid-call): a write may or may not have been applied.
	transport bool
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("corral: ")
	if e.Reason != "" {
		b.WriteString(e.Reason)
	} else {
		b.WriteString(e.Code.String())
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is reports whether target is the sentinel of this error's reason, or a sentinel
// this one refines: ErrInvalidArgument for INVALID_ARGUMENT codes, ErrUnavailable
// for OUTCOME_UNKNOWN, ErrUnauthenticated for every UNAUTHENTICATED reason,
// ErrPermissionDenied for PERMISSION_DENIED codes.
func (e *Error) Is(target error) bool {
	if target == nil {
		return false
	}
	if target == e.sentinel {
		return true
	}
	switch target {
	case ErrInvalidArgument:
		return e.Code == codes.InvalidArgument
	case ErrUnavailable:
		return e.Code == codes.Unavailable
	case ErrUnauthenticated:
		return e.Code == codes.Unauthenticated
	case ErrPermissionDenied:
		return e.Code == codes.PermissionDenied
	}
	return false
}

// User is the user name the server gave with the error (auth errors), "" if none.
func (e *Error) User() string { return e.Metadata[metadataKey(pb.ErrorMetadataKey_USER)] }

// GRPCStatus returns the status the error was made from, for status.FromError.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// metadataInt is an integer of the metadata, and whether it was there.
func (e *Error) metadataInt(k pb.ErrorMetadataKey) (int64, bool) {
	v, ok := e.Metadata[metadataKey(k)]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil
}

// VersionMismatchError is returned (wrapped reason VERSION_MISMATCH) when a write's
// expected version did not match; nothing changed.
type VersionMismatchError struct {
	// Path of the znode.
	Path string
	// Expected is the version the request expected.
	Expected int64
	// Current is the znode's version at the time.
	Current int64
	// Err is the underlying error (errors.Is(err, ErrVersionMismatch)).
	Err *Error
}

func (e *VersionMismatchError) Error() string {
	return fmt.Sprintf("corral: version mismatch on %s: expected %d, current %d", e.Path, e.Expected, e.Current)
}

// Unwrap returns the underlying *Error.
func (e *VersionMismatchError) Unwrap() error { return e.Err }

// NotEmptyError is returned when a non-recursive delete meets children.
type NotEmptyError struct {
	// Path of the znode.
	Path string
	// NumChildren it had.
	NumChildren int64
	// Err is the underlying error (errors.Is(err, ErrNotEmpty)).
	Err *Error
}

func (e *NotEmptyError) Error() string {
	return fmt.Sprintf("corral: %s has %d children", e.Path, e.NumChildren)
}

// Unwrap returns the underlying *Error.
func (e *NotEmptyError) Unwrap() error { return e.Err }

// NotLeaderError is returned when a member could not serve a request and named the
// leader (reason NOT_LEADER); errors.Is(err, ErrUnavailable).
type NotLeaderError struct {
	// LeaderID is the leader's Raft id (0 if unknown).
	LeaderID uint64
	// LeaderAddr is the leader's client address, "" if unknown.
	LeaderAddr string
	// Err is the underlying error.
	Err *Error
}

func (e *NotLeaderError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying *Error.
func (e *NotLeaderError) Unwrap() error { return e.Err }

// ACLVersionMismatchError is returned (reason ACL_VERSION_MISMATCH) when SetACL's
// expected ACL version did not match; the ACL was not changed.
type ACLVersionMismatchError struct {
	// Path of the znode.
	Path string
	// Expected is the ACL version the request expected.
	Expected int64
	// Current is the znode's ACL version (Stat.ACLVersion) at the time.
	Current int64
	// Err is the underlying error (errors.Is(err, ErrACLVersionMismatch)).
	Err *Error
}

func (e *ACLVersionMismatchError) Error() string {
	return fmt.Sprintf("corral: ACL version mismatch on %s: expected %d, current %d", e.Path, e.Expected, e.Current)
}

// Unwrap returns the underlying *Error.
func (e *ACLVersionMismatchError) Unwrap() error { return e.Err }

// PermissionDeniedError is returned (reason PERMISSION_DENIED) when the caller lacks a
// permission; nothing changed. errors.Is(err, ErrPermissionDenied).
type PermissionDeniedError struct {
	// Path of the znode the permission was needed on; "" when the call needs the root user.
	Path string
	// Permission that was missing: "read", "write", "create", "delete", "admin"; "root"
	// for a call only root may make, "lease" for another user's lease.
	Permission string
	// User is the caller as the server saw it.
	User string
	// Err is the underlying error.
	Err *Error
}

func (e *PermissionDeniedError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("corral: permission denied: user %q lacks %s", e.User, e.Permission)
	}
	return fmt.Sprintf("corral: permission denied: user %q lacks %s on %s", e.User, e.Permission, e.Path)
}

// Unwrap returns the underlying *Error.
func (e *PermissionDeniedError) Unwrap() error { return e.Err }

// CompactedError ends a watch whose position is no longer in the server's history:
// re-read the state, then watch from CompactRevision+1. errors.Is(err, ErrCompacted).
type CompactedError struct {
	// CompactRevision is the newest compacted revision.
	CompactRevision int64
	// Message is the server's explanation.
	Message string
}

func (e *CompactedError) Error() string {
	return fmt.Sprintf("corral: revision compacted (through %d): %s", e.CompactRevision, e.Message)
}

// Is matches ErrCompacted.
func (e *CompactedError) Is(target error) bool { return target == ErrCompacted }

// fromStatus maps a failed call's error to the SDK's errors. ctx errors pass through
// (wrapped) so errors.Is(err, context.Canceled / DeadlineExceeded) works.
func fromStatus(ctx context.Context, err error, requestPath string) error {
	if err == nil {
		return nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("corral: %w", ctxErr)
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &Error{Code: st.Code(), Message: st.Message(), Path: requestPath}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok && i.GetDomain() == ErrorDomain {
			info = i
			break
		}
	}
	if info == nil && (st.Code() == codes.Canceled || st.Code() == codes.DeadlineExceeded) {
		// A server enforcing the call's deadline (grpc-timeout) may answer just before
		// the client's own timer fires: that is the ctx's deadline.
		if d, ok := ctx.Deadline(); ok && time.Until(d) < 100*time.Millisecond {
			return fmt.Errorf("corral: %s: %w", st.Message(), context.DeadlineExceeded)
		}
		e.sentinel = ErrTimeout
		return e
	}
	if info == nil {
		// Raised by the client's own stack (a server's error always carries ErrorInfo):
		// no connection, or the connection broke.
		e.transport = st.Code() == codes.Unavailable || st.Code() == codes.Canceled || st.Code() == codes.Internal
		e.sentinel = codeSentinels[st.Code()]
		if st.Code() == codes.FailedPrecondition {
			e.sentinel = nil
		}
		return e
	}
	e.Reason = info.GetReason()
	e.Metadata = info.GetMetadata()
	if p, ok := e.Metadata[metadataKey(pb.ErrorMetadataKey_PATH)]; ok {
		e.Path = p
	}
	reason, known := pb.ErrorReason_value[e.Reason]
	r := pb.ErrorReason(reason)
	if !known || !e.trusted(r) {
		e.sentinel = codeSentinels[st.Code()]
		return e
	}
	e.sentinel = reasonSentinels[r]
	switch r {
	case pb.ErrorReason_VERSION_MISMATCH:
		exp, _ := e.metadataInt(pb.ErrorMetadataKey_EXPECTED_VERSION)
		cur, _ := e.metadataInt(pb.ErrorMetadataKey_CURRENT_VERSION)
		return &VersionMismatchError{Path: e.Path, Expected: exp, Current: cur, Err: e}
	case pb.ErrorReason_NOT_EMPTY:
		n, _ := e.metadataInt(pb.ErrorMetadataKey_NUM_CHILDREN)
		return &NotEmptyError{Path: e.Path, NumChildren: n, Err: e}
	case pb.ErrorReason_ACL_VERSION_MISMATCH:
		exp, _ := e.metadataInt(pb.ErrorMetadataKey_EXPECTED_VERSION)
		cur, _ := e.metadataInt(pb.ErrorMetadataKey_CURRENT_VERSION)
		return &ACLVersionMismatchError{Path: e.Path, Expected: exp, Current: cur, Err: e}
	case pb.ErrorReason_PERMISSION_DENIED:
		// The server's path (empty for root-only calls), not the request's.
		return &PermissionDeniedError{Path: e.Metadata[metadataKey(pb.ErrorMetadataKey_PATH)],
			Permission: e.Metadata[metadataKey(pb.ErrorMetadataKey_PERMISSION)], User: e.User(), Err: e}
	case pb.ErrorReason_NOT_LEADER:
		id, _ := strconv.ParseUint(e.Metadata[metadataKey(pb.ErrorMetadataKey_LEADER_ID)], 10, 64)
		return &NotLeaderError{LeaderID: id, LeaderAddr: e.Metadata[metadataKey(pb.ErrorMetadataKey_LEADER_ADDR)], Err: e}
	}
	return e
}

// trusted reports whether the reason's required metadata is there and well-formed.
func (e *Error) trusted(r pb.ErrorReason) bool {
	for _, k := range requiredMetadata[r] {
		if _, ok := e.Metadata[metadataKey(k)]; !ok {
			return false
		}
	}
	for _, k := range numericKeys {
		if _, present := e.Metadata[metadataKey(k)]; present {
			if _, ok := e.metadataInt(k); !ok {
				return false
			}
		}
	}
	return true
}

// asError is the *Error inside err, if any.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsOutcomeUnknown reports whether a write that failed with err may nevertheless have
// been applied: the outcome is unknown, the connection broke, or time ran out.
func IsOutcomeUnknown(err error) bool {
	if errors.Is(err, ErrOutcomeUnknown) || errors.Is(err, ErrRequestTooOld) || errors.Is(err, ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	e := asError(err)
	return e != nil && e.transport
}
