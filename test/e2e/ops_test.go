package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestPprofIsOptIn checks the profiler is served only when asked for.
func TestPprofIsOptIn(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
	}{{nil, http.StatusNotFound}, {[]string{"--query.pprof"}, http.StatusOK}} {
		s := Start(t, c.args...)
		resp, err := http.Get(s.QueryURL() + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("clew %v: /debug/pprof/ answered %d, want %d", c.args, resp.StatusCode, c.want)
		}
	}
}

// TestConfigShow checks that flags, CLEW_* variables and defaults meet in
// what `clew config show` prints.
func TestConfigShow(t *testing.T) {
	cmd := exec.Command(Binary(t), "config", "show", "--query.addr=127.0.0.1:1234")
	cmd.Env = append(cmd.Environ(), "CLEW_STORAGE=memory", "CLEW_QUERY_ADDR=127.0.0.1:9999")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("clew config show: %v\n%s", err, out)
	}
	for _, want := range []string{"storage: memory", "addr: 127.0.0.1:1234", "addr: 127.0.0.1:4317"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "9999") {
		t.Errorf("the flag must win over CLEW_QUERY_ADDR:\n%s", out)
	}
	bad := exec.Command(Binary(t), "--storage=floppy")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "storage") {
		t.Errorf("an invalid setting must stop clew with a message naming it: %v\n%s", err, out)
	}
}

// TestMemoryLimit checks the soft memory limit the binary sets: from the
// store's own limits by default, or as limits.memory says.
func TestMemoryLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set, and wins over limits.memory")
	}
	for _, c := range []struct {
		args []string
		want float64
	}{
		{[]string{"--storage=local"}, 2*96<<20 + 32<<20},
		{[]string{"--storage=local", "--local.max-head-bytes=200MiB"}, 2*200<<20 + 32<<20},
		{[]string{"--storage=memory"}, 512<<20*3/2 + 64<<20},
		{[]string{"--storage=local", "--limits.memory=300MiB"}, 300 << 20},
	} {
		s := Start(t, c.args...)
		if got := s.Metric(t, "go_gc_gomemlimit_bytes"); got != c.want {
			t.Errorf("clew %v: go_gc_gomemlimit_bytes %v, want %v", c.args, got, c.want)
		}
		s.Stop(t)
	}
}
