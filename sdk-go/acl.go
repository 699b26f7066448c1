package corral

import (
	"context"
	"math/bits"
	"strings"

	"google.golang.org/grpc"

	"github.com/corral-dev/corral/sdk-go/internal/pb"
)

// Perm is a set of permissions on a znode (ZooKeeper's cdrwa), combined with |.
type Perm uint8

const (
	// PermRead: read the znode's data and stat, list its children, watch it.
	PermRead Perm = 1 << iota
	// PermWrite: set the znode's data.
	PermWrite
	// PermCreate: create children of the znode.
	PermCreate
	// PermDelete: delete children of the znode.
	PermDelete
	// PermAdmin: read and change the znode's ACL.
	PermAdmin

	// PermAll is every permission.
	PermAll = PermRead | PermWrite | PermCreate | PermDelete | PermAdmin
)

// permNames are the permissions in bit order with their proto values.
var permNames = []struct {
	p    Perm
	pb   pb.Permission
	name string
}{
	{PermRead, pb.Permission_READ, "read"},
	{PermWrite, pb.Permission_WRITE, "write"},
	{PermCreate, pb.Permission_CREATE, "create"},
	{PermDelete, pb.Permission_DELETE, "delete"},
	{PermAdmin, pb.Permission_ADMIN, "admin"},
}

// Has reports whether p includes every permission of q.
func (p Perm) Has(q Perm) bool { return p&q == q }

// String lists the permissions, e.g. "read|write"; "none" for the empty set.
func (p Perm) String() string {
	if p == 0 {
		return "none"
	}
	names := make([]string, 0, bits.OnesCount8(uint8(p)))
	for _, n := range permNames {
		if p.Has(n.p) {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, "|")
}

// Principals every caller matches: PrincipalAnyone even without credentials,
// PrincipalAuthenticated with valid ones. Users and roles are "user:NAME" and
// "role:NAME" (UserACL, RoleACL).
const (
	PrincipalAnyone        = "anyone"
	PrincipalAuthenticated = "authenticated"
)

// ACLEntry is one entry of a znode's ACL: who (Principal: "user:NAME", "role:NAME",
// PrincipalAuthenticated or PrincipalAnyone) may do what (Perms).
type ACLEntry struct {
	Principal string
	Perms     Perm
}

// UserACL is an entry for the user name.
func UserACL(name string, p Perm) ACLEntry { return ACLEntry{Principal: "user:" + name, Perms: p} }

// RoleACL is an entry for every user with the role name.
func RoleACL(name string, p Perm) ACLEntry { return ACLEntry{Principal: "role:" + name, Perms: p} }

// AnyoneACL is an entry for every caller, even without credentials.
func AnyoneACL(p Perm) ACLEntry { return ACLEntry{Principal: PrincipalAnyone, Perms: p} }

// AuthenticatedACL is an entry for every caller with valid credentials.
func AuthenticatedACL(p Perm) ACLEntry { return ACLEntry{Principal: PrincipalAuthenticated, Perms: p} }

func aclToPB(acl []ACLEntry) []*pb.AclEntry {
	out := make([]*pb.AclEntry, len(acl))
	for i, e := range acl {
		var perms []pb.Permission
		for _, n := range permNames {
			if e.Perms.Has(n.p) {
				perms = append(perms, n.pb)
			}
		}
		out[i] = &pb.AclEntry{Principal: e.Principal, Permissions: perms}
	}
	return out
}

// aclFrom converts the server's ACL; permissions this client does not know are left out.
func aclFrom(acl []*pb.AclEntry) []ACLEntry {
	out := make([]ACLEntry, len(acl))
	for i, e := range acl {
		var p Perm
		for _, v := range e.GetPermissions() {
			for _, n := range permNames {
				if n.pb == v {
					p |= n.p
				}
			}
		}
		out[i] = ACLEntry{Principal: e.GetPrincipal(), Perms: p}
	}
	return out
}

// ACLResponse is a znode's ACL.
type ACLResponse struct {
	Header Header
	// ACL entries in the order they were set.
	ACL []ACLEntry
	// Stat of the znode; Stat.ACLVersion is what WithExpectedACLVersion compares with.
	Stat Stat
}

// SetACLResponse is the result of SetACL.
type SetACLResponse struct {
	Header Header
	// Stat of the znode after the change (ACLVersion incremented).
	Stat Stat
}

// WithACL gives Create's znode an ACL; without it the znode gets its parent's.
func WithACL(acl ...ACLEntry) Option {
	return func(o *options) { o.acl = append(o.acl, acl...) }
}

// WithExpectedACLVersion makes SetACL succeed only if the znode's ACL version
// (Stat.ACLVersion) is v (else *ACLVersionMismatchError).
func WithExpectedACLVersion(v int64) Option { return func(o *options) { o.expectedACLVersion = &v } }

// GetACL reads a znode's ACL (needs PermAdmin on it when auth is enabled). Options:
// WithSerializable. Fails with ErrNotFound, *PermissionDeniedError.
func (c *Client) GetACL(ctx context.Context, path string, opts ...Option) (*ACLResponse, error) {
	req := &pb.GetAclRequest{Path: path, Consistency: apply(opts).pbConsistency()}
	var resp *pb.GetAclResponse
	err := c.call(ctx, path, retrySafe, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewKVClient(conn).GetAcl(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &ACLResponse{Header: headerFrom(resp.GetHeader()), ACL: aclFrom(resp.GetAcl()), Stat: statFrom(resp.GetStat())}, nil
}

// SetACL replaces a znode's ACL (1 to 64 entries; needs PermAdmin on it). Options:
// WithExpectedACLVersion (compare-and-set). Fails with ErrNotFound,
// *ACLVersionMismatchError, *PermissionDeniedError.
func (c *Client) SetACL(ctx context.Context, path string, acl []ACLEntry, opts ...Option) (*SetACLResponse, error) {
	req := &pb.SetAclRequest{Path: path, Acl: aclToPB(acl), ExpectedAclVersion: apply(opts).expectedACLVersion}
	var resp *pb.SetAclResponse
	err := c.call(ctx, path, retryWithRequestID, func(ctx context.Context, conn *grpc.ClientConn) (err error) {
		resp, err = pb.NewKVClient(conn).SetAcl(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &SetACLResponse{Header: headerFrom(resp.GetHeader()), Stat: statFrom(resp.GetStat())}, nil
}
