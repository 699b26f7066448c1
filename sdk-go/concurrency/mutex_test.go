package concurrency_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/concurrency"
	"github.com/corral-dev/corral/sdk-go/internal/testcluster"
)

// A process started by TestMutexContentionAcrossProcesses runs mutexWorker instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("CORRAL_MUTEX_WORKER") != "" {
		if err := mutexWorker(); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(testcluster.RunMain(m, func(e []string) { endpoints = e }))
}

// mutexWorker: CORRAL_MUTEX_GOROUTINES goroutines, each with its own session, take
// the mutex CORRAL_MUTEX_ROUNDS times; inside, each checks the shared directory: the
// "inside" marker must not exist (no overlap) and its fencing token must be above the
// last one recorded.
func mutexWorker() error {
	endpoints := strings.Split(os.Getenv("CORRAL_MUTEX_ENDPOINTS"), ",")
	dir := os.Getenv("CORRAL_MUTEX_DIR")
	goroutines, _ := strconv.Atoi(os.Getenv("CORRAL_MUTEX_GOROUTINES"))
	rounds, _ := strconv.Atoi(os.Getenv("CORRAL_MUTEX_ROUNDS"))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c, err := corral.New(ctx, corral.Config{Endpoints: endpoints})
	if err != nil {
		return err
	}
	defer c.Close()
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := concurrency.NewSession(ctx, c, concurrency.WithTTL(5*time.Second))
			if err != nil {
				errs <- err
				return
			}
			defer s.Close(context.Background())
			m := concurrency.NewMutex(s, "/locks/shared")
			for range rounds {
				if err := m.Lock(ctx); err != nil {
					errs <- fmt.Errorf("lock: %w", err)
					return
				}
				if err := critical(dir, m.FencingToken(), fmt.Sprintf("%d/%d", os.Getpid(), g)); err != nil {
					errs <- err
					return
				}
				if err := m.Unlock(ctx); err != nil {
					errs <- fmt.Errorf("unlock: %w", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// critical is the protected section, on files shared by every process.
func critical(dir string, token int64, who string) error {
	inside := filepath.Join(dir, "inside")
	f, err := os.OpenFile(inside, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("overlap: %s entered while another holder was inside: %w", who, err)
	}
	_ = f.Close()
	last, _ := os.ReadFile(filepath.Join(dir, "token"))
	if prev, _ := strconv.ParseInt(string(last), 10, 64); token <= prev {
		return fmt.Errorf("fencing token %d of %s not above the last one %d", token, who, prev)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(strconv.FormatInt(token, 10)), 0o644); err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(log, "%d %s\n", token, who)
	_ = log.Close()
	if err != nil {
		return err
	}
	time.Sleep(time.Millisecond)
	return os.Remove(inside)
}

// Must show (2): 20 goroutines in 4 processes contend on one Mutex for 500
// acquisitions: no two holds overlap (checked on shared files), and fencing tokens
// strictly increase.
func TestMutexContentionAcrossProcesses(t *testing.T) {
	const processes, goroutines, rounds = 4, 5, 25
	cl := testcluster.Start(t, 3)
	dir := t.TempDir()
	eps := cl.Endpoints()
	var cmds []*exec.Cmd
	for p := range processes {
		// Each process starts on a different member.
		order := append(append([]string{}, eps[p%3:]...), eps[:p%3]...)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "CORRAL_MUTEX_WORKER=1",
			"CORRAL_MUTEX_ENDPOINTS="+strings.Join(order, ","), "CORRAL_MUTEX_DIR="+dir,
			"CORRAL_MUTEX_GOROUTINES="+strconv.Itoa(goroutines), "CORRAL_MUTEX_ROUNDS="+strconv.Itoa(rounds))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v", i, err)
		}
	}
	f, err := os.Open(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last int64
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		token, err := strconv.ParseInt(strings.Fields(sc.Text())[0], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if token <= last {
			t.Fatalf("acquisition %d: token %d after %d", n, token, last)
		}
		last = token
		n++
	}
	if n != processes*goroutines*rounds {
		t.Fatalf("%d acquisitions recorded, want %d", n, processes*goroutines*rounds)
	}
}

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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func session(t testing.TB, c *corral.Client, ttl time.Duration) *concurrency.Session {
	t.Helper()
	s, err := concurrency.NewSession(testCtx(t), c, concurrency.WithTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// Must show (4c): an Unlock retried late (etcd #22082) never releases a newer hold of
// the same session: the server releases by key and lease, and each hold has its own key.
func TestStaleUnlockRetryNeverReleasesNewerHold(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	s := session(t, c, 10*time.Second)
	m := concurrency.NewMutex(s, "/locks/job")
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	oldKey, oldToken := m.Key(), m.FencingToken()
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Key() == oldKey || m.FencingToken() <= oldToken {
		t.Fatalf("new hold %s/%d looks like the old %s/%d", m.Key(), m.FencingToken(), oldKey, oldToken)
	}
	// The first Unlock's retry, arriving late, with the same session's lease.
	if _, err := c.Unlock(ctx, oldKey, s.Lease()); err != nil {
		t.Fatalf("late unlock of a gone entry: %v", err)
	}
	if _, err := c.Get(ctx, m.Key()); err != nil {
		t.Fatalf("the newer hold was released by the stale retry: %v", err)
	}
	other := session(t, c, 10*time.Second)
	if err := concurrency.NewMutex(other, "/locks/job").TryLock(ctx); !errors.Is(err, concurrency.ErrLocked) {
		t.Fatalf("another session got the lock the first still holds: %v", err)
	}
}

// Must show (4d): a lock holder is told when its session ends (etcd #6127), and a
// waiter's Lock returns instead of hanging.
func TestLockHolderAndWaiterAreToldWhenSessionEnds(t *testing.T) {
	cl := testcluster.Start(t, 1)
	c := connect(t, cl.Endpoints()...)
	admin := connect(t, cl.Endpoints()...)
	ctx := testCtx(t)
	holder := session(t, c, 2*time.Second)
	m := concurrency.NewMutex(holder, "/locks/x")
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	waiterSession := session(t, c, 2*time.Second)
	waiter := concurrency.NewMutex(waiterSession, "/locks/x")
	waited := make(chan error, 1)
	go func() { waited <- waiter.Lock(ctx) }()
	time.Sleep(300 * time.Millisecond)

	// The waiter's session ends (its lease revoked behind its back): Lock returns.
	if _, err := admin.Revoke(ctx, waiterSession.Lease()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waited:
		if !errors.Is(err, concurrency.ErrSessionExpired) {
			t.Fatalf("waiter's Lock: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("waiter's Lock still blocked 15 s after its session ended")
	}

	// The holder's session ends: Done is closed, and the session says why.
	if _, err := admin.Revoke(ctx, holder.Lease()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("holder not told within 15 s that its session ended")
	}
	select {
	case <-holder.Done():
		if !errors.Is(holder.Err(), concurrency.ErrSessionExpired) {
			t.Fatalf("session error: %v", holder.Err())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("session Done not closed")
	}
	if err := m.Lock(ctx); !errors.Is(err, concurrency.ErrSessionExpired) {
		t.Fatalf("Lock on an ended session: %v", err)
	}
}
