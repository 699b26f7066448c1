package resolver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	corral "github.com/corral-dev/corral/sdk-go"
	"github.com/corral-dev/corral/sdk-go/concurrency"
	"github.com/corral-dev/corral/sdk-go/discovery"
	"github.com/corral-dev/corral/sdk-go/internal/testcluster"
	"github.com/corral-dev/corral/sdk-go/resolver"
)

// sessionTTL of the echo servers' registrations.
const sessionTTL = 2 * time.Second

// A process started by the test runs an echo server instead of the tests.
func TestMain(m *testing.M) {
	if id := os.Getenv("CORRAL_ECHO_ID"); id != "" {
		if err := echoServer(id, strings.Split(os.Getenv("CORRAL_ECHO_ENDPOINTS"), ",")); err != nil {
			fmt.Fprintln(os.Stderr, "echo server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(testcluster.RunMain(m, func(e []string) { endpoints = e }))
}

// echoServer serves gRPC health checks, answering with header "instance: <id>",
// registers itself as an instance of "echo", says "ready" and serves until killed.
func echoServer(id string, endpoints []string) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		_ = grpc.SetHeader(ctx, metadata.Pairs("instance", id))
		return h(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	ctx := context.Background()
	c, err := corral.New(ctx, corral.Config{Endpoints: endpoints})
	if err != nil {
		return err
	}
	s, err := concurrency.NewSession(ctx, c, concurrency.WithTTL(sessionTTL))
	if err != nil {
		return err
	}
	if _, err := discovery.New(c).Register(ctx, s, "echo", discovery.Instance{ID: id, Addr: lis.Addr().String()}); err != nil {
		return err
	}
	fmt.Println("ready")
	<-s.Done()
	return fmt.Errorf("session ended: %v", s.Err())
}

func startEcho(t *testing.T, id string, endpoints []string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CORRAL_ECHO_ID="+id, "CORRAL_ECHO_ENDPOINTS="+strings.Join(endpoints, ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		t.Fatalf("echo server %s: %q %v", id, line, err)
	}
	return cmd
}

// Must show (3): a grpc-go client dialing corral:///echo with round_robin follows
// the instances registered through discovery: when one is killed with SIGKILL its
// requests move to the others within the session TTL, and a new instance gets
// requests once it registers.
func TestRoundRobinFollowsRegisteredInstances(t *testing.T) {
	cl := testcluster.Start(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := corral.New(ctx, corral.Config{Endpoints: cl.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	procs := map[string]*exec.Cmd{}
	for _, id := range []string{"a", "b", "c"} {
		procs[id] = startEcho(t, id, cl.Endpoints())
	}
	conn, err := grpc.NewClient("corral:///echo",
		grpc.WithResolvers(resolver.NewBuilder(c)),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	call := func() (string, error) {
		var md metadata.MD
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		defer ccancel()
		if _, err := hc.Check(cctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md)); err != nil {
			return "", err
		}
		return strings.Join(md.Get("instance"), ","), nil
	}
	// waitFor calls until the last `window` calls all succeeded and reached exactly `want`.
	waitFor := func(want []string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		const window = 30
		var recent []string
		for time.Since(start) < within {
			id, err := call()
			if err != nil {
				recent = nil
				continue
			}
			recent = append(recent, id)
			if len(recent) > window {
				recent = recent[1:]
			}
			if len(recent) == window && sameSet(recent, want) {
				return time.Since(start)
			}
		}
		t.Fatalf("calls did not settle on %v within %v (last: %v)", want, within, recent)
		return 0
	}
	waitFor([]string{"a", "b", "c"}, 30*time.Second)

	// kill -9 b: its requests go to a and c within the session TTL.
	_ = procs["b"].Process.Kill()
	moved := waitFor([]string{"a", "c"}, sessionTTL)
	t.Logf("requests left the killed instance after %v (session TTL %v)", moved, sessionTTL)
	// And the registry drops it once its session's lease expires.
	reg := discovery.New(c)
	deadline := time.Now().Add(30 * time.Second)
	for {
		insts, _, err := reg.Instances(ctx, "echo")
		if err == nil && len(insts) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("killed instance still registered: %v %v", insts, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A new instance gets requests once it registers.
	startEcho(t, "d", cl.Endpoints())
	waitFor([]string{"a", "c", "d"}, 30*time.Second)
}

func sameSet(got []string, want []string) bool {
	seen := map[string]bool{}
	for _, g := range got {
		seen[g] = true
	}
	if len(seen) != len(want) {
		return false
	}
	for _, w := range want {
		if !seen[w] {
			return false
		}
	}
	return true
}
