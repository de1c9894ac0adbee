package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	zipkingo "github.com/openzipkin/zipkin-go"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	zipkinhttp "github.com/openzipkin/zipkin-go/reporter/http"
)

// emitZipkinTrace sends one known trace through zipkin-go's tracers and
// HTTP reporter (JSON, or proto3 when proto is set) and returns its id:
//
//	frontend: GET /checkout (server, 12.345ms, annotation "auth.ok")
//	├── frontend: SELECT orders (client → postgres, error tag)
//	└── frontend: GET /stock (client)        ┐ one shared span id
//	    └── inventory: GET /stock (server)   ┘
//	        └── inventory: cache lookup
func emitZipkinTrace(t *testing.T, url string, proto bool, start time.Time) zipkinmodel.TraceID {
	t.Helper()
	opts := []zipkinhttp.ReporterOption{zipkinhttp.BatchInterval(time.Hour), zipkinhttp.BatchSize(100)}
	if proto {
		opts = append(opts, zipkinhttp.Serializer(zipkin_proto3.SpanSerializer{}))
	}
	rep := zipkinhttp.NewReporter(url, opts...)
	tracer := func(service, hostPort string) *zipkingo.Tracer {
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
	frontend, inventory := tracer("frontend", "127.0.0.1:8080"), tracer("inventory", "10.0.0.7:9000")
	at := func(us int) time.Time { return start.Add(time.Duration(us) * time.Microsecond) }
	dur := func(us int) time.Duration { return time.Duration(us) * time.Microsecond }

	root := frontend.StartSpan("GET /checkout", zipkingo.Kind(zipkinmodel.Server), zipkingo.StartTime(start))
	root.Tag("http.method", "GET")
	root.Tag("http.path", "/checkout")
	root.Annotate(at(500), "auth.ok")
	pg := &zipkinmodel.Endpoint{ServiceName: "postgres", IPv4: []byte{10, 0, 0, 5}, Port: 5432}
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
	if err := rep.Close(); err != nil {
		t.Fatal(err)
	}
	return root.Context().TraceID
}

// checkZipkinClientTrace checks what emitZipkinTrace sent, read back
// through the Jaeger query API.
func checkZipkinClientTrace(t *testing.T, s *Server, id zipkinmodel.TraceID, start time.Time, lowerNames bool) {
	t.Helper()
	tr := getJaegerTrace(t, s, id.String(), 5)
	name := func(n string) string {
		if lowerNames { // zipkin-go's JSON encoder lowercases span names
			return strings.ToLower(n)
		}
		return n
	}
	type key struct{ service, name string }
	spans := map[key]int{}
	ids := map[string]bool{}
	for i, sp := range tr.Spans {
		spans[key{tr.Processes[sp.ProcessID].ServiceName, sp.OperationName}] = i
		if ids[sp.SpanID] {
			t.Errorf("span id %s appears twice", sp.SpanID)
		}
		ids[sp.SpanID] = true
	}
	get := func(service, n string) jaegerSpan {
		t.Helper()
		i, ok := spans[key{service, name(n)}]
		if !ok {
			t.Fatalf("no span %s %q among %v", service, name(n), spans)
		}
		return tr.Spans[i]
	}
	root, db := get("frontend", "GET /checkout"), get("frontend", "SELECT orders")
	call, srv, cache := get("frontend", "GET /stock"), get("inventory", "GET /stock"), get("inventory", "cache lookup")

	// Durations and offsets exact to the microsecond.
	if root.StartTime != uint64(start.UnixMicro()) || root.Duration != 12345 {
		t.Errorf("root start %d duration %d, want %d and 12345", root.StartTime, root.Duration, start.UnixMicro())
	}
	for _, c := range []struct {
		what             string
		offset, duration uint64
		gotOff, gotDur   uint64
	}{
		{"db", 1500, 4321, db.StartTime - root.StartTime, db.Duration},
		{"client call", 6000, 1400, call.StartTime - root.StartTime, call.Duration},
		{"server half", 6200, 1000, srv.StartTime - root.StartTime, srv.Duration},
		{"cache", 6300, 150, cache.StartTime - root.StartTime, cache.Duration},
	} {
		if c.gotOff != c.offset || c.gotDur != c.duration {
			t.Errorf("%s: offset %d duration %d, want %d and %d", c.what, c.gotOff, c.gotDur, c.offset, c.duration)
		}
	}
	// Tree: the shared span's server half has its own id under the client
	// half, and is the parent of its local child.
	parent := func(what string, refs []struct{ RefType, TraceID, SpanID string }, want string) {
		t.Helper()
		if len(refs) != 1 || refs[0].RefType != "CHILD_OF" || refs[0].SpanID != want {
			t.Errorf("%s references %+v, want CHILD_OF %s", what, refs, want)
		}
	}
	if len(root.References) != 0 {
		t.Errorf("root references %+v", root.References)
	}
	parent("db", db.References, root.SpanID)
	parent("client call", call.References, root.SpanID)
	parent("server half", srv.References, call.SpanID)
	parent("cache", cache.References, srv.SpanID)

	// Kinds, tags (Zipkin tags are strings), remote endpoint, error status.
	wantTags(t, "root", root.Tags, map[string]string{"span.kind": "string:server", "http.method": "string:GET", "http.path": "string:/checkout"})
	wantTags(t, "db", db.Tags, map[string]string{
		"span.kind": "string:client", "service.peer.name": "string:postgres", "network.peer.address": "string:10.0.0.5",
		"net.peer.port": "int64:5432", "sql.query": "string:SELECT * FROM orders WHERE id = ?", "otel.status_code": "string:ERROR",
	})
	errTags := []string{}
	for _, tg := range db.Tags {
		if tg.Key == "error" {
			errTags = append(errTags, fmt.Sprintf("%s:%v", tg.Type, tg.Value))
		}
	}
	if strings.Join(errTags, ",") != "string:connection reset,bool:true" {
		t.Errorf("db error tags %v: want the Zipkin tag (string) and the error status (bool)", errTags)
	}
	wantTags(t, "server half", srv.Tags, map[string]string{"span.kind": "string:server", "net.host.port": "int64:9000"})
	wantTags(t, "cache", cache.Tags, map[string]string{"cache.hit": "string:true"})
	if m := tagMap(cache.Tags); m["span.kind"] != "" {
		t.Errorf("cache lookup has span.kind %q, want none (internal)", m["span.kind"])
	}
	// The annotation became an event.
	if len(root.Logs) != 1 || root.Logs[0].Timestamp-root.StartTime != 500 {
		t.Fatalf("root logs %+v, want one at +500µs", root.Logs)
	}
	wantTags(t, "root log", root.Logs[0].Fields, map[string]string{"event": "string:auth.ok"})
}

func TestZipkinReceiver(t *testing.T) {
	s := Start(t)
	url := "http://" + s.Addr("receivers.zipkin.addr")
	start := time.Now().Add(-time.Minute).Truncate(time.Microsecond)

	t.Run("v2 JSON, zipkin-go", func(t *testing.T) {
		id := emitZipkinTrace(t, url+"/api/v2/spans", false, start)
		checkZipkinClientTrace(t, s, id, start, true)
		// A 64-bit id is the same trace as 16 or 32 hex digits.
		getJaegerTrace(t, s, fmt.Sprintf("%032x", id.Low), 5)
	})
	t.Run("v2 proto3, zipkin-go", func(t *testing.T) {
		id := emitZipkinTrace(t, url+"/api/v2/spans", true, start)
		checkZipkinClientTrace(t, s, id, start, false)
	})
	t.Run("v1 JSON", func(t *testing.T) {
		t0 := start.UnixMicro()
		fe := `{"serviceName":"legacy","ipv4":"127.0.0.1","port":8080}`
		body := fmt.Sprintf(`[
		  {"traceId":"00000000000a11ce","id":"00000000000a11ce","name":"get /old","timestamp":%[1]d,"duration":2500,
		   "annotations":[{"timestamp":%[1]d,"value":"sr","endpoint":%[2]s},{"timestamp":%[3]d,"value":"ss","endpoint":%[2]s}],
		   "binaryAnnotations":[{"key":"http.path","value":"/old","endpoint":%[2]s}]},
		  {"traceId":"00000000000a11ce","id":"00000000000b0b00","parentId":"00000000000a11ce","name":"query","timestamp":%[4]d,"duration":700,
		   "annotations":[{"timestamp":%[4]d,"value":"cs","endpoint":%[2]s},{"timestamp":%[5]d,"value":"cr","endpoint":%[2]s}],
		   "binaryAnnotations":[{"key":"sa","value":true,"endpoint":{"serviceName":"db"}},{"key":"error","value":"timeout","endpoint":%[2]s}]}]`,
			t0, fe, t0+2500, t0+1000, t0+1700)
		resp, err := http.Post(url+"/api/v1/spans", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("status %d, want 202", resp.StatusCode)
		}
		tr := getJaegerTrace(t, s, "a11ce", 2)
		for _, sp := range tr.Spans {
			if tr.Processes[sp.ProcessID].ServiceName != "legacy" {
				t.Errorf("%s: service %q", sp.OperationName, tr.Processes[sp.ProcessID].ServiceName)
			}
			switch sp.OperationName {
			case "get /old":
				wantTags(t, "v1 server", sp.Tags, map[string]string{"span.kind": "string:server", "http.path": "string:/old"})
				if sp.Duration != 2500 {
					t.Errorf("v1 server duration %d", sp.Duration)
				}
			case "query":
				wantTags(t, "v1 client", sp.Tags, map[string]string{"span.kind": "string:client", "otel.status_code": "string:ERROR", "sa": "string:true"})
				if sp.Duration != 700 || sp.StartTime-uint64(t0) != 1000 {
					t.Errorf("v1 client offset %d duration %d", sp.StartTime-uint64(t0), sp.Duration)
				}
			default:
				t.Errorf("unexpected span %q", sp.OperationName)
			}
		}
	})

	if got := s.Metric(t, `clew_receiver_spans_stored_total{receiver="zipkin"}`); got != 12 {
		t.Errorf("zipkin stored %v spans, want 12", got)
	}
}

func TestZipkinReceiverBadInput(t *testing.T) {
	s := Start(t, "--limits.max-request-bytes=4096")
	url := "http://" + s.Addr("receivers.zipkin.addr")
	post := func(path, ctype string, body []byte) (int, string) {
		t.Helper()
		resp, err := http.Post(url+path, ctype, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	for _, c := range []struct {
		path, ctype, body string
		code              int
		msg               string
	}{
		{"/api/v2/spans", "application/json", "{not json", 400, "v2 JSON"},
		{"/api/v2/spans", "application/x-protobuf", "\x0a\xff", 400, "proto3"},
		{"/api/v1/spans", "application/json", `[{"traceId":"zz","id":"1"}]`, 400, "v1 JSON"},
		{"/api/v2/spans", "application/json", "[" + strings.Repeat(" ", 5000) + "]", 413, "too large"},
	} {
		if code, msg := post(c.path, c.ctype, []byte(c.body)); code != c.code || !strings.Contains(msg, c.msg) {
			t.Errorf("%s %s %.20q: %d %q, want %d containing %q", c.path, c.ctype, c.body, code, msg, c.code, c.msg)
		}
	}
	if got := s.Metric(t, `clew_receiver_spans_refused_total{reason="malformed",receiver="zipkin"}`); got != 3 {
		t.Errorf("refused malformed = %v, want 3", got)
	}
	if got := s.Metric(t, `clew_receiver_spans_refused_total{reason="too_large",receiver="zipkin"}`); got != 1 {
		t.Errorf("refused too_large = %v, want 1", got)
	}
	// Still serving.
	start := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	checkZipkinClientTrace(t, s, emitZipkinTrace(t, url+"/api/v2/spans", false, start), start, true)
}
