// Package testcluster starts real Corral members ($CORRAL_BIN) on free loopback ports
// in temporary directories for the SDK's tests, and kills or stops them.
package testcluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Member is one running (or killed) member.
type Member struct {
	ID         int
	ClientAddr string
	PeerAddr   string
	HTTPAddr   string
	dir        string
	args       []string
	log        *os.File
	mu         sync.Mutex
	cmd        *exec.Cmd
	done       chan struct{}
	http       *http.Client
	scheme     string
}

// Cluster is a set of members started together.
type Cluster struct {
	t       T
	Members []*Member
}

// T is what the harness needs of a test: *testing.T and *testing.B have it, and
// Main gives one to a TestMain (for runnable examples).
type T interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	TempDir() string
	Cleanup(func())
}

// MainT is a T for a TestMain: Fatal panics; Close runs the cleanups and removes the
// temporary directories.
type MainT struct {
	cleanups []func()
	dirs     []string
}

// Main returns a T for a TestMain.
func Main() *MainT { return &MainT{} }

func (m *MainT) Helper()                           {}
func (m *MainT) Fatal(args ...any)                 { panic(fmt.Sprint(args...)) }
func (m *MainT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (m *MainT) Skip(args ...any)                  { panic(fmt.Sprint(args...)) }
func (m *MainT) Cleanup(f func())                  { m.cleanups = append(m.cleanups, f) }

// TempDir makes a temporary directory removed by Close.
func (m *MainT) TempDir() string {
	d, err := os.MkdirTemp("", "corral-sdk-go-")
	if err != nil {
		panic(err)
	}
	m.dirs = append(m.dirs, d)
	return d
}

// Close runs the cleanups, last first, and removes the temporary directories.
func (m *MainT) Close() {
	for i := len(m.cleanups) - 1; i >= 0; i-- {
		m.cleanups[i]()
	}
	for _, d := range m.dirs {
		_ = os.RemoveAll(d)
	}
}

// Bin is the server binary: $CORRAL_BIN. Tests skip without it.
func Bin(t T) string {
	t.Helper()
	bin := os.Getenv("CORRAL_BIN")
	if bin == "" {
		t.Skip("CORRAL_BIN is not set (scripts/test-go.sh sets it; locally: export CORRAL_BIN=/work/bin/corral)")
	}
	return bin
}

// freePorts returns n distinct free loopback ports (held open until all are chosen).
func freePorts(t T, n int) []int {
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports
}

// Options are extra settings for StartWith.
type Options struct {
	// Args are added to every member's command line.
	Args []string
	// HTTPTLS is how the readiness probe reaches the HTTP port when the members serve
	// TLS (started with --tls-cert): the CA to trust and, with --tls-client-ca, a
	// client certificate.
	HTTPTLS *tls.Config
	// SkipUnknownFlags skips the test, saying why, when the server binary does not
	// know a flag of Args (an older build); without it that fails the test.
	SkipUnknownFlags bool
}

// errFlagsRejected: the binary refused a flag it does not know.
var errFlagsRejected = errors.New("the server binary refused its flags")

// Start starts an n-member cluster and waits until every member is ready; it is
// stopped (kill -9, data removed) when the test ends. A member that exits while
// starting (another process took one of its free ports meanwhile) makes Start try
// again with new ports, up to three times.
func Start(t T, n int) *Cluster {
	t.Helper()
	return StartWith(t, n, Options{})
}

// StartWith is Start with extra flags (o.Args) and a TLS readiness probe.
func StartWith(t T, n int, o Options) *Cluster {
	t.Helper()
	var err error
	for range 3 {
		var c *Cluster
		if c, err = tryStart(t, n, o); err == nil {
			t.Cleanup(c.stop)
			return c
		}
		if errors.Is(err, errFlagsRejected) {
			if o.SkipUnknownFlags {
				t.Skip(err)
			}
			break
		}
	}
	t.Fatalf("cannot start a %d-member cluster: %v", n, err)
	return nil
}

func tryStart(t T, n int, o Options) (*Cluster, error) {
	bin := Bin(t)
	root := t.TempDir()
	ports := freePorts(t, 3*n)
	c := &Cluster{t: t}
	var initial []string
	for i := range n {
		m := &Member{
			ID:         i + 1,
			ClientAddr: fmt.Sprintf("127.0.0.1:%d", ports[3*i]),
			PeerAddr:   fmt.Sprintf("127.0.0.1:%d", ports[3*i+1]),
			HTTPAddr:   fmt.Sprintf("127.0.0.1:%d", ports[3*i+2]),
			dir:        filepath.Join(root, fmt.Sprintf("m%d", i+1)),
			http:       http.DefaultClient,
			scheme:     "http",
		}
		if o.HTTPTLS != nil {
			m.http = &http.Client{Transport: &http.Transport{TLSClientConfig: o.HTTPTLS}}
			m.scheme = "https"
		}
		initial = append(initial, fmt.Sprintf("%d=%s", m.ID, m.PeerAddr))
		c.Members = append(c.Members, m)
	}
	for _, m := range c.Members {
		m.args = []string{"serve", "--node-id", strconv.Itoa(m.ID), "--data-dir", filepath.Join(m.dir, "data"),
			"--client-addr", m.ClientAddr, "--peer-addr", m.PeerAddr, "--http-addr", m.HTTPAddr,
			"--initial-cluster", strings.Join(initial, ","), "--unsafe-no-fsync",
			"--heartbeat-interval-ms", "100", "--election-timeout-min-ms", "500", "--election-timeout-max-ms", "1000"}
		m.args = append(m.args, o.Args...)
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			t.Fatal(err)
		}
		m.start(t, bin)
	}
	for _, m := range c.Members {
		if err := m.waitReady(60 * time.Second); err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

func (m *Member) start(t T, bin string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	log, err := os.OpenFile(filepath.Join(m.dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, m.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "RUST_LOG=warn")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start member %d: %v", m.ID, err)
	}
	m.cmd, m.log, m.done = cmd, log, make(chan struct{})
	done := m.done
	go func() { _ = cmd.Wait(); _ = log.Close(); close(done) }()
}

// WaitReady waits until m's /readyz answers 200, and fails the test otherwise.
func (c *Cluster) WaitReady(m *Member, timeout time.Duration) {
	c.t.Helper()
	if err := m.waitReady(timeout); err != nil {
		c.t.Fatal(err)
	}
}

func (m *Member) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := m.http.Get(m.scheme + "://" + m.HTTPAddr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-m.done:
			if l := m.Log(); strings.Contains(l, "unexpected argument") {
				return fmt.Errorf("%w: %s", errFlagsRejected, strings.TrimSpace(strings.SplitN(l, "\n", 2)[0]))
			}
			return fmt.Errorf("member %d exited: %s", m.ID, m.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("member %d not ready within %v: %s", m.ID, timeout, m.Log())
}

// Log is the tail of m's log.
func (m *Member) Log() string {
	b, _ := os.ReadFile(filepath.Join(m.dir, "log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Kill kills m with SIGKILL and waits for it to exit.
func (m *Member) Kill() {
	m.mu.Lock()
	cmd, done := m.cmd, m.done
	m.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Restart starts a killed member again, with its data.
func (c *Cluster) Restart(m *Member) {
	m.start(c.t, Bin(c.t))
	c.WaitReady(m, 60*time.Second)
}

// Endpoints are the members' client addresses.
func (c *Cluster) Endpoints() []string {
	var out []string
	for _, m := range c.Members {
		out = append(out, m.ClientAddr)
	}
	return out
}

// Member returns the member whose client address is addr.
func (c *Cluster) Member(addr string) *Member {
	for _, m := range c.Members {
		if m.ClientAddr == addr {
			return m
		}
	}
	return nil
}

func (c *Cluster) stop() {
	for _, m := range c.Members {
		m.Kill()
	}
}

var gaugeLine = regexp.MustCompile(`(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([0-9.eE+-]+)$`)

// Metric reads the sum of every sample of metric name on m's /metrics.
func (m *Member) Metric(ctx context.Context, name string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+m.HTTPAddr+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	found := false
	for _, match := range gaugeLine.FindAllStringSubmatch(string(body), -1) {
		if match[1] == name {
			v, _ := strconv.ParseFloat(match[3], 64)
			sum += v
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("metric %s not on /metrics", name)
	}
	return sum, nil
}
