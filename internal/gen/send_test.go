package gen_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/otlp"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/memstore"
)

// backend is a pipeline writing to a memory store, as the server wires it.
type backend struct {
	store store.Store
	pipe  *pipeline.Pipeline
	log   *slog.Logger
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	st := memstore.New(memstore.Options{MaxSpans: 1_000_000, MaxBytes: 1 << 30})
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return &backend{store: st, pipe: pipeline.New(st, pipeline.Options{Logger: log}), log: log}
}

// sendAndVerify sends traces with gen over protocol to endpoint and checks
// that the store holds every trace id gen wrote, with every span.
func sendAndVerify(t *testing.T, b *backend, protocol, endpoint string, traces int, tune ...func(*gen.RunOptions)) *gen.Summary {
	t.Helper()
	p, err := gen.Lookup(protocol)
	if err != nil {
		t.Fatal(err)
	}
	o := gen.DefaultOptions()
	o.SpansPerTrace = 7
	o.ErrorRatio = 0.1
	var ids bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ro := gen.RunOptions{
		Protocol:           p,
		Endpoint:           endpoint,
		Trace:              o,
		TracesPerBatch:     5,
		Traces:             traces,
		Workers:            2,
		Timeout:            5 * time.Second,
		Ahead:              8,
		MaxPreencodedBytes: 64 << 20,
		TraceIDs:           &ids,
	}
	for _, f := range tune {
		f(&ro)
	}
	o = ro.Trace
	sum, err := gen.Run(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Spans != int64(traces*o.SpansPerTrace) || sum.Traces != int64(traces) || sum.SpansFailed != 0 {
		t.Fatalf("summary: %+v", sum)
	}
	lines := strings.Split(strings.TrimSuffix(ids.String(), "\n"), "\n")
	if len(lines) != traces {
		t.Fatalf("trace id file has %d lines, want %d", len(lines), traces)
	}
	// UDP receivers hand spans over asynchronously: wait a little.
	deadline := time.Now().Add(5 * time.Second)
	for _, line := range lines {
		if len(line) != 32 {
			t.Fatalf("trace id %q is not 32 hex digits", line)
		}
		id, err := model.ParseTraceID(line)
		if err != nil {
			t.Fatal(err)
		}
		for {
			tr, err := b.store.GetTrace(ctx, id)
			if err == nil && len(tr.Spans) == o.SpansPerTrace {
				break
			}
			if time.Now().After(deadline) {
				n := 0
				if tr != nil {
					n = len(tr.Spans)
				}
				t.Fatalf("trace %s: %d spans stored, want %d (err %v)", line, n, o.SpansPerTrace, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return sum
}

// paced sends from one worker at 5000 spans per second: UDP has no
// back-pressure, and a burst can overflow the receiver's socket buffer on a
// loaded machine.
func paced(o *gen.RunOptions) {
	o.Workers = 1
	o.Rate = 5000
}

// storeQuery searches the last hour for spans with tags.
func storeQuery(tags map[string]string) store.TraceQuery {
	return store.TraceQuery{Tags: tags, StartMin: time.Now().Add(-time.Hour), StartMax: time.Now().Add(time.Minute), Limit: 1000}
}

func TestOTLPGRPC(t *testing.T) {
	b := newBackend(t)
	r := otlp.NewGRPC("127.0.0.1:0", 16<<20, b.pipe, b.log)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	sendAndVerify(t, b, "otlp-grpc", r.Addr(), 40)
}

func TestOTLPHTTP(t *testing.T) {
	for _, protocol := range []string{"otlp-http", "otlp-http-json"} {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%v", protocol, gz), func(t *testing.T) {
				b := newBackend(t)
				mux := http.NewServeMux()
				otlp.NewHTTPHandler(b.pipe, 16<<20, nil, b.log).Register(mux)
				srv := httptest.NewServer(mux)
				t.Cleanup(srv.Close)
				sum := sendAndVerify(t, b, protocol, srv.URL+"/v1/traces", 40, func(o *gen.RunOptions) { o.Gzip = gz })
				if sum.Gzip != gz {
					t.Errorf("summary says gzip %v", sum.Gzip)
				}
			})
		}
	}
}

func TestGzipOnlyHTTP(t *testing.T) {
	p, _ := gen.Lookup("otlp-grpc")
	_, err := gen.Run(context.Background(), gen.RunOptions{
		Protocol: p, Trace: gen.DefaultOptions(), TracesPerBatch: 1, Traces: 1, Workers: 1, Ahead: 1, Gzip: true,
	})
	if err == nil || !strings.Contains(err.Error(), "gzip applies to HTTP protocols") {
		t.Errorf("gzip over gRPC: %v", err)
	}
}

// TestThrottledAndFailed checks that "slow down" answers are retried and
// counted, and other failures counted, without trace ids being written.
func TestThrottledAndFailed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "busy"):
			http.Error(w, "slow down", http.StatusTooManyRequests)
		default:
			http.Error(w, "bad batch", http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	p, _ := gen.Lookup("otlp-http")
	run := func(path string) (*gen.Summary, string) {
		var ids bytes.Buffer
		sum, err := gen.Run(context.Background(), gen.RunOptions{
			Protocol: p, Endpoint: srv.URL + path, Trace: gen.DefaultOptions(),
			TracesPerBatch: 2, Traces: 4, Workers: 1, Ahead: 1, Retries: 2, TraceIDs: &ids,
		})
		if err != nil {
			t.Fatal(err)
		}
		return sum, ids.String()
	}
	sum, ids := run("/busy")
	if sum.RequestsFailed != 2 || sum.RequestsThrottled != 2 || sum.RequestsRetried != 4 || sum.Spans != 0 || sum.SpansFailed != 40 || ids != "" {
		t.Errorf("throttled run: %+v, ids %q", sum, ids)
	}
	sum, ids = run("/bad")
	if sum.RequestsFailed != 2 || sum.RequestsThrottled != 0 || sum.RequestsRetried != 0 || len(sum.Errors) != 1 || ids != "" {
		t.Errorf("failing run: %+v, ids %q", sum, ids)
	}
	if !strings.Contains(sum.Errors[0], "HTTP 400: bad batch") {
		t.Errorf("error %q does not carry the reply", sum.Errors[0])
	}
}

func TestRate(t *testing.T) {
	b := newBackend(t)
	r := otlp.NewGRPC("127.0.0.1:0", 16<<20, b.pipe, b.log)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	p, _ := gen.Lookup("otlp-grpc")
	o := gen.DefaultOptions() // 10 spans per trace
	sum, err := gen.Run(context.Background(), gen.RunOptions{
		Protocol: p, Endpoint: r.Addr(), Trace: o,
		TracesPerBatch: 1, Workers: 2, Ahead: 4,
		Rate:     500, // 50 requests/s
		Duration: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	// One second at 500 spans/s: about 500 spans (the first request goes
	// at once, so up to 510; a loaded machine may fall behind a little,
	// never ahead).
	if sum.Spans < 300 || sum.Spans > 510 {
		t.Errorf("sent %d spans in %.2fs at 500 spans/s", sum.Spans, sum.Seconds)
	}
}

// TestGRPCSlowDown checks which gRPC errors count as throttling: those a
// server sends to slow clients down, not a refused connection.
func TestGRPCSlowDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var answer atomic.Value // error
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(any, grpc.ServerStream) error {
		return answer.Load().(error)
	}))
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	withRetry, _ := status.New(codes.Unavailable, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Millisecond)})

	p, _ := gen.Lookup("otlp-grpc")
	run := func(endpoint string, e error) *gen.Summary {
		if e != nil {
			answer.Store(e)
		}
		sum, err := gen.Run(context.Background(), gen.RunOptions{
			Protocol: p, Endpoint: endpoint, Trace: gen.DefaultOptions(),
			TracesPerBatch: 1, Traces: 2, Workers: 1, Ahead: 1, Retries: 1, Timeout: 2 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	for _, tc := range []struct {
		name      string
		err       error
		throttled int64
	}{
		{"resource exhausted", status.Error(codes.ResourceExhausted, "slow down"), 2},
		{"unavailable with retry info", withRetry.Err(), 2},
		{"unavailable", status.Error(codes.Unavailable, "gone"), 0},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad"), 0},
	} {
		sum := run(ln.Addr().String(), tc.err)
		if sum.RequestsFailed != 2 || sum.RequestsThrottled != tc.throttled || sum.RequestsRetried != tc.throttled {
			t.Errorf("%s: %+v", tc.name, sum)
		}
	}
	// Nothing listens: failures, not throttling.
	free, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := free.Addr().String()
	free.Close()
	if sum := run(addr, nil); sum.RequestsFailed != 2 || sum.RequestsThrottled != 0 {
		t.Errorf("refused connection: %+v", sum)
	}
}

// TestPreencodedStartTimes checks that pre-encoded traces start at
// distinct times spread before the run, not all at one instant.
func TestPreencodedStartTimes(t *testing.T) {
	var mu sync.Mutex
	var starts []uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, sp := range pdataconv.ToModel(td) {
			if sp.IsRoot() {
				starts = append(starts, sp.StartTimeUnixNano)
			}
		}
	}))
	t.Cleanup(srv.Close)
	p, _ := gen.Lookup("otlp-http")
	before := time.Now()
	sum, err := gen.Run(context.Background(), gen.RunOptions{
		Protocol: p, Endpoint: srv.URL, Trace: gen.DefaultOptions(),
		TracesPerBatch: 10, Traces: 100, Workers: 1, Ahead: 1, MaxPreencodedBytes: 1 << 30,
	})
	if err != nil || !sum.Preencoded || sum.Traces != 100 {
		t.Fatalf("run: %+v, %v", sum, err)
	}
	seen := map[uint64]bool{}
	for _, s := range starts {
		at := time.Unix(0, int64(s))
		if at.Before(before.Add(-11*time.Minute)) || at.After(time.Now()) {
			t.Errorf("a trace starts at %v, outside the ten minutes before the run", at)
		}
		seen[s] = true
	}
	if len(starts) != 100 || len(seen) != 100 {
		t.Errorf("%d roots with %d distinct start times, want 100", len(starts), len(seen))
	}
}

// TestStreamingAndGoroutines runs a --traces run whose bodies do not fit
// the pre-encoding limit, so an encoder streams them ahead of the senders,
// and checks that Run leaves no goroutine behind.
func TestStreamingAndGoroutines(t *testing.T) {
	b := newBackend(t)
	mux := http.NewServeMux()
	otlp.NewHTTPHandler(b.pipe, 16<<20, nil, b.log).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	before := runtime.NumGoroutine()
	sum := sendAndVerify(t, b, "otlp-http", srv.URL+"/v1/traces", 50, func(o *gen.RunOptions) {
		o.MaxPreencodedBytes = 1000
		o.Workers = 4
		o.Progress, o.ProgressInterval = io.Discard, time.Millisecond
	})
	if sum.Preencoded {
		t.Error("bodies larger than the limit were pre-encoded")
	}
	srv.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}
