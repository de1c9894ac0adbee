package demo

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/otlp"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/memstore"
)

// TestDemo runs the services and traffic against a real OTLP receiver in
// the process, then checks what was stored and that Stop leaves no
// goroutine behind.
func TestDemo(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := memstore.New(memstore.Options{MaxSpans: 1_000_000, MaxBytes: 1 << 30})
	defer st.Close()
	recv := otlp.NewGRPC("127.0.0.1:0", 16<<20, pipeline.New(st, pipeline.Options{Logger: log}), log)
	if err := recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer recv.Shutdown(context.Background())
	before := runtime.NumGoroutine()

	o := DefaultOptions()
	o.Endpoint, o.PortBase, o.Rate, o.BatchTimeout = recv.Addr(), 0, 40, 200*time.Millisecond
	d, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The services answer a user's own request too.
	req, _ := http.NewRequest("GET", "http://"+d.Addr(ServiceMatchmaker)+"/pair/beer?name=stout", nil)
	req.Header.Set("Authorization", "Bearer user-7")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"beer":"stout"`) {
		t.Errorf("GET /pair/beer: %d %s", resp.StatusCode, body)
	}
	req.Header.Set("Authorization", "Bearer expired-7")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired token: HTTP %d, want 401", resp.StatusCode)
	}

	time.Sleep(1500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	stats := d.Stats()
	if stats.Sent < 20 || stats.Failed > 0 || stats.Status[401] == 0 {
		t.Errorf("traffic: %+v", stats)
	}

	services, err := st.GetServices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Services {
		if !slices.Contains(services, s) {
			t.Errorf("no spans of %s; services %v", s, services)
		}
	}
	// Every consumer span links to a producer span that was stored.
	traces, err := st.FindTraces(ctx, storeQuery(ServiceWorker, "process orders"))
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) == 0 {
		t.Fatal("no consumer traces")
	}
	for _, tr := range traces {
		for _, sp := range tr.Spans {
			if sp.Name != "process orders" {
				continue
			}
			if len(sp.Links) != 1 {
				t.Fatalf("consumer span has %d links", len(sp.Links))
			}
			linked, err := st.GetTrace(ctx, sp.Links[0].TraceID)
			if err != nil {
				t.Fatalf("linked trace: %v", err)
			}
			found := false
			for _, p := range linked.Spans {
				if p.SpanID == sp.Links[0].SpanID && p.Kind == model.SpanKindProducer {
					found = true
				}
			}
			if !found {
				t.Errorf("consumer links to %s, not a stored producer span", sp.Links[0].SpanID)
			}
			// A failed order is rolled back, a good one committed.
			end := "COMMIT"
			if sp.Status.Code == model.StatusError {
				end = "ROLLBACK"
			}
			if !slices.ContainsFunc(tr.Spans, func(s *model.Span) bool { return s.Name == end }) {
				t.Errorf("consumer trace (status %s) has no %s span", sp.Status.Code, end)
			}
		}
	}

	// Every goroutine the demo started has ended (HTTP keep-alive
	// goroutines of the test's own client aside).
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Stop, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestOptionsValidate(t *testing.T) {
	o := DefaultOptions()
	o.Rate, o.MaxInFlight, o.PortBase = -1, 0, 70000
	if _, err := Start(context.Background(), o); err == nil {
		t.Fatal("Start accepted invalid options")
	}
}

func storeQuery(service, op string) store.TraceQuery {
	return store.TraceQuery{Service: service, Operation: op, StartMin: time.Now().Add(-time.Hour), StartMax: time.Now().Add(time.Minute), Limit: 100}
}

// TestDemoOTLPHTTP exports over OTLP/HTTP to a URL without a path.
func TestDemoOTLPHTTP(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st := memstore.New(memstore.Options{MaxSpans: 100_000, MaxBytes: 1 << 28})
	defer st.Close()
	mux := http.NewServeMux()
	otlp.NewHTTPHandler(pipeline.New(st, pipeline.Options{Logger: log}), 16<<20, nil, log).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	o := DefaultOptions()
	o.Endpoint, o.PortBase, o.Rate = srv.URL, 0, 0
	d, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	// Start stocks the cache: a matchmaker trace with donut-cache calls.
	services, err := st.GetServices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(services, ServiceMatchmaker) || !slices.Contains(services, ServiceCache) {
		t.Errorf("services %v", services)
	}
}
