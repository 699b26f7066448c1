package discovery_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/concurrency"
	"github.com/corral-dev/corral/sdk-go/discovery"
	"github.com/corral-dev/corral/sdk-go/internal/testcluster"
)

var endpoints []string

func TestMain(m *testing.M) {
	os.Exit(testcluster.RunMain(m, func(e []string) { endpoints = e }))
}

func ExampleRegistry_Register() {
	ctx := context.Background()
	client, err := corral.New(ctx, corral.Config{Endpoints: endpoints})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	// The registration lasts as long as the session: a crashed process's instance
	// vanishes within the TTL.
	session, err := concurrency.NewSession(ctx, client, concurrency.WithTTL(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close(ctx)
	reg := discovery.New(client)
	if _, err := reg.Register(ctx, session, "billing", discovery.Instance{ID: "host-1", Addr: "10.0.0.1:8080",
		Metadata: map[string]string{"zone": "a"}}); err != nil {
		log.Fatal(err)
	}
	insts, _, err := reg.Instances(ctx, "billing")
	if err != nil {
		log.Fatal(err)
	}
	for _, i := range insts {
		fmt.Println(i.ID, i.Addr, i.Metadata["zone"])
	}
	// Output: host-1 10.0.0.1:8080 a
}

func ExampleRegistry_Watch() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client, err := corral.New(ctx, corral.Config{Endpoints: endpoints})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	reg := discovery.New(client)
	changes, err := reg.Watch(ctx, "search")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(<-changes), "instances")
	session, err := concurrency.NewSession(ctx, client)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := reg.Register(ctx, session, "search", discovery.Instance{Addr: "10.0.0.2:9200"}); err != nil {
		log.Fatal(err)
	}
	now := <-changes
	fmt.Println(len(now), "instance at", now[0].Addr)
	_ = session.Close(ctx) // deregisters
	fmt.Println(len(<-changes), "instances")
	// Output:
	// 0 instances
	// 1 instance at 10.0.0.2:9200
	// 0 instances
}

func ExampleRegistration_Deregister() {
	ctx := context.Background()
	client, err := corral.New(ctx, corral.Config{Endpoints: endpoints})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	session, err := concurrency.NewSession(ctx, client)
	if err != nil {
		log.Fatal(err)
	}
	defer session.Close(ctx)
	reg := discovery.New(client, discovery.WithRoot("/ex-services"))
	r, err := reg.Register(ctx, session, "mail", discovery.Instance{Addr: "10.0.0.3:25"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.Path)
	_ = r.Deregister(ctx) // leaving now, before the session ends
	insts, _, _ := reg.Instances(ctx, "mail")
	fmt.Println(len(insts))
	// Output:
	// /ex-services/mail/instance-0000000000
	// 0
}
