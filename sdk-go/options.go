package corral

import (
	"time"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// Consistency says how a read is served.
type Consistency int

const (
	// Linearizable reads (the default) see every write acknowledged before they began.
	Linearizable Consistency = iota
	// Serializable reads are served from the answering member without a quorum round.
	Serializable
)

// Scope says which znodes a watch covers, relative to its path.
type Scope int

const (
	// ScopeNode watches only the znode at the path (the default).
	ScopeNode Scope = iota
	// ScopeChildren watches its direct children.
	ScopeChildren
	// ScopeSubtree watches the znode and all its descendants.
	ScopeSubtree
)

// Option sets an option of one call. Each call uses the options that apply to it
// and ignores the others.
type Option func(*options)

type options struct {
	expectedVersion *int64
	sequential      bool
	ephemeral       bool
	leaseID         int64
	container       bool
	ttl             time.Duration
	createParents   bool
	createIfMissing bool
	prevNode        bool
	consistency     Consistency
	statOnly        bool
	recursive       bool
	withData        bool
	limit           int32
	pageToken       string
	scope           Scope
	startRevision   int64
	filters         []EventType
	progressNotify  bool
	waitTimeout     time.Duration
	withNodes       bool
	acl             []ACLEntry
	// expectedACLVersion is SetACL's compare-and-set.
	expectedACLVersion *int64
}

func apply(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithExpectedVersion makes Put or Delete succeed only if the znode's version is v
// (else *VersionMismatchError).
func WithExpectedVersion(v int64) Option { return func(o *options) { o.expectedVersion = &v } }

// WithSequential makes Create append a zero-padded 10-digit counter to the path.
func WithSequential() Option { return func(o *options) { o.sequential = true } }

// WithLease makes Create's znode ephemeral, bound to lease id: it is deleted when the lease ends.
func WithLease(id int64) Option { return func(o *options) { o.ephemeral = true; o.leaseID = id } }

// WithContainer makes Create's znode a container, deleted once its last child goes.
func WithContainer() Option { return func(o *options) { o.container = true } }

// WithTTL makes Create's znode a TTL znode, deleted once not modified for ttl.
func WithTTL(ttl time.Duration) Option { return func(o *options) { o.ttl = ttl } }

// WithCreateParents makes Create create missing ancestors as empty persistent znodes.
func WithCreateParents() Option { return func(o *options) { o.createParents = true } }

// WithCreateIfMissing makes Put create the znode (persistent) if absent.
func WithCreateIfMissing() Option { return func(o *options) { o.createIfMissing = true } }

// WithPrevNode makes Put return the previous znode, and a watch deliver each event's
// previous znode.
func WithPrevNode() Option { return func(o *options) { o.prevNode = true } }

// WithConsistency sets a read's consistency (default Linearizable).
func WithConsistency(c Consistency) Option { return func(o *options) { o.consistency = c } }

// WithSerializable is WithConsistency(Serializable).
func WithSerializable() Option { return WithConsistency(Serializable) }

// WithStatOnly makes Get return the stat only, without data.
func WithStatOnly() Option { return func(o *options) { o.statOnly = true } }

// WithRecursive makes List cover the whole subtree, and Delete delete it.
func WithRecursive() Option { return func(o *options) { o.recursive = true } }

// WithData makes List include each znode's data.
func WithData() Option { return func(o *options) { o.withData = true } }

// WithLimit sets List's page size (default 1000, at most 10000).
func WithLimit(n int) Option { return func(o *options) { o.limit = int32(n) } }

// WithPageToken continues a listing after a page's NextPageToken.
func WithPageToken(t string) Option { return func(o *options) { o.pageToken = t } }

// WithScope sets which znodes a watch covers (default ScopeNode).
func WithScope(s Scope) Option { return func(o *options) { o.scope = s } }

// WithStartRevision makes a watch deliver events from revision r on (replayed from
// history, then live). Without it the watch starts after the current revision.
func WithStartRevision(r int64) Option { return func(o *options) { o.startRevision = r } }

// WithFilter makes a watch not deliver events of the given types.
func WithFilter(types ...EventType) Option {
	return func(o *options) { o.filters = append(o.filters, types...) }
}

// WithProgressNotify asks for a progress notice after 10 s without events.
func WithProgressNotify() Option { return func(o *options) { o.progressNotify = true } }

// WithWaitTimeout makes Lock or Campaign give up after waiting d (ErrWaitTimeout),
// leaving no queue entry.
func WithWaitTimeout(d time.Duration) Option { return func(o *options) { o.waitTimeout = d } }

// WithNodes makes TimeToLive list the lease's ephemeral znodes.
func WithNodes() Option { return func(o *options) { o.withNodes = true } }

func (o options) pbConsistency() pb.Consistency {
	if o.consistency == Serializable {
		return pb.Consistency_SERIALIZABLE
	}
	return pb.Consistency_LINEARIZABLE
}

func (o options) createRequest(path string, data []byte) *pb.CreateRequest {
	return &pb.CreateRequest{Path: path, Data: data, Ephemeral: o.ephemeral, LeaseId: o.leaseID,
		Sequential: o.sequential, Container: o.container, TtlMs: ms(o.ttl), CreateParents: o.createParents,
		Acl: aclToPB(o.acl)}
}

func (o options) putRequest(path string, data []byte) *pb.PutRequest {
	return &pb.PutRequest{Path: path, Data: data, ExpectedVersion: o.expectedVersion,
		CreateIfMissing: o.createIfMissing, PrevNode: o.prevNode}
}

func (o options) getRequest(path string) *pb.GetRequest {
	return &pb.GetRequest{Path: path, Consistency: o.pbConsistency(), StatOnly: o.statOnly}
}

func (o options) listRequest(path string) *pb.ListRequest {
	return &pb.ListRequest{Path: path, Recursive: o.recursive, WithData: o.withData, Limit: o.limit,
		PageToken: o.pageToken, Consistency: o.pbConsistency()}
}

func (o options) deleteRequest(path string) *pb.DeleteRequest {
	return &pb.DeleteRequest{Path: path, ExpectedVersion: o.expectedVersion, Recursive: o.recursive}
}
