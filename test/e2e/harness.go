// Package e2e holds Clew's end-to-end tests: they build the real `clew`
// binary, start it on free ports, send spans with real client libraries and
// check what the query APIs answer.
//
// Set CLEW_BINARY to test a binary built elsewhere; otherwise the tests
// build ./cmd/clew once per test process.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary returns the path of the clew binary under test, building it once.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("CLEW_BINARY"); p != "" {
			binPath, buildErr = filepath.Abs(p)
			return
		}
		dir, err := os.MkdirTemp("", "clew-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "clew")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/clew")
		cmd.Dir = repoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("clew binary: %v", buildErr)
	}
	return binPath
}

func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

// Server is a running clew process.
type Server struct {
	// Addrs maps each listen-address flag (without "--", e.g.
	// "query.addr", "receivers.otlp.http.addr") to the host:port given to it.
	Addrs   map[string]string
	DataDir string
	cmd     *exec.Cmd
	log     *syncBuffer
	done    chan struct{}
	exitErr error
	t       testing.TB
}

// QueryURL is the base URL of the query port (APIs, UI, /metrics).
func (s *Server) QueryURL() string { return "http://" + s.Addrs["query.addr"] }

// OTLPHTTPURL is the OTLP/HTTP traces endpoint.
func (s *Server) OTLPHTTPURL() string {
	return "http://" + s.Addrs["receivers.otlp.http.addr"] + "/v1/traces"
}

// OTLPGRPCAddr is the OTLP/gRPC address.
func (s *Server) OTLPGRPCAddr() string { return s.Addrs["receivers.otlp.grpc.addr"] }

// Addr returns the address given to a listen flag, failing the test if the
// binary has no such flag.
func (s *Server) Addr(flag string) string {
	s.t.Helper()
	a, ok := s.Addrs[flag]
	if !ok {
		s.t.Fatalf("clew has no listen flag --%s", flag)
	}
	return a
}

// Log returns what the server has logged so far.
func (s *Server) Log() string { return s.log.String() }

var addrFlag = regexp.MustCompile(`(?m)^\s+--([a-z0-9._-]*addr)\s`)

var (
	flagsOnce sync.Once
	addrFlags []string
)

// listenFlags lists every listen-address flag of the binary, from --help.
func listenFlags(t testing.TB, bin string) []string {
	flagsOnce.Do(func() {
		out, err := exec.Command(bin, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("clew --help: %v\n%s", err, out)
		}
		for _, m := range addrFlag.FindAllStringSubmatch(string(out), -1) {
			addrFlags = append(addrFlags, m[1])
		}
	})
	return addrFlags
}

// Start runs clew with every listener on a free 127.0.0.1 port, memory
// storage unless args say otherwise, and the extra args given; it waits
// until /readyz answers. The process is stopped with SIGTERM when the test
// ends and must exit cleanly.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin := Binary(t)
	// A port found free can be taken by another process before clew binds
	// it; start again with new ports when that happens.
	for attempt := 1; ; attempt++ {
		s, full := prepare(t, bin, args)
		err := s.start(t, bin, full)
		if err == nil {
			return s
		}
		if attempt < 5 && strings.Contains(s.Log(), "address already in use") {
			continue
		}
		t.Fatalf("%v\n%s", err, s.Log())
	}
}

func prepare(t testing.TB, bin string, args []string) (*Server, []string) {
	s := &Server{Addrs: map[string]string{}, log: &syncBuffer{}, done: make(chan struct{}), t: t}
	given := strings.Join(args, " ")
	var full []string
	for _, f := range listenFlags(t, bin) {
		if strings.Contains(given, "--"+f+"=") {
			for _, a := range args {
				if v, ok := strings.CutPrefix(a, "--"+f+"="); ok {
					s.Addrs[f] = v
				}
			}
			continue
		}
		addr := freePort(t, true)
		s.Addrs[f] = addr
		full = append(full, "--"+f+"="+addr)
	}
	if !strings.Contains(given, "--storage=") {
		full = append(full, "--storage=memory")
	}
	if !strings.Contains(given, "--data-dir=") {
		s.DataDir = t.TempDir()
		full = append(full, "--data-dir="+s.DataDir)
	}
	full = append(full, "--log.level=debug")
	full = append(full, args...)
	return s, full
}

func (s *Server) start(t testing.TB, bin string, args []string) error {
	t.Helper()
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start clew: %v", err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("clew exited early: %v", s.exitErr)
		default:
		}
		resp, err := http.Get(s.QueryURL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Cleanup(func() { s.Stop(t) })
				return nil
			}
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("clew not ready after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for a clean exit (idempotent).
func (s *Server) Stop(t testing.TB) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.exitErr != nil {
			t.Errorf("clew exited with %v after SIGTERM\n%s", s.exitErr, s.Log())
		}
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("clew did not stop within 30s of SIGTERM\n%s", s.Log())
	}
}

// Kill stops the process with SIGKILL and waits for it.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Restart starts a new process with the same arguments (after Stop or
// Kill), keeping ports and data dir.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	args := s.cmd.Args[1:]
	s.done = make(chan struct{})
	s.exitErr = nil
	if err := s.start(t, s.cmd.Path, args); err != nil {
		t.Fatalf("restart: %v\n%s", err, s.Log())
	}
}

// freePort returns a 127.0.0.1 address whose port is free for TCP, and for
// UDP too when udp is set (X-Ray and the Jaeger agents use UDP). Ports come
// from below Linux's ephemeral range, so outgoing connections of other
// processes do not take them meanwhile.
func freePort(t testing.TB, udp bool) string {
	t.Helper()
	for i := 0; i < 100; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", 15000+rand.IntN(17000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		if udp {
			pc, err := net.ListenPacket("udp", addr)
			if err != nil {
				l.Close()
				continue
			}
			pc.Close()
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port")
	return ""
}

// GetJSON fetches url and decodes a JSON body into v, returning the status.
func GetJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if v != nil && len(body) > 0 {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: decode %q: %v", url, truncate(body), err)
		}
	}
	return resp.StatusCode
}

// Eventually retries f until it returns nil or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Metric returns the value of the first sample of /metrics whose line
// starts with prefix (a metric name with an optional label subset such as
// `clew_receiver_spans_stored_total{receiver="otlp_http"}`), or -1.
func (s *Server) Metric(t testing.TB, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(s.QueryURL() + "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	name, labels, _ := strings.Cut(prefix, "{")
	labels = strings.TrimSuffix(labels, "}")
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		if rest := line[len(name):]; rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		ok := true
		for _, l := range strings.Split(labels, ",") {
			if l != "" && !strings.Contains(line, l) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		var v float64
		fields := strings.Fields(line)
		fmt.Sscan(fields[len(fields)-1], &v)
		return v
	}
	return -1
}

func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "..."
	}
	return string(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 8<<20 {
		return len(p), nil // keep the test's memory bounded
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
