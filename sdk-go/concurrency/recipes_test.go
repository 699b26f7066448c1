package concurrency_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/concurrency"
	"github.com/corral-dev/corral/sdk-go/internal/testcluster"
)

func TestElectionCampaignProclaimObserveResign(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	a := concurrency.NewElection(session(t, c, 10*time.Second), "/elections/sched")
	b := concurrency.NewElection(session(t, c, 10*time.Second), "/elections/sched")
	if err := a.Campaign(ctx, []byte("a")); err != nil {
		t.Fatal(err)
	}
	obs, err := b.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o := <-obs; o.Leader == nil || string(o.Leader.Value) != "a" {
		t.Fatalf("observed %+v", o)
	}
	bWon := make(chan error, 1)
	go func() { bWon <- b.Campaign(ctx, []byte("b")) }()
	if err := b.Proclaim(ctx, []byte("x")); !errors.Is(err, concurrency.ErrNotLeader) {
		t.Fatalf("proclaim before leading: %v", err)
	}
	if err := a.Proclaim(ctx, []byte("a2")); err != nil {
		t.Fatal(err)
	}
	if o := <-obs; string(o.Leader.Value) != "a2" {
		t.Fatalf("observed %+v", o)
	}
	aRev := a.Rev()
	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-bWon; err != nil {
		t.Fatal(err)
	}
	if b.Rev() <= aRev {
		t.Fatalf("new leader's revision %d not above %d", b.Rev(), aRev)
	}
	l, err := a.Leader(ctx)
	if err != nil || string(l.Value) != "b" {
		t.Fatalf("leader: %+v %v", l, err)
	}
}

func TestRWMutexReadersShareWritersExclude(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	r1 := concurrency.NewRWMutex(session(t, c, 10*time.Second), "/rw")
	r2 := concurrency.NewRWMutex(session(t, c, 10*time.Second), "/rw")
	w := concurrency.NewRWMutex(session(t, c, 10*time.Second), "/rw")
	if err := r1.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r2.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	var writing atomic.Bool
	wrote := make(chan error, 1)
	go func() {
		err := w.Lock(ctx)
		writing.Store(true)
		wrote <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if writing.Load() {
		t.Fatal("writer got in with readers holding")
	}
	_ = r1.RUnlock(ctx)
	_ = r2.RUnlock(ctx)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := r1.RLock(rctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("reader while writing: %v", err)
	}
	if err := w.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r1.RLock(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSemaphoreAdmitsAtMostN(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	const permits, users = 2, 5
	var in, most atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, users)
	for range users {
		sem := concurrency.NewSemaphore(session(t, c, 10*time.Second), "/sem", permits)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if err := sem.Acquire(ctx); err != nil {
					errs <- err
					return
				}
				n := in.Add(1)
				for {
					m := most.Load()
					if n <= m || most.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
				in.Add(-1)
				if err := sem.Release(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if most.Load() > permits {
		t.Fatalf("%d holders at once, at most %d allowed", most.Load(), permits)
	}
}

func TestBarrierDoubleBarrierAndQueue(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)

	b := concurrency.NewBarrier(c, "/barriers/start")
	if err := b.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	passed := make(chan error, 1)
	go func() { passed <- b.Wait(ctx) }()
	select {
	case <-passed:
		t.Fatal("passed a held barrier")
	case <-time.After(200 * time.Millisecond):
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-passed; err != nil {
		t.Fatal(err)
	}

	const n = 3
	var wg sync.WaitGroup
	var entered atomic.Int32
	errs := make(chan error, 2*n)
	for range n {
		db := concurrency.NewDoubleBarrier(session(t, c, 10*time.Second), "/barriers/double", n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := db.Enter(ctx); err != nil {
				errs <- err
				return
			}
			// Every participant is past Enter only once all n entered.
			entered.Add(1)
			errs <- db.Leave(ctx)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if entered.Load() != n {
		t.Fatalf("%d entered", entered.Load())
	}

	q := concurrency.NewQueue(c, "/queues/jobs")
	got := make(chan string, 3)
	go func() {
		for range 3 {
			v, err := q.Dequeue(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			got <- string(v)
		}
	}()
	time.Sleep(100 * time.Millisecond)
	for _, v := range []string{"a", "b", "c"} {
		if err := q.Enqueue(ctx, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"a", "b", "c"} {
		if v := <-got; v != want {
			t.Fatalf("dequeued %q, want %q", v, want)
		}
	}
	if _, err := c.Get(ctx, "/queues/jobs/item-0000000000"); !errors.Is(err, corral.ErrNotFound) {
		t.Fatalf("dequeued item still there: %v", err)
	}
}

// A Lock waiting on a member that is killed goes on waiting on another member (the
// lease's place in the queue is kept) and gets the lock when its holder lets go.
func TestWaitingLockSurvivesItsMembersDeath(t *testing.T) {
	cl := testcluster.Start(t, 3)
	ctx := testCtx(t)
	eps := cl.Endpoints()
	holderClient := connect(t, eps[1], eps[2], eps[0])
	waiterClient := connect(t, eps...)
	holder := concurrency.NewMutex(session(t, holderClient, 5*time.Second), "/locks/failover")
	if err := holder.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	waiter := concurrency.NewMutex(session(t, waiterClient, 5*time.Second), "/locks/failover")
	got := make(chan error, 1)
	go func() { got <- waiter.Lock(ctx) }()
	time.Sleep(300 * time.Millisecond)
	cl.Member(waiterClient.CurrentEndpoint()).Kill()
	time.Sleep(time.Second)
	holderToken := holder.FencingToken()
	if err := holder.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("waiter did not get the lock within 30 s of its release")
	}
	if waiter.FencingToken() <= holderToken {
		t.Fatalf("waiter's token %d not above the holder's %d", waiter.FencingToken(), holderToken)
	}
}
