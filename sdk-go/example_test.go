package corral_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"strings"
	"testing"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/internal/testcluster"
)

// endpoints of the member the examples run against (started by TestMain); in your
// code, your cluster's client addresses, e.g. []string{"127.0.0.1:2479"}.
var endpoints []string

// authEndpoints are those of a member of its own for Example_auth, which turns auth on.
var authEndpoints []string

func TestMain(m *testing.M) {
	os.Exit(testcluster.RunMainSetup(m, func(t testcluster.T) {
		endpoints = testcluster.Start(t, 1).Endpoints()
		authEndpoints = testcluster.Start(t, 1).Endpoints()
	}))
}

// The quick start of docs/go-client.md.
func Example_quickStart() {
	ctx := context.Background()
	client, err := corral.New(ctx, corral.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// A persistent znode, then a compare-and-set on its version.
	if _, err := client.Create(ctx, "/quickstart/config", []byte("v1"), corral.WithCreateParents()); err != nil {
		log.Fatal(err)
	}
	got, err := client.Get(ctx, "/quickstart/config")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s = %s (version %d)\n", got.Node.Path, got.Node.Data, got.Node.Stat.Version)
	_, err = client.Put(ctx, "/quickstart/config", []byte("v2"), corral.WithExpectedVersion(got.Node.Stat.Version))
	fmt.Println("first put:", err)
	_, err = client.Put(ctx, "/quickstart/config", []byte("v3"), corral.WithExpectedVersion(got.Node.Stat.Version))
	var mismatch *corral.VersionMismatchError
	if errors.As(err, &mismatch) {
		fmt.Println("second put: version mismatch, current version", mismatch.Current)
	}

	// An ephemeral znode lives as long as its lease.
	lease, err := client.Grant(ctx, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.Create(ctx, "/quickstart/worker", nil, corral.WithLease(lease.ID)); err != nil {
		log.Fatal(err)
	}
	if _, err := client.Revoke(ctx, lease.ID); err != nil {
		log.Fatal(err)
	}
	_, err = client.Get(ctx, "/quickstart/worker")
	fmt.Println("after revoke, not found:", errors.Is(err, corral.ErrNotFound))
	// Output:
	// /quickstart/config = v1 (version 0)
	// first put: <nil>
	// second put: version mismatch, current version 1
	// after revoke, not found: true
}

func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, err := corral.New(ctx, corral.Config{Endpoints: endpoints})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	st, err := client.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("leader known:", st.LeaderID != 0)
	// Output: leader known: true
}

func exampleClient() *corral.Client {
	client, err := corral.New(context.Background(), corral.Config{Endpoints: endpoints})
	if err != nil {
		log.Fatal(err)
	}
	return client
}

func ExampleClient_Create() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	// Sequential znodes get a 10-digit counter from their parent.
	for range 2 {
		r, err := client.Create(ctx, "/ex-create/jobs/job-", []byte("payload"), corral.WithSequential(), corral.WithCreateParents())
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(r.Path)
	}
	_, err := client.Create(ctx, "/ex-create/jobs", nil)
	fmt.Println(errors.Is(err, corral.ErrAlreadyExists))
	// Output:
	// /ex-create/jobs/job-0000000000
	// /ex-create/jobs/job-0000000001
	// true
}

func ExampleClient_Put() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	r, err := client.Put(ctx, "/ex-put", []byte("a"), corral.WithCreateIfMissing())
	if err != nil {
		log.Fatal(err)
	}
	r, err = client.Put(ctx, "/ex-put", []byte("b"), corral.WithExpectedVersion(r.Stat.Version), corral.WithPrevNode())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("version %d, was %q\n", r.Stat.Version, r.PrevNode.Data)
	// Output: version 1, was "a"
}

func ExampleClient_Get() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	_, err := client.Get(ctx, "/ex-get/missing")
	fmt.Println(errors.Is(err, corral.ErrNotFound))
	root, err := client.Get(ctx, "/", corral.WithStatOnly(), corral.WithSerializable())
	fmt.Println(root.Node.Path, err)
	// Output:
	// true
	// / <nil>
}

func ExampleClient_List() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	for _, name := range []string{"b", "a", "c"} {
		if _, err := client.Create(ctx, "/ex-list/"+name, []byte(name), corral.WithCreateParents()); err != nil {
			log.Fatal(err)
		}
	}
	all, err := client.ListAll(ctx, "/ex-list", corral.WithData(), corral.WithLimit(2))
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range all.Nodes {
		fmt.Println(n.Path, string(n.Data))
	}
	// Output:
	// /ex-list/a a
	// /ex-list/b b
	// /ex-list/c c
}

