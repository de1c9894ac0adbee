package zipkin

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	zipkingo "github.com/openzipkin/zipkin-go"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"github.com/openzipkin/zipkin-go/reporter"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"

	"github.com/clew-dev/clew/internal/receiver/receivertest"
)

// traceStart is when the known trace starts, fixed so golden files are
// stable.
var traceStart = time.Date(2026, 11, 20, 10, 30, 15, 123456000, time.UTC)

// emitKnownTrace sends one trace through zipkin-go's tracer and HTTP
// reporter to url (JSON, or proto3 when proto is set) and returns its id.
//
//	frontend: GET /checkout (server, 12.345ms, annotation "auth.ok")
//	├── frontend: SELECT orders (client → postgres, error tag)
//	└── frontend: GET /stock (client)            ┐ one shared span id
//	    └── inventory: GET /stock (server)       ┘
//	        └── inventory: cache lookup (local)
func emitKnownTrace(t testing.TB, url string, proto bool, start time.Time) zipkinmodel.TraceID {
	t.Helper()
	opts := []zipkinhttp.ReporterOption{zipkinhttp.BatchInterval(time.Hour), zipkinhttp.BatchSize(100)}
	if proto {
		opts = append(opts, zipkinhttp.Serializer(zipkin_proto3.SpanSerializer{}))
	}
	rep := zipkinhttp.NewReporter(url, opts...)
	frontend := newTracer(t, rep, "frontend", "127.0.0.1:8080")
	inventory := newTracer(t, rep, "inventory", "10.0.0.7:9000")
	at := func(us int) time.Time { return start.Add(time.Duration(us) * time.Microsecond) }
	dur := func(us int) time.Duration { return time.Duration(us) * time.Microsecond }

	root := frontend.StartSpan("GET /checkout", zipkingo.Kind(zipkinmodel.Server), zipkingo.StartTime(start))
	root.Tag("http.method", "GET")
	root.Tag("http.path", "/checkout")
	root.Annotate(at(500), "auth.ok")

	pg := &zipkinmodel.Endpoint{ServiceName: "postgres", Port: 5432}
	pg.IPv4 = []byte{10, 0, 0, 5}
	db := frontend.StartSpan("SELECT orders", zipkingo.Kind(zipkinmodel.Client), zipkingo.Parent(root.Context()),
		zipkingo.StartTime(at(1500)), zipkingo.RemoteEndpoint(pg))
	db.Tag("sql.query", "SELECT * FROM orders WHERE id = ?")
	zipkingo.TagError.Set(db, "connection reset")
	db.FinishedWithDuration(dur(4321))

	call := frontend.StartSpan("GET /stock", zipkingo.Kind(zipkinmodel.Client), zipkingo.Parent(root.Context()), zipkingo.StartTime(at(6000)))
	srv := inventory.StartSpan("GET /stock", zipkingo.Kind(zipkinmodel.Server), zipkingo.Parent(call.Context()), zipkingo.StartTime(at(6200)))
	cache := inventory.StartSpan("cache lookup", zipkingo.Parent(srv.Context()), zipkingo.StartTime(at(6300)))
	cache.Tag("cache.hit", "true")
	cache.FinishedWithDuration(dur(150))
	srv.FinishedWithDuration(dur(1000))
	call.FinishedWithDuration(dur(1400))

	root.FinishedWithDuration(dur(12345))
	if err := rep.Close(); err != nil { // flushes
		t.Fatal(err)
	}
	return root.Context().TraceID
}

func newTracer(t testing.TB, rep reporter.Reporter, service, hostPort string) *zipkingo.Tracer {
	t.Helper()
	ep, err := zipkingo.NewEndpoint(service, hostPort)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := zipkingo.NewTracer(rep, zipkingo.WithLocalEndpoint(ep), zipkingo.WithSampler(zipkingo.AlwaysSample))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestCapturePayloads records what zipkin-go's HTTP reporter really sends,
// in JSON and proto3, into testdata/. It runs only with -update.
func TestCapturePayloads(t *testing.T) {
	if !receivertest.Update() {
		t.Skip("captures payloads only with -update")
	}
	for _, tc := range []struct {
		file  string
		proto bool
		ctype string
	}{
		{"v2.json", false, "application/json"},
		{"v2.pb", true, "application/x-protobuf"},
	} {
		got := make(chan []byte, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ct := r.Header.Get("Content-Type"); ct != tc.ctype || r.URL.Path != "/api/v2/spans" {
				t.Errorf("zipkin-go sent %s with Content-Type %q", r.URL.Path, ct)
			}
			b, _ := io.ReadAll(r.Body)
			got <- b
			w.WriteHeader(http.StatusAccepted)
		}))
		emitKnownTrace(t, srv.URL+"/api/v2/spans", tc.proto, traceStart)
		srv.Close()
		if err := os.WriteFile(filepath.Join("testdata", tc.file), <-got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
