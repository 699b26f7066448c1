package resolver_test

import (
	"context"
	"fmt"
	"log"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/resolver"
)

// endpoints of the member the examples run against (started by TestMain).
var endpoints []string

func ExampleNewBuilder() {
	client, err := corral.New(context.Background(), corral.Config{Endpoints: endpoints})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	// Requests to corral:///echo are spread over the registered instances of "echo"
	// (see the discovery package), following them as they come and go.
	conn, err := grpc.NewClient("corral:///echo",
		grpc.WithResolvers(resolver.NewBuilder(client)),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	fmt.Println(conn.CanonicalTarget())
	// Output: corral:///echo
}
