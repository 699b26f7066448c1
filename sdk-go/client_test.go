package corral_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/internal/testcluster"
)

func connect(t testing.TB, endpoints ...string) *corral.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := corral.New(ctx, corral.Config{Endpoints: endpoints})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestKVRoundTripAndTypedErrors(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)

	created, err := c.Create(ctx, "/app/cfg", []byte("v1"), corral.WithCreateParents())
	if err != nil {
		t.Fatal(err)
	}
	if created.Path != "/app/cfg" || created.Stat.Version != 0 || created.Stat.Kind != corral.Persistent {
		t.Fatalf("create: %+v", created)
	}
	if _, err := c.Create(ctx, "/app/cfg", nil); !errors.Is(err, corral.ErrAlreadyExists) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := c.Create(ctx, "/nope/x", nil); !errors.Is(err, corral.ErrParentNotFound) {
		t.Fatalf("create without parent: %v", err)
	}
	got, err := c.Get(ctx, "/app/cfg")
	if err != nil || string(got.Node.Data) != "v1" || got.Node.Path != "/app/cfg" {
		t.Fatalf("get: %+v %v", got, err)
	}
	put, err := c.Put(ctx, "/app/cfg", []byte("v2"), corral.WithExpectedVersion(0), corral.WithPrevNode())
	if err != nil || put.Stat.Version != 1 || put.PrevNode == nil || string(put.PrevNode.Data) != "v1" {
		t.Fatalf("put: %+v %v", put, err)
	}
	_, err = c.Put(ctx, "/app/cfg", []byte("v3"), corral.WithExpectedVersion(0))
	var vm *corral.VersionMismatchError
	if !errors.Is(err, corral.ErrVersionMismatch) || !errors.As(err, &vm) || vm.Current != 1 || vm.Expected != 0 || vm.Path != "/app/cfg" {
		t.Fatalf("stale put: %v (%+v)", err, vm)
	}
	if _, err := c.Get(ctx, "/app/missing"); !errors.Is(err, corral.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := c.Get(ctx, "bad//path"); !errors.Is(err, corral.ErrInvalidPath) || !errors.Is(err, corral.ErrInvalidArgument) {
		t.Fatalf("invalid path: %v", err)
	}
	for i := range 3 {
		if _, err := c.Create(ctx, "/app/jobs/job-", []byte(fmt.Sprint(i)), corral.WithSequential(), corral.WithCreateParents()); err != nil {
			t.Fatal(err)
		}
	}
	list, err := c.ListAll(ctx, "/app/jobs", corral.WithData(), corral.WithLimit(2))
	if err != nil || len(list.Nodes) != 3 || list.Nodes[0].Path != "/app/jobs/job-0000000000" || string(list.Nodes[2].Data) != "2" {
		t.Fatalf("list: %+v %v", list, err)
	}
	_, err = c.Delete(ctx, "/app/jobs")
	var ne *corral.NotEmptyError
	if !errors.As(err, &ne) || ne.NumChildren != 3 || !errors.Is(err, corral.ErrNotEmpty) {
		t.Fatalf("delete non-empty: %v", err)
	}
	del, err := c.Delete(ctx, "/app/jobs", corral.WithRecursive())
	if err != nil || del.Deleted != 4 {
		t.Fatalf("recursive delete: %+v %v", del, err)
	}

	txn, err := c.Txn(ctx).
		If(corral.CompareVersion("/app/cfg", corral.Equal, 1), corral.CompareExists("/app/flag", false)).
		Then(corral.OpCreate("/app/flag", []byte("on")), corral.OpGet("/app/cfg"), corral.OpGet("/app/none")).
		Else(corral.OpGet("/app/cfg")).
		Commit()
	if err != nil || !txn.Succeeded || len(txn.Results) != 3 || txn.Results[0].Create == nil ||
		txn.Results[1].Get == nil || string(txn.Results[1].Get.Node.Data) != "v2" || txn.Results[2].Get != nil {
		t.Fatalf("txn: %+v %v", txn, err)
	}
	txn, err = c.Txn(ctx).If(corral.CompareExists("/app/flag", false)).Then(corral.OpDelete("/app/cfg")).Else(corral.OpGet("/app/flag")).Commit()
	if err != nil || txn.Succeeded || string(txn.Results[0].Get.Node.Data) != "on" {
		t.Fatalf("failing txn: %+v %v", txn, err)
	}
}

