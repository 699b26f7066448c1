package corral_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/internal/testcluster"
)

// Must show (1): kill -9 of the member a watch is connected to, in a 3-member cluster,
// while 2,000 writes go on: every event arrives exactly once, in order.
func TestWatchResumesAcrossKilledMemberWithoutGapOrRepeat(t *testing.T) {
	const writes = 2000
	cl := testcluster.Start(t, 3)
	ctx := testCtx(t)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	// The watcher starts on member 1; the writer on member 2 (it may fail over too).
	watcher := connect(t, cl.Endpoints()...)
	eps := cl.Endpoints()
	writer := connect(t, eps[1], eps[2], eps[0])
	if _, err := writer.Create(ctx, "/w", nil); err != nil {
		t.Fatal(err)
	}
	wch, err := watcher.Watch(ctx, "/w", corral.WithScope(corral.ScopeSubtree))
	if err != nil {
		t.Fatal(err)
	}
	watched := cl.Member(watcher.CurrentEndpoint())

	var wg sync.WaitGroup
	writeErr := make(chan error, 1)
	killed := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range writes {
			if i == writes/4 {
				watched.Kill()
				close(killed)
			}
			if _, err := writer.Put(ctx, fmt.Sprintf("/w/k%d", i%50), []byte(strconv.Itoa(i)), corral.WithCreateIfMissing()); err != nil {
				writeErr <- fmt.Errorf("write %d: %w", i, err)
				return
			}
		}
	}()

	next := 0
	var lastRev int64
	for next < writes {
		select {
		case r, ok := <-wch:
			if !ok {
				t.Fatalf("watch channel closed after %d events", next)
			}
			if r.Err != nil {
				t.Fatalf("watch ended after %d events: %v", next, r.Err)
			}
			for _, ev := range r.Events {
				if ev.Revision <= lastRev {
					t.Fatalf("event %d: revision %d after %d (repeat or disorder)", next, ev.Revision, lastRev)
				}
				lastRev = ev.Revision
				if got := string(ev.Node.Data); got != strconv.Itoa(next) {
					t.Fatalf("event %d carries write %s (gap or repeat)", next, got)
				}
				next++
			}
		case err := <-writeErr:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("only %d of %d events before the deadline", next, writes)
		}
	}
	wg.Wait()
	<-killed
	if watcher.CurrentEndpoint() == watched.ClientAddr {
		t.Fatalf("the watch is still on the killed member %s", watched.ClientAddr)
	}
	// Nothing more: no repeated event arrives after the last write.
	if _, err := writer.Put(ctx, "/w/end", []byte("end"), corral.WithCreateIfMissing()); err != nil {
		t.Fatal(err)
	}
	r := <-wch
	if len(r.Events) != 1 || r.Events[0].Node.Path != "/w/end" {
		t.Fatalf("after the last write: %+v", r)
	}
}

// Must show (4a): cancelling a watch's ctx frees its server-side watcher (the
// corral_watchers gauge on /metrics) and its goroutines.
func TestCancelledWatchFreesServerWatcherAndGoroutines(t *testing.T) {
	cl := testcluster.Start(t, 1)
	m := cl.Members[0]
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	if _, err := c.Put(ctx, "/warm", nil, corral.WithCreateIfMissing()); err != nil {
		t.Fatal(err)
	}
	before, err := m.Metric(ctx, "corral_watchers")
	if err != nil {
		t.Fatal(err)
	}
	// After the first /metrics read, so the HTTP client's connection goroutines count.
	baseline := goroutinesSettled(0)
	const n = 20
	var cancels []context.CancelFunc
	var chans []corral.WatchChan
	for i := range n {
		wctx, cancel := context.WithCancel(ctx)
		ch, err := c.Watch(wctx, fmt.Sprintf("/watched/%d", i))
		if err != nil {
			t.Fatal(err)
		}
		cancels = append(cancels, cancel)
		chans = append(chans, ch)
	}
	waitMetric(t, m, "corral_watchers", before+n)
	for _, cancel := range cancels {
		cancel()
	}
	for _, ch := range chans {
		for range ch {
		}
	}
	waitMetric(t, m, "corral_watchers", before)
	if after := goroutinesSettled(baseline); after > baseline {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before the watches, %d after cancelling them\n%s", baseline, after, buf[:runtime.Stack(buf, true)])
	}
}

