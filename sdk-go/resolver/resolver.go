// Package resolver is a grpc-go name resolver for services registered with the
// discovery package: a client dialing "corral:///echo" gets the addresses of the
// registered instances of service "echo", kept up to date as instances register
// and vanish. Combine it with a balancer such as round_robin.
package resolver

import (
	"context"
	"strings"
	"sync"
	"time"

	grpcresolver "google.golang.org/grpc/resolver"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/discovery"
)

// Scheme is the URI scheme of the resolver: corral:///service-name.
const Scheme = "corral"

// NewBuilder returns a resolver builder for Scheme that finds services through client
// c (with the discovery options, e.g. discovery.WithRoot). Pass it to
// grpc.NewClient with grpc.WithResolvers, or register it with resolver.Register.
func NewBuilder(c *corral.Client, opts ...discovery.Option) grpcresolver.Builder {
	return &builder{registry: discovery.New(c, opts...)}
}

type builder struct {
	registry *discovery.Registry
}

func (b *builder) Scheme() string { return Scheme }

// Build starts following the target's service: corral:///name (or corral://authority/name).
func (b *builder) Build(target grpcresolver.Target, cc grpcresolver.ClientConn, _ grpcresolver.BuildOptions) (grpcresolver.Resolver, error) {
	service := strings.TrimPrefix(target.Endpoint(), "/")
	ctx, cancel := context.WithCancel(context.Background())
	r := &resolver{cancel: cancel}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.follow(ctx, b.registry, service, cc)
	}()
	return r, nil
}

type resolver struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// follow pushes every change of the instance list to gRPC, re-subscribing after a
// failed watch until the resolver is closed.
func (r *resolver) follow(ctx context.Context, reg *discovery.Registry, service string, cc grpcresolver.ClientConn) {
	for ctx.Err() == nil {
		ch, err := reg.Watch(ctx, service)
		if err != nil {
			if ctx.Err() == nil {
				cc.ReportError(err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for insts := range ch {
			addrs := make([]grpcresolver.Address, 0, len(insts))
			for _, i := range insts {
				addrs = append(addrs, grpcresolver.Address{Addr: i.Addr})
			}
			_ = cc.UpdateState(grpcresolver.State{Addresses: addrs})
		}
	}
}

// ResolveNow does nothing: the resolver is pushed every change.
func (r *resolver) ResolveNow(grpcresolver.ResolveNowOptions) {}

// Close stops following the service.
func (r *resolver) Close() {
	r.cancel()
	r.wg.Wait()
}
