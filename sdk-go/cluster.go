package corral

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// Member is one member of the cluster.
type Member struct {
	// ID is the member's Raft id.
	ID uint64
	// PeerAddr is its peer (Raft) address, host:port.
	PeerAddr string
	// IsLearner is true for a non-voting learner.
	IsLearner bool
}

// MemberListResponse is the member list.
type MemberListResponse struct {
	Header  Header
	Members []Member
	// LeaderID is the current leader's id; 0 if none is known.
	LeaderID uint64
}

// StatusResponse is one member's view of the cluster.
type StatusResponse struct {
	Header           Header
	MemberID         uint64
	LeaderID         uint64
	RaftTerm         uint64
	CommitIndex      uint64
	AppliedIndex     uint64
	Revision         int64
	DBSizeBytes      uint64
	Version          string
	LastLogIndex     uint64
	IsLearner        bool
	SnapshotIndex    uint64
	SnapshotInstalls uint64
}

func membersFrom(ms []*pb.Member) []Member {
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = Member{ID: m.GetMemberId(), PeerAddr: m.GetPeerAddr(), IsLearner: m.GetIsLearner()}
	}
	return out
}

// MemberList lists the members (voters and learners).
func (c *Client) MemberList(ctx context.Context) (*MemberListResponse, error) {
	var resp *pb.MemberListResponse
	err := c.call(ctx, "", retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewClusterClient(conn).MemberList(ctx, &pb.MemberListRequest{})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &MemberListResponse{Header: headerFrom(resp.GetHeader()), Members: membersFrom(resp.GetMembers()), LeaderID: resp.GetLeaderId()}, nil
}

// MemberAdd adds a member as a non-voting learner; it returns the members after the change.
func (c *Client) MemberAdd(ctx context.Context, id uint64, peerAddr string) ([]Member, error) {
	var resp *pb.MemberAddResponse
	err := c.call(ctx, "", retryUnsafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewClusterClient(conn).MemberAdd(ctx, &pb.MemberAddRequest{MemberId: id, PeerAddr: peerAddr})
		return err
	})
	if err != nil {
		return nil, err
	}
	return membersFrom(resp.GetMembers()), nil
}

// MemberPromote turns a caught-up learner into a voter.
func (c *Client) MemberPromote(ctx context.Context, id uint64) ([]Member, error) {
	var resp *pb.MemberPromoteResponse
	err := c.call(ctx, "", retryUnsafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewClusterClient(conn).MemberPromote(ctx, &pb.MemberPromoteRequest{MemberId: id})
		return err
	})
	if err != nil {
		return nil, err
	}
	return membersFrom(resp.GetMembers()), nil
}

// MemberRemove removes a voter or learner.
func (c *Client) MemberRemove(ctx context.Context, id uint64) ([]Member, error) {
	var resp *pb.MemberRemoveResponse
	err := c.call(ctx, "", retryUnsafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewClusterClient(conn).MemberRemove(ctx, &pb.MemberRemoveRequest{MemberId: id})
		return err
	})
	if err != nil {
		return nil, err
	}
	return membersFrom(resp.GetMembers()), nil
}

// TransferLeader moves leadership to voter id; returns the leader after the transfer.
func (c *Client) TransferLeader(ctx context.Context, id uint64) (uint64, error) {
	var resp *pb.TransferLeaderResponse
	err := c.call(ctx, "", retryUnsafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewClusterClient(conn).TransferLeader(ctx, &pb.TransferLeaderRequest{MemberId: id})
		return err
	})
	if err != nil {
		return 0, err
	}
	return resp.GetLeaderId(), nil
}

// Status reports the answering member's view: leader, term, indexes, revision, size.
func (c *Client) Status(ctx context.Context) (*StatusResponse, error) {
	var r *pb.StatusResponse
	err := c.call(ctx, "", retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		r, err = pb.NewClusterClient(conn).Status(ctx, &pb.StatusRequest{})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &StatusResponse{Header: headerFrom(r.GetHeader()), MemberID: r.GetMemberId(), LeaderID: r.GetLeaderId(),
		RaftTerm: r.GetRaftTerm(), CommitIndex: r.GetCommitIndex(), AppliedIndex: r.GetAppliedIndex(),
		Revision: r.GetRevision(), DBSizeBytes: r.GetDbSizeBytes(), Version: r.GetVersion(),
		LastLogIndex: r.GetLastLogIndex(), IsLearner: r.GetIsLearner(), SnapshotIndex: r.GetSnapshotIndex(),
		SnapshotInstalls: r.GetSnapshotInstalls()}, nil
}

// Compact discards event history up to and including revision; returns the newest
// compacted revision (watches must start above it).
func (c *Client) Compact(ctx context.Context, revision int64) (int64, error) {
	var resp *pb.CompactResponse
	err := c.call(ctx, "", retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewMaintenanceClient(conn).Compact(ctx, &pb.CompactRequest{Revision: revision})
		return err
	})
	if err != nil {
		return 0, err
	}
	return resp.GetCompactRevision(), nil
}

// Snapshot writes a consistent backup of the answering member's state to w and
// returns the applied revision it holds. It is not retried once bytes were written.
func (c *Client) Snapshot(ctx context.Context, w io.Writer) (int64, error) {
	idx, conn := c.member()
	st, err := pb.NewMaintenanceClient(conn).Snapshot(ctx, &pb.SnapshotRequest{})
	if err != nil {
		c.skip(idx)
		return 0, fromStatus(ctx, err, "")
	}
	var rev int64
	for {
		chunk, err := st.Recv()
		if errors.Is(err, io.EOF) {
			return rev, nil
		}
		if err != nil {
			return rev, fromStatus(ctx, err, "")
		}
		rev = chunk.GetHeader().GetRevision()
		if _, err := w.Write(chunk.GetBlob()); err != nil {
			return rev, err
		}
		if chunk.GetRemainingBytes() == 0 {
			return rev, nil
		}
	}
}
