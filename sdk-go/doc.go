// Package corral is the Go client of Corral, a coordination service: a replicated
// tree of znodes with watches, leases, locks and leader election.
//
// Every call takes a context first; cancelling it cancels the call (and, for a
// watch or keepalive, the stream, so the server releases it). Options are
// functional (WithExpectedVersion, WithSequential, WithLease, WithScope, ...).
// Results are this package's own types (Node, Stat, Header, ...).
//
// Errors: test with errors.Is against the package's sentinels (ErrNotFound,
// ErrVersionMismatch, ...), and use errors.As for details (*VersionMismatchError,
// *NotEmptyError, *CompactedError, *Error). They are mapped from the server's
// google.rpc.ErrorInfo (domain "corral.v1") with the reasons of the generated
// ErrorReason enum.
//
// Writes carry a request id ("corral-request-id: <client-id>/<sequence>") so that a
// write whose outcome is unknown (connection cut, leader lost) is sent again, to any
// member, and applied once.
//
// The recipes (Session, Mutex with fencing tokens, Election, ...) are in the
// concurrency subpackage; service registration in discovery, and a grpc-go resolver
// for corral:///service in resolver.
package corral
