package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGen runs `clew gen` against the real server over each protocol whose
// receiver the server runs, and checks through the Jaeger API that every
// trace id gen wrote was stored whole.
func TestGen(t *testing.T) {
	s := Start(t)
	bin := Binary(t)
	endpoints := map[string]string{
		"otlp-grpc":      s.OTLPGRPCAddr(),
		"otlp-http":      s.OTLPHTTPURL(),
		"otlp-http-json": s.OTLPHTTPURL(),
	}
	// The other protocols, when this build runs their receivers (the
	// server logs each listener it starts).
	for _, r := range []struct{ protocol, component, flag, path string }{
		{"jaeger-compact", "jaeger_agent_compact", "receivers.jaeger.agent-compact.addr", ""},
		{"jaeger-binary", "jaeger_agent_binary", "receivers.jaeger.agent-binary.addr", ""},
		{"jaeger-http", "jaeger_collector_http", "receivers.jaeger.collector-http.addr", "/api/traces"},
		{"jaeger-grpc", "jaeger_collector_grpc", "receivers.jaeger.collector-grpc.addr", ""},
		{"zipkin", "zipkin", "receivers.zipkin.addr", "/api/v2/spans"},
		{"zipkin-proto", "zipkin", "receivers.zipkin.addr", "/api/v2/spans"},
		{"datadog", "datadog", "receivers.datadog.addr", "/v0.4/traces"},
		{"xray", "xray", "receivers.xray.udp-addr", ""},
	} {
		if !strings.Contains(s.Log(), "msg=listening component="+r.component+" ") {
			t.Logf("%s: no %s receiver in this build", r.protocol, r.component)
			continue
		}
		addr := s.Addr(r.flag)
		if r.path != "" {
			addr = "http://" + addr + r.path
		}
		endpoints[r.protocol] = addr
	}
	const traces, spansPerTrace = 30, 6
	for protocol, endpoint := range endpoints {
		t.Run(protocol, func(t *testing.T) {
			dir := t.TempDir()
			ids := filepath.Join(dir, "ids.txt")
			args := []string{"gen", "--protocol=" + protocol, "--endpoint=" + endpoint,
				fmt.Sprint("--traces=", traces), fmt.Sprint("--spans-per-trace=", spansPerTrace),
				"--batch=5", "--workers=2", "--interval=0", "--seed=7",
				"--trace-ids=" + ids, "--summary-json=-", "--fail-on-error"}
			if protocol == "jaeger-compact" || protocol == "jaeger-binary" || protocol == "xray" {
				// UDP has no back-pressure: pace the datagrams.
				args = append(args, "--workers=1", "--rate=5000")
			}
			cmd := exec.Command(bin, args...)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("clew gen: %v\n%s\n%s", err, out, stderrOf(err))
			}
			var sum struct {
				Protocol    string  `json:"protocol"`
				Traces      int     `json:"traces_sent"`
				Spans       int     `json:"spans_sent"`
				SpansFailed int     `json:"spans_failed"`
				Rate        float64 `json:"spans_per_second"`
			}
			if err := json.Unmarshal(out, &sum); err != nil {
				t.Fatalf("summary is not JSON: %v\n%s", err, out)
			}
			if sum.Protocol != protocol || sum.Traces != traces || sum.Spans != traces*spansPerTrace || sum.SpansFailed != 0 || sum.Rate <= 0 {
				t.Fatalf("summary %+v", sum)
			}
			data, err := os.ReadFile(ids)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Fields(string(data))
			if len(lines) != traces {
				t.Fatalf("%d trace ids written, want %d", len(lines), traces)
			}
			for _, id := range lines {
				Eventually(t, 10*time.Second, func() error {
					var resp struct {
						Data []jgTrace `json:"data"`
					}
					code := GetJSON(t, s.QueryURL()+"/api/traces/"+id, &resp)
					if code != 200 || len(resp.Data) != 1 {
						return fmt.Errorf("trace %s: HTTP %d", id, code)
					}
					if n := len(resp.Data[0].Spans); n != spansPerTrace {
						return fmt.Errorf("trace %s: %d spans, want %d", id, n, spansPerTrace)
					}
					return nil
				})
			}
		})
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// TestGenCLI checks gen's command line on its own: the protocol list, bad
// flags, and a run against nothing that fails cleanly.
func TestGenCLI(t *testing.T) {
	bin := Binary(t)
	out, err := exec.Command(bin, "gen", "--list-protocols").Output()
	if err != nil {
		t.Fatalf("--list-protocols: %v", err)
	}
	for _, p := range []string{"otlp-grpc", "otlp-http", "otlp-http-json", "jaeger-compact", "zipkin", "datadog", "xray"} {
		if !strings.Contains(string(out), p+" ") {
			t.Errorf("--list-protocols lacks %s:\n%s", p, out)
		}
	}
	for _, args := range [][]string{
		{"gen", "--protocol=nope"},
		{"gen", "--error-ratio=2"},
		{"gen", "--spans-per-trace=0"},
		{"gen", "stray"},
	} {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
			t.Errorf("%v: want a non-zero exit, got %v\n%s", args, err, out)
		}
	}
	// Nothing listens: every request fails, the run says so and exits 1.
	cmd := exec.Command(bin, "gen", "--protocol=otlp-http", "--endpoint=http://"+freePort(t, false)+"/v1/traces",
		"--traces=4", "--batch=2", "--interval=0", "--retries=0", "--timeout=2s")
	out, err = cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "failed    2 requests") {
		t.Errorf("gen against nothing: %v\n%s", err, out)
	}
}