func ExampleClient_Delete() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	if _, err := client.Create(ctx, "/ex-delete/child", nil, corral.WithCreateParents()); err != nil {
		log.Fatal(err)
	}
	_, err := client.Delete(ctx, "/ex-delete")
	var notEmpty *corral.NotEmptyError
	fmt.Println(errors.As(err, &notEmpty), notEmpty.NumChildren)
	r, err := client.Delete(ctx, "/ex-delete", corral.WithRecursive())
	fmt.Println(r.Deleted, err)
	// Output:
	// true 1
	// 2 <nil>
}

func ExampleClient_Txn() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	// Create /ex-txn/leader only if absent, and read it either way, at one revision.
	for range 2 {
		r, err := client.Txn(ctx).
			If(corral.CompareExists("/ex-txn/leader", false)).
			Then(corral.OpCreate("/ex-txn/leader", []byte("me"), corral.WithCreateParents())).
			Else(corral.OpGet("/ex-txn/leader")).
			Commit()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("created:", r.Succeeded)
	}
	// Output:
	// created: true
	// created: false
}

func ExampleClient_Watch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // cancelling the watch's ctx ends it, on the server too
	client := exampleClient()
	defer client.Close()
	events, err := client.Watch(ctx, "/ex-watch", corral.WithScope(corral.ScopeSubtree))
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		_, _ = client.Create(ctx, "/ex-watch", nil)
		_, _ = client.Put(ctx, "/ex-watch", []byte("x"))
		_, _ = client.Delete(ctx, "/ex-watch")
	}()
	for seen := 0; seen < 3; {
		resp := <-events
		if resp.Err != nil {
			log.Fatal(resp.Err)
		}
		for _, ev := range resp.Events {
			fmt.Println(ev.Type, ev.Node.Path)
			seen++
		}
	}
	// Output:
	// CREATED /ex-watch
	// UPDATED /ex-watch
	// DELETED /ex-watch
}

func ExampleClient_KeepAlive() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := exampleClient()
	defer client.Close()
	lease, err := client.Grant(ctx, 3*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	alive, err := client.KeepAlive(ctx, lease.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("ttl:", (<-alive).TTL)
	// The channel closes when the lease is lost (here: revoked).
	if _, err := client.Revoke(ctx, lease.ID); err != nil {
		log.Fatal(err)
	}
	for range alive {
	}
	fmt.Println("lease lost")
	// Output:
	// ttl: 3s
	// lease lost
}

func ExampleClient_Lock() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	lease, err := client.Grant(ctx, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	held, err := client.Lock(ctx, "/ex-lock/db", lease.ID, corral.WithWaitTimeout(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("holding, fencing token > 0:", held.FencingToken > 0)
	// Unlock needs the lease given to Lock.
	if _, err := client.Unlock(ctx, held.Key, lease.ID); err != nil {
		log.Fatal(err)
	}
	// Output: holding, fencing token > 0: true
}

func ExampleClient_Campaign() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	lease, err := client.Grant(ctx, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	me, err := client.Campaign(ctx, "/ex-election", lease.ID, []byte("10.0.0.7:9000"))
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Proclaim(ctx, me.Key, lease.ID, []byte("10.0.0.7:9001")); err != nil {
		log.Fatal(err)
	}
	leader, err := client.Leader(ctx, "/ex-election")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(leader.Value))
	if err := client.Resign(ctx, me.Key, lease.ID); err != nil {
		log.Fatal(err)
	}
	_, err = client.Leader(ctx, "/ex-election")
	fmt.Println(errors.Is(err, corral.ErrNoLeader))
	// Output:
	// 10.0.0.7:9001
	// true
}

func ExampleClient_MemberList() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	ml, err := client.MemberList(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(ml.Members), "member(s), leader", ml.LeaderID)
	// Output: 1 member(s), leader 1
}

// The code of docs/go-client.md's quick start, TLS and auth sections is the body of
// a runnable example, so it compiles and runs (the TLS one compiles only: it needs
// certificate files).
func TestDocExamplesAreTheExamples(t *testing.T) {
	doc, err := os.ReadFile("../docs/go-client.md")
	if err != nil {
		t.Fatal(err)
	}
	for heading, example := range map[string]string{
		"## Quick start":              "example_test.go:Example_quickStart",
		"### TLS":                     "example_auth_test.go:ExampleNewTLSConfig",
		"### Authentication and ACLs": "example_auth_test.go:Example_auth",
	} {
		file, name, _ := strings.Cut(example, ":")
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok := strings.Cut(string(doc), "\n"+heading+"\n")
		_, block, ok2 := strings.Cut(after, "```go\n")
		block, _, ok3 := strings.Cut(block, "```")
		if !ok || !ok2 || !ok3 {
			t.Fatalf("no ```go block under %s in docs/go-client.md", heading)
		}
		_, body, ok := strings.Cut(string(src), "func "+name+"() {\n")
		if !ok {
			t.Fatalf("no %s in %s", name, file)
		}
		body, _, _ = strings.Cut(body, "\n}\n")
		body, _, _ = strings.Cut(body, "\t// Output:")
		var lines []string
		for _, l := range strings.Split(strings.TrimRight(body, "\n"), "\n") {
			lines = append(lines, strings.TrimPrefix(l, "\t"))
		}
		if want := strings.Join(lines, "\n") + "\n"; block != want {
			t.Errorf("docs/go-client.md's %s differs from %s:\n--- docs\n%s--- example\n%s", heading, name, block, want)
		}
	}
}

func ExampleClient_TimeToLive() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	lease, err := client.Grant(ctx, 30*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Revoke(ctx, lease.ID)
	if _, err := client.Create(ctx, "/ex-ttl", nil, corral.WithLease(lease.ID)); err != nil {
		log.Fatal(err)
	}
	ttl, err := client.TimeToLive(ctx, lease.ID, corral.WithNodes())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ttl.TTL, ttl.Remaining <= ttl.TTL, ttl.Nodes)
	if _, err := client.KeepAliveOnce(ctx, lease.ID); err != nil {
		log.Fatal(err)
	}
	leases, err := client.Leases(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range leases {
		if l.ID == lease.ID {
			fmt.Println("listed")
		}
	}
	// Output:
	// 30s true [/ex-ttl]
	// listed
}

func ExampleClient_Observe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := exampleClient()
	defer client.Close()
	leaders, err := client.Observe(ctx, "/ex-observe")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("leader:", (<-leaders).Leader)
	lease, _ := client.Grant(ctx, 10*time.Second)
	defer client.Revoke(context.Background(), lease.ID)
	if _, err := client.Campaign(ctx, "/ex-observe", lease.ID, []byte("me")); err != nil {
		log.Fatal(err)
	}
	fmt.Println("leader:", string((<-leaders).Leader.Value))
	// Output:
	// leader: <nil>
	// leader: me
}