func TestLeasesEphemeralsAndKeepAlive(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	lease, err := c.Grant(ctx, 2*time.Second)
	if err != nil || lease.TTL != 2*time.Second {
		t.Fatalf("grant: %+v %v", lease, err)
	}
	if _, err := c.Create(ctx, "/w1", nil, corral.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.TimeToLive(ctx, lease.ID, corral.WithNodes())
	if err != nil || len(ttl.Nodes) != 1 || ttl.Nodes[0] != "/w1" {
		t.Fatalf("ttl: %+v %v", ttl, err)
	}
	leases, err := c.Leases(ctx)
	if err != nil || len(leases) != 1 || leases[0].ID != lease.ID {
		t.Fatalf("leases: %+v %v", leases, err)
	}
	kctx, kcancel := context.WithCancel(ctx)
	ch, err := c.KeepAlive(kctx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Kept alive well past its TTL.
	time.Sleep(3 * time.Second)
	if _, err := c.Get(ctx, "/w1"); err != nil {
		t.Fatalf("ephemeral gone while kept alive: %v", err)
	}
	kcancel()
	for range ch {
	}
	rev, err := c.Revoke(ctx, lease.ID)
	if err != nil || rev.Deleted != 1 {
		t.Fatalf("revoke: %+v %v", rev, err)
	}
	if _, err := c.Revoke(ctx, lease.ID); !errors.Is(err, corral.ErrLeaseNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	if _, err := c.KeepAliveOnce(ctx, lease.ID); !errors.Is(err, corral.ErrLeaseNotFound) {
		t.Fatalf("keepalive of a revoked lease: %v", err)
	}
}

// The keep-alive channel closes when the lease is lost (clientv3 kept it open).
func TestKeepAliveChannelClosesWhenLeaseIsLost(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	lease, err := c.Grant(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.KeepAlive(ctx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	<-ch
	other := connect(t, cl.Endpoints()...)
	if _, err := other.Revoke(ctx, lease.ID); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("keep-alive channel still open 10 s after the lease was revoked")
		}
	}
}

func TestLockUnlockElectionCalls(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	a, _ := c.Grant(ctx, 10*time.Second)
	b, _ := c.Grant(ctx, 10*time.Second)
	held, err := c.Lock(ctx, "/locks/db", a.ID)
	if err != nil || held.FencingToken <= 0 {
		t.Fatalf("lock: %+v %v", held, err)
	}
	if _, err := c.Lock(ctx, "/locks/db", b.ID, corral.WithWaitTimeout(200*time.Millisecond)); !errors.Is(err, corral.ErrWaitTimeout) {
		t.Fatalf("contended lock: %v", err)
	}
	if _, err := c.Unlock(ctx, held.Key, b.ID); !errors.Is(err, corral.ErrNotEntryOwner) {
		t.Fatalf("unlock by another lease: %v", err)
	}
	if _, err := c.Unlock(ctx, "/locks/db", a.ID); !errors.Is(err, corral.ErrNotQueueEntry) {
		t.Fatalf("unlock of a non-entry: %v", err)
	}
	if _, err := c.Unlock(ctx, held.Key, a.ID); err != nil {
		t.Fatal(err)
	}
	next, err := c.Lock(ctx, "/locks/db", b.ID)
	if err != nil || next.FencingToken <= held.FencingToken {
		t.Fatalf("next holder: %+v %v", next, err)
	}

	if _, err := c.Leader(ctx, "/elections/s"); !errors.Is(err, corral.ErrNoLeader) {
		t.Fatalf("leader of an empty election: %v", err)
	}
	obs, err := c.Observe(ctx, "/elections/s")
	if err != nil {
		t.Fatal(err)
	}
	if first := <-obs; first.Err != nil || first.Leader != nil {
		t.Fatalf("first observation: %+v", first)
	}
	lk, err := c.Campaign(ctx, "/elections/s", a.ID, []byte("a:1"))
	if err != nil || lk.LeaseID != a.ID {
		t.Fatalf("campaign: %+v %v", lk, err)
	}
	if o := <-obs; o.Leader == nil || string(o.Leader.Value) != "a:1" {
		t.Fatalf("observed: %+v", o)
	}
	if err := c.Proclaim(ctx, lk.Key, a.ID, []byte("a:2")); err != nil {
		t.Fatal(err)
	}
	if o := <-obs; o.Leader == nil || string(o.Leader.Value) != "a:2" {
		t.Fatalf("observed after proclaim: %+v", o)
	}
	if err := c.Proclaim(ctx, lk.Key, b.ID, []byte("b")); !errors.Is(err, corral.ErrNotEntryOwner) {
		t.Fatalf("proclaim with another lease: %v", err)
	}
	if err := c.Resign(ctx, lk.Key, a.ID); err != nil {
		t.Fatal(err)
	}
	if o := <-obs; o.Leader != nil {
		t.Fatalf("observed after resign: %+v", o)
	}
}

func TestClusterAndMaintenanceCalls(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	ml, err := c.MemberList(ctx)
	if err != nil || len(ml.Members) != 1 || ml.LeaderID != 1 {
		t.Fatalf("members: %+v %v", ml, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.MemberID != 1 || st.Version == "" {
		t.Fatalf("status: %+v %v", st, err)
	}
	put, err := c.Put(ctx, "/x", []byte("1"), corral.WithCreateIfMissing())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "/x", []byte("2")); err != nil {
		t.Fatal(err)
	}
	compacted, err := c.Compact(ctx, put.Header.Revision)
	if err != nil || compacted != put.Header.Revision {
		t.Fatalf("compact: %d %v", compacted, err)
	}
	wch, err := c.Watch(ctx, "/x", corral.WithStartRevision(put.Header.Revision))
	if err != nil {
		t.Fatal(err)
	}
	r := <-wch
	var ce *corral.CompactedError
	if !errors.As(r.Err, &ce) || ce.CompactRevision != put.Header.Revision || !errors.Is(r.Err, corral.ErrCompacted) {
		t.Fatalf("watch from a compacted revision: %+v", r)
	}
	if _, ok := <-wch; ok {
		t.Fatal("watch channel open after its error")
	}
	var buf countingWriter
	rev, err := c.Snapshot(ctx, &buf)
	if err != nil || rev < put.Header.Revision || buf.n == 0 {
		t.Fatalf("snapshot: rev %d, %d bytes, %v", rev, buf.n, err)
	}
}

type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func TestCancelledCallReturnsContextError(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	a, _ := c.Grant(ctx, 10*time.Second)
	b, _ := c.Grant(ctx, 10*time.Second)
	if _, err := c.Lock(ctx, "/l", a.ID); err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.Lock(lctx, "/l", b.ID); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lock past its ctx: %v", err)
	}
}

// The keep-alive channel also closes when no member answers for a whole TTL: the
// lease may have expired, and whoever holds it must presume so.
func TestKeepAliveChannelClosesWhenNoMemberAnswersForATTL(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	lease, err := c.Grant(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := c.KeepAlive(ctx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	<-ch
	cl.Members[0].Kill()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("keep-alive channel still open 20 s after the only member died")
		}
	}
}
