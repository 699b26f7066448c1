// Package discovery registers service instances in Corral and finds them: each
// instance is an ephemeral znode <root>/<service>/<id> bound to a session, holding
// its address and metadata as JSON, so it vanishes when its process dies or its
// session ends. Lookups list a service's instances; Watch follows them.
package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/concurrency"
)

// DefaultRoot is the znode under which services are registered.
const DefaultRoot = "/services"

// Instance is one registered instance of a service.
type Instance struct {
	// ID names the instance within its service (a path segment); empty at Register
	// lets the server number it ("instance-NNNNNNNNNN").
	ID string `json:"-"`
	// Addr is where it serves, host:port.
	Addr string `json:"addr"`
	// Metadata is free-form (version, zone, weight, ...).
	Metadata map[string]string `json:"metadata,omitempty"`
}

// Registry registers and finds instances under a root znode.
type Registry struct {
	c    *corral.Client
	root string
}

// Option configures a Registry.
type Option func(*Registry)

// WithRoot sets the root znode (default DefaultRoot).
func WithRoot(root string) Option {
	return func(r *Registry) { r.root = strings.TrimSuffix(root, "/") }
}

// New returns a registry on client c.
func New(c *corral.Client, opts ...Option) *Registry {
	r := &Registry{c: c, root: DefaultRoot}
	for _, f := range opts {
		f(r)
	}
	return r
}

func (r *Registry) servicePath(service string) (string, error) {
	if service == "" || strings.Contains(service, "/") {
		return "", fmt.Errorf("discovery: service name %q must be one non-empty path segment", service)
	}
	return r.root + "/" + service, nil
}

// Registration is a registered instance; it lasts as long as its session.
type Registration struct {
	c    *corral.Client
	Path string
	// Instance as registered (ID set to the znode's name).
	Instance Instance
}

// Register registers inst as an instance of service, bound to session s: the znode is
// deleted when the session ends (or the process dies and its lease expires).
func (r *Registry) Register(ctx context.Context, s *concurrency.Session, service string, inst Instance) (*Registration, error) {
	dir, err := r.servicePath(service)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(inst)
	if err != nil {
		return nil, err
	}
	opts := []corral.Option{corral.WithLease(s.Lease()), corral.WithCreateParents()}
	p := dir + "/" + inst.ID
	if inst.ID == "" {
		p = dir + "/instance-"
		opts = append(opts, corral.WithSequential())
	}
	created, err := r.c.Create(ctx, p, data, opts...)
	if err != nil {
		return nil, err
	}
	inst.ID = path.Base(created.Path)
	return &Registration{c: r.c, Path: created.Path, Instance: inst}, nil
}

// Deregister removes the instance now (rather than when its session ends).
func (g *Registration) Deregister(ctx context.Context) error {
	if _, err := g.c.Delete(ctx, g.Path); err != nil && !errors.Is(err, corral.ErrNotFound) {
		return err
	}
	return nil
}

func decode(n corral.Node) (Instance, bool) {
	var inst Instance
	if err := json.Unmarshal(n.Data, &inst); err != nil || inst.Addr == "" {
		return Instance{}, false
	}
	inst.ID = path.Base(n.Path)
	return inst, true
}

// Instances lists service's instances (by ID), with the revision of the listing.
// Znodes that do not hold an instance are skipped.
func (r *Registry) Instances(ctx context.Context, service string) ([]Instance, int64, error) {
	dir, err := r.servicePath(service)
	if err != nil {
		return nil, 0, err
	}
	l, err := r.c.ListAll(ctx, dir, corral.WithData())
	if errors.Is(err, corral.ErrNotFound) {
		g, gerr := r.c.Get(ctx, "/", corral.WithStatOnly())
		if gerr != nil {
			return nil, 0, gerr
		}
		return nil, g.Header.Revision, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var out []Instance
	for _, n := range l.Nodes {
		if inst, ok := decode(n); ok {
			out = append(out, inst)
		}
	}
	return out, l.Header.Revision, nil
}

// Watch follows service's instances: the channel gets the whole list now and again
// after every change (registration, update, deregistration, session end), in order.
// It is closed when ctx ends, or when the client is closed. A watch whose history was
// compacted re-reads the list and goes on.
func (r *Registry) Watch(ctx context.Context, service string) (<-chan []Instance, error) {
	dir, err := r.servicePath(service)
	if err != nil {
		return nil, err
	}
	insts, rev, err := r.Instances(ctx, service)
	if err != nil {
		return nil, err
	}
	wch, err := r.c.Watch(ctx, dir, corral.WithScope(corral.ScopeChildren), corral.WithStartRevision(rev+1))
	if err != nil {
		return nil, err
	}
	out := make(chan []Instance, 1)
	byID := map[string]Instance{}
	for _, i := range insts {
		byID[i.ID] = i
	}
	go func() {
		defer close(out)
		send := func() bool {
			list := make([]Instance, 0, len(byID))
			for _, i := range byID {
				list = append(list, i)
			}
			sort.Slice(list, func(a, b int) bool { return list[a].ID < list[b].ID })
			select {
			case out <- list:
				return true
			case <-ctx.Done():
				return false
			}
		}
		if !send() {
			return
		}
		for {
			resp, ok := <-wch
			if !ok {
				return
			}
			if resp.Err != nil {
				// Compacted (or failed for good): start over from a fresh listing.
				insts, rev, err := r.Instances(ctx, service)
				if err != nil {
					return
				}
				if wch, err = r.c.Watch(ctx, dir, corral.WithScope(corral.ScopeChildren), corral.WithStartRevision(rev+1)); err != nil {
					return
				}
				clear(byID)
				for _, i := range insts {
					byID[i.ID] = i
				}
			}
			for _, ev := range resp.Events {
				id := path.Base(ev.Node.Path)
				if ev.Type == corral.Deleted {
					delete(byID, id)
				} else if inst, ok := decode(ev.Node); ok {
					byID[id] = inst
				}
			}
			if !send() {
				return
			}
		}
	}()
	return out, nil
}
