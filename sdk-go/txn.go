package corral

import (
	"context"

	"google.golang.org/grpc"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// CompareResult is how a Txn compares a znode's value with a given one.
type CompareResult int

const (
	// Equal: the znode's value equals the given one.
	Equal CompareResult = iota
	// NotEqual: it differs.
	NotEqual
	// Greater: the znode's value is greater.
	Greater
	// Less: the znode's value is less.
	Less
)

// Cmp is a condition a Txn checks against one znode. Every target but existence is
// false on an absent znode.
type Cmp struct{ c *pb.Compare }

func cmp(path string, r CompareResult) *pb.Compare {
	return &pb.Compare{Path: path, Result: pb.Compare_Result(r + 1)}
}

// CompareExists holds if the znode's existence is exists.
func CompareExists(path string, exists bool) Cmp {
	c := cmp(path, Equal)
	c.Target = &pb.Compare_Exists{Exists: exists}
	return Cmp{c}
}

// CompareVersion compares the znode's Stat.Version with v.
func CompareVersion(path string, r CompareResult, v int64) Cmp {
	c := cmp(path, r)
	c.Target = &pb.Compare_Version{Version: v}
	return Cmp{c}
}

// CompareModRevision compares the znode's Stat.ModRevision with rev.
func CompareModRevision(path string, r CompareResult, rev int64) Cmp {
	c := cmp(path, r)
	c.Target = &pb.Compare_ModRevision{ModRevision: rev}
	return Cmp{c}
}

// CompareCreateRevision compares the znode's Stat.CreateRevision with rev.
func CompareCreateRevision(path string, r CompareResult, rev int64) Cmp {
	c := cmp(path, r)
	c.Target = &pb.Compare_CreateRevision{CreateRevision: rev}
	return Cmp{c}
}

// CompareData compares the znode's data with data, bytewise.
func CompareData(path string, r CompareResult, data []byte) Cmp {
	c := cmp(path, r)
	c.Target = &pb.Compare_Data{Data: data}
	return Cmp{c}
}

// CompareNumChildren compares the znode's Stat.NumChildren with n.
func CompareNumChildren(path string, r CompareResult, n int64) Cmp {
	c := cmp(path, r)
	c.Target = &pb.Compare_NumChildren{NumChildren: n}
	return Cmp{c}
}

// Op is one operation of a Txn.
type Op struct{ op *pb.Op }

// OpCreate creates a znode (options as for Create).
func OpCreate(path string, data []byte, opts ...Option) Op {
	return Op{&pb.Op{Op: &pb.Op_Create{Create: apply(opts).createRequest(path, data)}}}
}

// OpPut sets a znode's data (options as for Put).
func OpPut(path string, data []byte, opts ...Option) Op {
	return Op{&pb.Op{Op: &pb.Op_Put{Put: apply(opts).putRequest(path, data)}}}
}

// OpDelete deletes a znode (options as for Delete).
func OpDelete(path string, opts ...Option) Op {
	return Op{&pb.Op{Op: &pb.Op_Delete{Delete: apply(opts).deleteRequest(path)}}}
}

// OpGet reads a znode; an absent one gives a nil OpResult.Get, not an error.
func OpGet(path string, opts ...Option) Op {
	return Op{&pb.Op{Op: &pb.Op_Get{Get: apply(opts).getRequest(path)}}}
}

// OpList lists children or a subtree (first page only).
func OpList(path string, opts ...Option) Op {
	return Op{&pb.Op{Op: &pb.Op_List{List: apply(opts).listRequest(path)}}}
}

// OpResult is the result of one op of the branch that ran; the field of the op's kind is set.
type OpResult struct {
	Create *CreateResponse
	Put    *PutResponse
	Delete *DeleteResponse
	Get    *GetResponse // nil for an absent znode
	List   *ListResponse
}

// TxnResponse is the result of a Txn.
type TxnResponse struct {
	// Header; Revision is the Txn's revision (all its writes share it).
	Header Header
	// Succeeded is true if every compare held and the Then branch ran.
	Succeeded bool
	// Results of the branch that ran, one per op.
	Results []OpResult
}

// Txn is a transaction being built: If(compares).Then(ops).Else(ops).Commit().
// It is applied atomically at one revision.
type Txn struct {
	c   *Client
	ctx context.Context
	req *pb.TxnRequest
}

// Txn starts a transaction; nothing is sent before Commit.
func (c *Client) Txn(ctx context.Context) *Txn {
	return &Txn{c: c, ctx: ctx, req: &pb.TxnRequest{}}
}

// If adds conditions; all must hold for the Then branch (none: true).
func (t *Txn) If(cmps ...Cmp) *Txn {
	for _, c := range cmps {
		t.req.Compares = append(t.req.Compares, c.c)
	}
	return t
}

// Then adds ops applied in order when every compare holds.
func (t *Txn) Then(ops ...Op) *Txn {
	for _, o := range ops {
		t.req.Success = append(t.req.Success, o.op)
	}
	return t
}

// Else adds ops applied in order when a compare fails.
func (t *Txn) Else(ops ...Op) *Txn {
	for _, o := range ops {
		t.req.Failure = append(t.req.Failure, o.op)
	}
	return t
}

// Commit sends the transaction. A failing compare is not an error (Succeeded is
// false); a failing op fails the whole Txn with its error and applies nothing.
func (t *Txn) Commit() (*TxnResponse, error) {
	var resp *pb.TxnResponse
	err := t.c.call(t.ctx, "", retryWithRequestID, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewKVClient(conn).Txn(ctx, t.req)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &TxnResponse{Header: headerFrom(resp.GetHeader()), Succeeded: resp.GetSucceeded()}
	for _, r := range resp.GetResults() {
		var o OpResult
		switch x := r.GetResult().(type) {
		case *pb.OpResult_Create:
			o.Create = &CreateResponse{Header: headerFrom(x.Create.GetHeader()), Path: x.Create.GetPath(), Stat: statFrom(x.Create.GetStat())}
		case *pb.OpResult_Put:
			o.Put = putResponseFrom(x.Put)
		case *pb.OpResult_Delete:
			o.Delete = &DeleteResponse{Header: headerFrom(x.Delete.GetHeader()), Deleted: x.Delete.GetDeleted()}
		case *pb.OpResult_Get:
			if x.Get.GetNode() != nil {
				o.Get = &GetResponse{Header: headerFrom(x.Get.GetHeader()), Node: nodeFrom(x.Get.GetNode())}
			}
		case *pb.OpResult_List:
			o.List = &ListResponse{Header: headerFrom(x.List.GetHeader()), Nodes: nodesFrom(x.List.GetNodes()), NextPageToken: x.List.GetNextPageToken()}
		}
		out.Results = append(out.Results, o)
	}
	return out, nil
}
