package corral

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

func statusWith(code codes.Code, reason string, md map[string]string) error {
	st, err := status.New(code, "message for "+reason).WithDetails(&errdetails.ErrorInfo{Domain: ErrorDomain, Reason: reason, Metadata: md})
	if err != nil {
		panic(err)
	}
	return st.Err()
}

func TestEveryGeneratedReasonHasASentinel(t *testing.T) {
	for v, name := range pb.ErrorReason_name {
		if pb.ErrorReason(v) == pb.ErrorReason_ERROR_REASON_UNSPECIFIED {
			continue
		}
		if reasonSentinels[pb.ErrorReason(v)] == nil {
			t.Errorf("ErrorReason %s has no sentinel", name)
		}
	}
}

func TestHeaderAndMetadataNamesComeFromTheEnums(t *testing.T) {
	if RequestIDHeader != "corral-request-id" || LeaderIDHeader != "corral-leader-id" {
		t.Fatalf("headers: %q %q", RequestIDHeader, LeaderIDHeader)
	}
	if metadataKey(pb.ErrorMetadataKey_CURRENT_VERSION) != "current_version" {
		t.Fatal(metadataKey(pb.ErrorMetadataKey_CURRENT_VERSION))
	}
}

func TestStatusesMapToSentinelsAndTypedErrors(t *testing.T) {
	ctx := context.Background()
	err := fromStatus(ctx, statusWith(codes.FailedPrecondition, "VERSION_MISMATCH",
		map[string]string{"path": "/a", "expected_version": "3", "current_version": "5"}), "/req")
	var vm *VersionMismatchError
	if !errors.As(err, &vm) || vm.Current != 5 || vm.Expected != 3 || vm.Path != "/a" || !errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("version mismatch: %v", err)
	}
	// Required metadata missing or malformed: not trusted, typed by code only.
	err = fromStatus(ctx, statusWith(codes.FailedPrecondition, "VERSION_MISMATCH",
		map[string]string{"path": "/a", "current_version": "five"}), "/req")
	if errors.As(err, &vm) || errors.Is(err, ErrVersionMismatch) {
		t.Fatalf("untrusted mismatch typed as one: %v", err)
	}
	if e := asError(err); e == nil || e.Reason != "VERSION_MISMATCH" || e.Code != codes.FailedPrecondition {
		t.Fatalf("untrusted mismatch keeps code and reason: %#v", e)
	}
	err = fromStatus(ctx, statusWith(codes.Unavailable, "NOT_LEADER", map[string]string{"leader_id": "2", "leader_addr": "127.0.0.1:2489"}), "")
	var nl *NotLeaderError
	if !errors.As(err, &nl) || nl.LeaderID != 2 || nl.LeaderAddr != "127.0.0.1:2489" || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("not leader: %v", err)
	}
	if !afterFailure(err, retryUnsafe) {
		t.Fatal("NOT_LEADER (certainly not applied) must be retried")
	}
	err = fromStatus(ctx, statusWith(codes.Unavailable, "OUTCOME_UNKNOWN", nil), "/p")
	if !errors.Is(err, ErrOutcomeUnknown) || !errors.Is(err, ErrUnavailable) || !IsOutcomeUnknown(err) {
		t.Fatalf("outcome unknown: %v", err)
	}
	if afterFailure(err, retryUnsafe) || !afterFailure(err, retryWithRequestID) {
		t.Fatal("OUTCOME_UNKNOWN is retried only with a request id")
	}
	for code, want := range map[codes.Code]error{
		codes.PermissionDenied: ErrPermissionDenied, codes.Unauthenticated: ErrUnauthenticated,
		codes.NotFound: ErrNotFound, codes.Unimplemented: ErrUnsupported,
	} {
		if err := fromStatus(ctx, status.Error(code, "x"), "/p"); !errors.Is(err, want) {
			t.Errorf("%v without ErrorInfo: %v", code, err)
		}
	}
	// A broken connection: retried for reads and writes with ids, not for unsafe writes.
	err = fromStatus(ctx, status.Error(codes.Unavailable, "error reading from server: EOF"), "")
	if !afterFailure(err, retrySafe) || afterFailure(err, retryUnsafe) || !IsOutcomeUnknown(err) {
		t.Fatalf("broken connection: %v", err)
	}
	err = fromStatus(ctx, status.Error(codes.Unavailable, "connection error: desc = refused"), "")
	if !afterFailure(err, retryUnsafe) {
		t.Fatal("a request that never left the client is always retried")
	}
	err = fromStatus(ctx, statusWith(codes.FailedPrecondition, "NOT_ENTRY_OWNER", map[string]string{"path": "/l/lock-0000000001", "lease_id": "7"}), "")
	if !errors.Is(err, ErrNotEntryOwner) || afterFailure(err, retrySafe) {
		t.Fatalf("not entry owner: %v", err)
	}
}

func TestEndpointsAreParsedOrRejected(t *testing.T) {
	for in, want := range map[string][2]string{
		"127.0.0.1:2479": {"127.0.0.1:2479", ""}, "http://127.0.0.1:2489/": {"127.0.0.1:2489", "http"},
		"https://db-1:2479": {"db-1:2479", "https"}, "localhost": {"localhost:2479", ""},
		"[::1]:2479": {"[::1]:2479", ""}, " corral-0.corral:9000 ": {"corral-0.corral:9000", ""},
	} {
		if got, scheme, err := parseEndpoint(in); err != nil || got != want[0] || scheme != want[1] {
			t.Errorf("%q: %q %q %v, want %q", in, got, scheme, err, want)
		}
	}
	for _, bad := range []string{"", "ftp://h:1", "http://h:1/v1", "h:notaport", "h:0", "h:70000", "http://", "https://", "u@h:1"} {
		if _, _, err := parseEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