func ExampleClient_Compact() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	r, err := client.Put(ctx, "/ex-compact", []byte("1"), corral.WithCreateIfMissing())
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.Compact(ctx, r.Header.Revision); err != nil {
		log.Fatal(err)
	}
	// A watch from a compacted revision ends with a *CompactedError.
	events, err := client.Watch(ctx, "/ex-compact", corral.WithStartRevision(r.Header.Revision))
	if err != nil {
		log.Fatal(err)
	}
	resp := <-events
	var compacted *corral.CompactedError
	fmt.Println(errors.As(resp.Err, &compacted), compacted.CompactRevision == r.Header.Revision)
	// Output: true true
}

func ExampleClient_Snapshot() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	f, err := os.CreateTemp("", "corral-backup-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	revision, err := client.Snapshot(ctx, f)
	if err != nil {
		log.Fatal(err)
	}
	info, _ := f.Stat()
	fmt.Println(revision > 0, info.Size() > 0)
	// Output: true true
}

func ExampleIsOutcomeUnknown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	client := exampleClient()
	defer client.Close()
	time.Sleep(time.Millisecond)
	_, err := client.Put(ctx, "/ex-unknown", []byte("x"), corral.WithCreateIfMissing())
	// The ctx ran out: the write may or may not have been applied.
	fmt.Println(errors.Is(err, context.DeadlineExceeded), corral.IsOutcomeUnknown(err))
	// Output: true true
}

func ExampleClient_CurrentEndpoint() {
	client := exampleClient()
	defer client.Close()
	// Calls go to one member at a time and move on when it cannot serve them.
	fmt.Println(client.CurrentEndpoint() == client.Endpoints()[0])
	// Writes carry request ids "<ClientID()>-<lane>/<sequence>".
	fmt.Println(len(client.ClientID()) > len("go-"))
	// Output:
	// true
	// true
}

func ExampleClient_TransferLeader() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	st, err := client.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	leader, err := client.TransferLeader(ctx, st.LeaderID)
	fmt.Println(leader == st.LeaderID, err)
	// Output: true <nil>
}
