package corral

import (
	"context"

	"google.golang.org/grpc"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// Create creates a znode holding data. With WithSequential, path is the prefix the
// server appends a counter to; the response has the actual path. Options:
// WithSequential, WithLease (ephemeral), WithContainer, WithTTL, WithCreateParents.
//
// Fails with ErrAlreadyExists, ErrParentNotFound, ErrEphemeralParent, ErrInvalidArgument.
func (c *Client) Create(ctx context.Context, path string, data []byte, opts ...Option) (*CreateResponse, error) {
	req := apply(opts).createRequest(path, data)
	var resp *pb.CreateResponse
	err := c.call(ctx, path, retryWithRequestID, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewKVClient(conn).Create(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &CreateResponse{Header: headerFrom(resp.GetHeader()), Path: resp.GetPath(), Stat: statFrom(resp.GetStat())}, nil
}

// Put sets a znode's data. Options: WithExpectedVersion (compare-and-set),
// WithCreateIfMissing, WithPrevNode.
//
// Fails with ErrNotFound, and *VersionMismatchError (ErrVersionMismatch).
func (c *Client) Put(ctx context.Context, path string, data []byte, opts ...Option) (*PutResponse, error) {
	req := apply(opts).putRequest(path, data)
	var resp *pb.PutResponse
	err := c.call(ctx, path, retryWithRequestID, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewKVClient(conn).Put(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return putResponseFrom(resp), nil
}

func putResponseFrom(resp *pb.PutResponse) *PutResponse {
	out := &PutResponse{Header: headerFrom(resp.GetHeader()), Stat: statFrom(resp.GetStat())}
	if resp.GetPrevNode() != nil {
		n := nodeFrom(resp.GetPrevNode())
		out.PrevNode = &n
	}
	return out
}

// Get reads one znode. Options: WithSerializable, WithStatOnly. Fails with ErrNotFound.
func (c *Client) Get(ctx context.Context, path string, opts ...Option) (*GetResponse, error) {
	req := apply(opts).getRequest(path)
	var resp *pb.GetResponse
	err := c.call(ctx, path, retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewKVClient(conn).Get(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	if resp.GetNode() == nil {
		return nil, ErrInvalidResponse
	}
	return &GetResponse{Header: headerFrom(resp.GetHeader()), Node: nodeFrom(resp.GetNode())}, nil
}

// List reads one page of a znode's children (or, WithRecursive, of its subtree) in
// path order. Options: WithRecursive, WithData, WithLimit, WithPageToken,
// WithSerializable. ListAll reads every page.
func (c *Client) List(ctx context.Context, path string, opts ...Option) (*ListResponse, error) {
	req := apply(opts).listRequest(path)
	var resp *pb.ListResponse
	err := c.call(ctx, path, retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewKVClient(conn).List(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ListResponse{Header: headerFrom(resp.GetHeader()), Nodes: nodesFrom(resp.GetNodes()), NextPageToken: resp.GetNextPageToken()}, nil
}

// ListAll reads every page of a listing and returns all the znodes with the last
// page's header. Each page is a separate read, so writes between pages may show in
// later pages only.
func (c *Client) ListAll(ctx context.Context, path string, opts ...Option) (*ListResponse, error) {
	page, err := c.List(ctx, path, opts...)
	if err != nil {
		return nil, err
	}
	all := page.Nodes
	for page.NextPageToken != "" {
		page, err = c.List(ctx, path, append(opts[:len(opts):len(opts)], WithPageToken(page.NextPageToken))...)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Nodes...)
	}
	page.Nodes = all
	return page, nil
}

// Delete deletes a znode (and, WithRecursive, its subtree). Options:
// WithExpectedVersion, WithRecursive. Fails with ErrNotFound, *NotEmptyError
// (ErrNotEmpty), *VersionMismatchError.
func (c *Client) Delete(ctx context.Context, path string, opts ...Option) (*DeleteResponse, error) {
	req := apply(opts).deleteRequest(path)
	var resp *pb.DeleteResponse
	err := c.call(ctx, path, retryWithRequestID, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewKVClient(conn).Delete(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &DeleteResponse{Header: headerFrom(resp.GetHeader()), Deleted: resp.GetDeleted()}, nil
}
