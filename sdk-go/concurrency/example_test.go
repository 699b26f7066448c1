package concurrency_test

import (
	"context"
	"fmt"
	"log"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/concurrency"
)

// endpoints of the member the examples run against (started by TestMain).
var endpoints []string

func exampleClient() *corral.Client {
	client, err := corral.New(context.Background(), corral.Config{Endpoints: endpoints})
	if err != nil {
		log.Fatal(err)
	}
	return client
}

func ExampleNewSession() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	session, err := concurrency.NewSession(ctx, client, concurrency.WithTTL(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	// Bind ephemeral znodes to the session's lease.
	if _, err := client.Create(ctx, "/ex-session", nil, corral.WithLease(session.Lease())); err != nil {
		log.Fatal(err)
	}
	select {
	case <-session.Done():
		fmt.Println("session lost:", session.Err())
	default:
		fmt.Println("session alive")
	}
	_ = session.Close(ctx) // revokes the lease: /ex-session goes at once
	<-session.Done()
	fmt.Println(session.Err())
	// Output:
	// session alive
	// concurrency: session closed
}

func ExampleNewMutex() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	session, err := concurrency.NewSession(ctx, client)
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close(ctx)
	m := concurrency.NewMutex(session, "/ex-locks/db")
	if err := m.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	// Pass the token to the protected resource; it rejects lower tokens than one seen.
	fmt.Println("token > 0:", m.FencingToken() > 0)
	select {
	case <-m.Done():
		fmt.Println("lost the lock: stop using the resource")
	default:
	}
	if err := m.Unlock(ctx); err != nil {
		log.Fatal(err)
	}
	// Output: token > 0: true
}

func ExampleMutex_TryLock() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	a, _ := concurrency.NewSession(ctx, client)
	b, _ := concurrency.NewSession(ctx, client)
	defer a.Close(ctx)
	defer b.Close(ctx)
	if err := concurrency.NewMutex(a, "/ex-locks/try").Lock(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(concurrency.NewMutex(b, "/ex-locks/try").TryLock(ctx))
	// Output: concurrency: locked by another session
}

func ExampleNewRWMutex() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	session, _ := concurrency.NewSession(ctx, client)
	defer session.Close(ctx)
	rw := concurrency.NewRWMutex(session, "/ex-rw")
	if err := rw.RLock(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("reading")
	_ = rw.RUnlock(ctx)
	if err := rw.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("writing")
	_ = rw.Unlock(ctx)
	// Output:
	// reading
	// writing
}

func ExampleNewSemaphore() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	session, _ := concurrency.NewSession(ctx, client)
	defer session.Close(ctx)
	sem := concurrency.NewSemaphore(session, "/ex-sem", 3)
	if err := sem.Acquire(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("one of at most 3")
	_ = sem.Release(ctx)
	// Output: one of at most 3
}

func ExampleNewElection() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	session, _ := concurrency.NewSession(ctx, client)
	defer session.Close(ctx)
	e := concurrency.NewElection(session, "/ex-elections/scheduler")
	if err := e.Campaign(ctx, []byte("10.0.0.7:9000")); err != nil {
		log.Fatal(err)
	}
	leader, err := e.Leader(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("leading:", leader.Key == e.Key().Key, string(leader.Value))
	_ = e.Resign(ctx)
	// Output: leading: true 10.0.0.7:9000
}

func ExampleElection_Observe() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := exampleClient()
	defer client.Close()
	session, _ := concurrency.NewSession(ctx, client)
	defer session.Close(context.Background())
	e := concurrency.NewElection(session, "/ex-elections/observed")
	changes, err := e.Observe(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("leader:", (<-changes).Leader)
	_ = e.Campaign(ctx, []byte("me"))
	fmt.Println("leader:", string((<-changes).Leader.Value))
	// Output:
	// leader: <nil>
	// leader: me
}

func ExampleNewBarrier() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	b := concurrency.NewBarrier(client, "/ex-barrier")
	_ = b.Hold(ctx)
	go func() { time.Sleep(50 * time.Millisecond); _ = b.Release(ctx) }()
	fmt.Println(b.Wait(ctx))
	// Output: <nil>
}

func ExampleNewDoubleBarrier() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	done := make(chan error, 2)
	for range 2 {
		go func() {
			s, err := concurrency.NewSession(ctx, client)
			if err != nil {
				done <- err
				return
			}
			defer s.Close(ctx)
			b := concurrency.NewDoubleBarrier(s, "/ex-double", 2)
			if err := b.Enter(ctx); err != nil {
				done <- err
				return
			}
			done <- b.Leave(ctx)
		}()
	}
	fmt.Println(<-done, <-done)
	// Output: <nil> <nil>
}

func ExampleNewQueue() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	q := concurrency.NewQueue(client, "/ex-queue")
	for _, job := range []string{"first", "second"} {
		if err := q.Enqueue(ctx, []byte(job)); err != nil {
			log.Fatal(err)
		}
	}
	for range 2 {
		v, err := q.Dequeue(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(v))
	}
	// Output:
	// first
	// second
}

func ExampleSession_Orphan() {
	ctx := context.Background()
	client := exampleClient()
	defer client.Close()
	s, err := concurrency.NewSession(ctx, client, concurrency.WithTTL(time.Second))
	if err != nil {
		log.Fatal(err)
	}
	// Stop the keepalives as a crash would: the lease expires after its TTL.
	s.Orphan()
	<-s.Done()
	again, err := concurrency.NewSession(ctx, client, concurrency.WithExistingLease(s.Lease()))
	if err == nil {
		// Taken over in time: the lease lives on.
		fmt.Println("taken over")
		_ = again.Close(ctx)
	}
	// Output: taken over
}
