package corral

import (
	"time"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// Header is carried by every response: who answered and at which revision.
type Header struct {
	// ClusterID identifies the cluster that answered.
	ClusterID uint64
	// MemberID is the Raft id of the member that answered.
	MemberID uint64
	// Revision is the revision of a write, or the applied revision a read saw.
	Revision int64
	// RaftTerm is the Raft term the answering member was in.
	RaftTerm uint64
}

// NodeKind is what kind of znode it is; fixed at creation.
type NodeKind int

const (
	// KindUnknown is a kind this client does not know.
	KindUnknown NodeKind = iota
	// Persistent znodes live until deleted.
	Persistent
	// Ephemeral znodes are bound to a lease and deleted when it ends.
	Ephemeral
	// Container znodes are deleted by the server once their last child goes.
	Container
	// TTL znodes are deleted once not modified for their TTL.
	TTL
)

func (k NodeKind) String() string {
	switch k {
	case Persistent:
		return "PERSISTENT"
	case Ephemeral:
		return "EPHEMERAL"
	case Container:
		return "CONTAINER"
	case TTL:
		return "TTL"
	}
	return "UNKNOWN"
}

// Stat is a znode's metadata (ZooKeeper's Stat, with etcd-style revisions).
type Stat struct {
	CreateRevision   int64 // revision of the write that created the znode
	ModRevision      int64 // revision of the last data change
	Version          int64 // number of data changes since creation
	ChildrenVersion  int64 // number of changes to the child list
	ACLVersion       int64 // number of ACL changes
	ChildrenRevision int64 // revision of the last change to the child list
	LeaseID          int64 // lease of an ephemeral znode, else 0
	DataLength       int64 // length of the data in bytes
	NumChildren      int64 // number of direct children
	Ctime            time.Time
	Mtime            time.Time
	Kind             NodeKind
	TTL              time.Duration // for TTL znodes, else 0
}

// Node is a znode: its path, data and stat.
type Node struct {
	Path string
	Data []byte
	Stat Stat
}

func headerFrom(h *pb.ResponseHeader) Header {
	return Header{ClusterID: h.GetClusterId(), MemberID: h.GetMemberId(), Revision: h.GetRevision(), RaftTerm: h.GetRaftTerm()}
}

func statFrom(s *pb.Stat) Stat {
	return Stat{
		CreateRevision:   s.GetCreateRevision(),
		ModRevision:      s.GetModRevision(),
		Version:          s.GetVersion(),
		ChildrenVersion:  s.GetChildrenVersion(),
		ACLVersion:       s.GetAclVersion(),
		ChildrenRevision: s.GetChildrenRevision(),
		LeaseID:          s.GetLeaseId(),
		DataLength:       s.GetDataLength(),
		NumChildren:      s.GetNumChildren(),
		Ctime:            time.UnixMilli(s.GetCtimeMs()),
		Mtime:            time.UnixMilli(s.GetMtimeMs()),
		Kind:             NodeKind(s.GetKind()),
		TTL:              time.Duration(s.GetTtlMs()) * time.Millisecond,
	}
}

func nodeFrom(n *pb.Node) Node {
	return Node{Path: n.GetPath(), Data: n.GetData(), Stat: statFrom(n.GetStat())}
}

func nodesFrom(ns []*pb.Node) []Node {
	out := make([]Node, len(ns))
	for i, n := range ns {
		out[i] = nodeFrom(n)
	}
	return out
}

// CreateResponse is the result of Create.
type CreateResponse struct {
	Header Header
	// Path actually created (differs from the request's for sequential znodes).
	Path string
	Stat Stat
}

// PutResponse is the result of Put.
type PutResponse struct {
	Header Header
	Stat   Stat
	// PrevNode is the znode before the put, with WithPrevNode (nil if it did not exist).
	PrevNode *Node
}

// GetResponse is the result of Get.
type GetResponse struct {
	Header Header
	Node   Node
}

// ListResponse is one page (or, from ListAll, every page) of a listing.
type ListResponse struct {
	Header Header
	// Nodes in path order.
	Nodes []Node
	// NextPageToken continues the listing (WithPageToken); "" on the last page.
	NextPageToken string
}

// DeleteResponse is the result of Delete.
type DeleteResponse struct {
	Header Header
	// Deleted is the number of znodes deleted (1 unless recursive).
	Deleted int64
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

func fromMs(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
