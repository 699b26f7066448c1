// Command crosssdk is the Go side of the cross-SDK test (sdk-python/tests/test_cross_sdk.py):
// it writes a value through the Go SDK, takes a lock through its concurrency package,
// prints "LOCKED <fencing token>", holds the lock until its stdin closes, then unlocks.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/concurrency"
)

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2479", "comma-separated members")
	path := flag.String("path", "/cross/value", "znode to write every byte value to")
	lock := flag.String("lock", "/locks/cross", "lock to hold until stdin closes")
	flag.Parse()
	if err := run(strings.Split(*endpoints, ","), *path, *lock); err != nil {
		fmt.Fprintln(os.Stderr, "crosssdk:", err)
		os.Exit(1)
	}
}

func run(endpoints []string, path, lock string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client, err := corral.New(ctx, corral.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer client.Close()
	value := make([]byte, 256)
	for i := range value {
		value[i] = byte(i)
	}
	if _, err := client.Create(ctx, path, value, corral.WithCreateParents()); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	session, err := concurrency.NewSession(ctx, client, concurrency.WithTTL(10*time.Second))
	if err != nil {
		return err
	}
	defer func() { _ = session.Close(context.Background()) }()
	mutex := concurrency.NewMutex(session, lock)
	if err := mutex.Lock(ctx); err != nil {
		return fmt.Errorf("lock %s: %w", lock, err)
	}
	fmt.Printf("LOCKED %d\n", mutex.FencingToken())
	// Hold until the test closes our stdin.
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return mutex.Unlock(ctx)
}
