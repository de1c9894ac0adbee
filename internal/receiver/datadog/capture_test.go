//go:build capture

// Captures what the real dd-trace-go sends to an agent, into testdata/:
//
//	go test -tags capture -run TestCapture ./internal/receiver/datadog/
//
// The golden decode tests (golden_test.go) then read those files without
// needing the tracer.
package datadog

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/dd-trace-go/v2/ddtrace/tracer"
)

func TestCaptureDDTraceGo(t *testing.T) {
	for k, v := range map[string]string{
		"DD_INSTRUMENTATION_TELEMETRY_ENABLED": "false",
		"DD_REMOTE_CONFIGURATION_ENABLED":      "false",
		"DD_TRACE_STARTUP_LOGS":                "false",
		"DD_RUNTIME_METRICS_ENABLED":           "false",
	} {
		t.Setenv(k, v)
	}
	var mu sync.Mutex
	var bodies [][]byte
	var headers []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/info":
			_, _ = w.Write(infoResponse("capture"))
		case strings.HasSuffix(r.URL.Path, "/traces"):
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, b)
			headers = append(headers, r.Header.Clone())
			mu.Unlock()
			_, _ = w.Write(rateByService)
		default:
			_, _ = io.Copy(io.Discard, r.Body)
		}
	}))
	defer srv.Close()

	if err := tracer.Start(
		tracer.WithAgentAddr(strings.TrimPrefix(srv.URL, "http://")),
		tracer.WithService("checkout"),
		tracer.WithEnv("test"),
		tracer.WithServiceVersion("1.2.3"),
		tracer.WithLogStartup(false),
	); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 21, 6, 0, 0, 123456789, time.UTC)
	root := tracer.StartSpan("http.request",
		tracer.ResourceName("GET /checkout"),
		tracer.SpanType("web"),
		tracer.Tag("span.kind", "server"),
		tracer.Tag("http.method", "GET"),
		tracer.Tag("http.status_code", 500),
		tracer.Tag("cart.items", 3),
		tracer.Tag("cart.total", 42.5),
		tracer.Tag("cart.gift", true),
		tracer.StartTime(start),
	)
	child := tracer.StartSpan("payments.charge",
		tracer.ChildOf(root.Context()),
		tracer.ServiceName("payments"),
		tracer.ResourceName("charge card"),
		tracer.Tag("span.kind", "client"),
		tracer.StartTime(start.Add(1500*time.Microsecond)),
	)
	child.Finish(tracer.FinishTime(start.Add(31500*time.Microsecond)), tracer.WithError(errors.New("card declined")))
	root.Finish(tracer.FinishTime(start.Add(45 * time.Millisecond)))
	tracer.Flush()
	tracer.Stop()

	mu.Lock()
	defer mu.Unlock()
	if len(bodies) == 0 {
		t.Fatal("the tracer sent no traces")
	}
	for i, b := range bodies {
		name := "v04_ddtracego.msgpack"
		if i > 0 {
			t.Fatalf("the tracer sent %d payloads, want 1", len(bodies))
		}
		if err := os.WriteFile(filepath.Join("testdata", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes), headers %v", name, len(b), headers[i])
	}
}