// goroutinesSettled waits (up to 5 s) for the goroutine count to fall to target, and
// returns it; with target 0 it returns the count once goroutines have had a moment to end.
func goroutinesSettled(target int) int {
	if target == 0 {
		time.Sleep(200 * time.Millisecond)
		return runtime.NumGoroutine()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= target || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitMetric(t *testing.T, m *testcluster.Member, name string, want float64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var got float64
	var err error
	for time.Now().Before(deadline) {
		got, err = m.Metric(context.Background(), name)
		if err == nil && got == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s = %v (err %v), want %v", name, got, err, want)
}

// Writes fail over when their member is killed with writes in flight, and each
// applies once: a create retried with its request id returns the path of its first
// application, and no create is applied twice.
func TestWritesFailOverAndApplyOnceWhenTheirMemberIsKilled(t *testing.T) {
	const writers, each = 4, 75
	cl := testcluster.Start(t, 3)
	ctx := testCtx(t)
	c := connect(t, cl.Endpoints()...)
	if _, err := c.Create(ctx, "/seq", nil); err != nil {
		t.Fatal(err)
	}
	first := cl.Member(c.CurrentEndpoint())
	var mu sync.Mutex
	paths := map[string]string{} // path -> data
	var acked sync.WaitGroup
	acked.Add(writers * each / 3)
	go func() { acked.Wait(); first.Kill() }()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				data := fmt.Sprintf("%d/%d", w, i)
				r, err := c.Create(ctx, "/seq/n-", []byte(data), corral.WithSequential())
				if err != nil {
					errs <- fmt.Errorf("write %s: %w", data, err)
					return
				}
				mu.Lock()
				if prev, dup := paths[r.Path]; dup {
					errs <- fmt.Errorf("write %s got %s, already returned for %s", data, r.Path, prev)
				}
				paths[r.Path] = data
				n := len(paths)
				mu.Unlock()
				if n <= writers*each/3 {
					acked.Done()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if c.CurrentEndpoint() == first.ClientAddr {
		t.Fatal("still on the killed member")
	}
	l, err := c.ListAll(ctx, "/seq", corral.WithData())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Nodes) != writers*each {
		t.Fatalf("%d znodes for %d acknowledged creates", len(l.Nodes), writers*each)
	}
	for _, n := range l.Nodes {
		if paths[n.Path] != string(n.Data) {
			t.Fatalf("%s = %q, but that create returned %q", n.Path, n.Data, paths[n.Path])
		}
	}
}

func TestWatchOfAnInvalidPathFailsAtOnce(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	if _, err := c.Watch(testCtx(t), "no-slash"); !errors.Is(err, corral.ErrInvalidArgument) {
		t.Fatalf("watch of an invalid path: %v", err)
	}
}

// Close ends every background goroutine of the client: watches, observers, keepalives.
func TestCloseEndsTheClientsGoroutines(t *testing.T) {
	cl := testcluster.Start(t, 1)
	ctx := testCtx(t)
	baseline := goroutinesSettled(0)
	c, err := corral.New(ctx, corral.Config{Endpoints: cl.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	wch, err := c.Watch(ctx, "/x")
	if err != nil {
		t.Fatal(err)
	}
	lease, err := c.Grant(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	kch, err := c.KeepAlive(ctx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	och, err := c.Observe(ctx, "/e")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for range wch {
	}
	for range kch {
	}
	for range och {
	}
	if _, err := c.Get(ctx, "/"); !errors.Is(err, corral.ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
	if after := goroutinesSettled(baseline); after > baseline {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines: %d before New, %d after Close\n%s", baseline, after, buf[:runtime.Stack(buf, true)])
	}
}
