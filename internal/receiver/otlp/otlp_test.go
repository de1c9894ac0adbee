package otlp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/store/memstore"
)

func seedJSON(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/trace.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func seedProto(t testing.TB) []byte {
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalJSON(seedJSON(t)); err != nil {
		t.Fatal(err)
	}
	b, err := req.MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newHandler(maxBytes int64) (*HTTPHandler, *memstore.Store) {
	st := memstore.New(memstore.Options{MaxSpans: 10000})
	p := pipeline.New(st, pipeline.Options{Now: func() time.Time { return time.Unix(1700000000, 0) }})
	return NewHTTPHandler(p, maxBytes, []string{"https://ok.example"}, slog.New(slog.DiscardHandler)), st
}

func TestHTTPHandler(t *testing.T) {
	h, st := newHandler(1 << 20)
	mux := http.NewServeMux()
	h.Register(mux)
	do := func(method, ct string, body []byte, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("POST", "application/x-protobuf", seedProto(t)); rec.Code != 200 || rec.Header().Get("Content-Type") != contentProtobuf {
		t.Fatalf("protobuf: %d %s", rec.Code, rec.Body)
	}
	if rec := do("POST", "application/json; charset=utf-8", seedJSON(t)); rec.Code != 200 {
		t.Fatalf("json: %d %s", rec.Code, rec.Body)
	}
	id, _ := model.ParseTraceID("5b8efff798038103d269b633813fc60c")
	tr, err := st.GetTrace(context.Background(), id)
	if err != nil || len(tr.Spans) != 3 {
		t.Fatalf("stored trace: %v %v", tr, err)
	}
	if rec := do("GET", "application/json", nil); rec.Code != 405 {
		t.Errorf("GET: %d", rec.Code)
	}
	// Allowed and refused origins.
	if rec := do("OPTIONS", "", nil, "Origin", "https://ok.example", "Access-Control-Request-Method", "POST"); rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "https://ok.example" {
		t.Errorf("preflight allowed origin: %d %v", rec.Code, rec.Header())
	}
	if rec := do("OPTIONS", "", nil, "Origin", "https://evil.example"); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from a refused origin got CORS headers: %v", rec.Header())
	}
	// Errors come back as google.rpc.Status in the request's encoding.
	rec := do("POST", "application/json", []byte("{"))
	if rec.Code != 400 || !bytes.Contains(rec.Body.Bytes(), []byte(`"message"`)) {
		t.Errorf("malformed JSON: %d %s", rec.Code, rec.Body)
	}
}

// FuzzHTTPHandler feeds arbitrary bodies to the OTLP/HTTP handler in both
// encodings: every answer must be a clean status, never a panic.
func FuzzHTTPHandler(f *testing.F) {
	f.Add(seedJSON(f), false)
	f.Add(seedProto(f), true)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01","spanId":"02"}]}]}]}`), false)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00}, true)
	h, _ := newHandler(64 << 10)
	mux := http.NewServeMux()
	h.Register(mux)
	f.Fuzz(func(t *testing.T, body []byte, proto bool) {
		ct := contentJSON
		if proto {
			ct = contentProtobuf
		}
		req := httptest.NewRequest("POST", "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}

// FuzzDecodeProto decodes arbitrary protobuf and converts it to the model.
func FuzzDecodeProto(f *testing.F) {
	f.Add(seedProto(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(b); err != nil {
			return
		}
		spans := pdataconv.ToModel(req.Traces())
		if len(spans) != req.Traces().SpanCount() {
			t.Fatalf("converted %d spans of %d", len(spans), req.Traces().SpanCount())
		}
	})
}

// benchRequest builds an export of n spans shaped like the benchmark load:
// 10 spans per trace, 6 attributes per span, 4 resource attributes.
func benchRequest(n int) ptraceotlp.ExportRequest {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	for k, v := range map[string]string{"service.name": "checkout", "host.name": "host-1", "service.version": "1.4.2", "deployment.environment": "prod"} {
		rs.Resource().Attributes().PutStr(k, v)
	}
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("bench")
	for i := 0; i < n; i++ {
		sp := ss.Spans().AppendEmpty()
		var tid [16]byte
		tid[0], tid[15] = 1, byte(i/10)
		sp.SetTraceID(pcommon.TraceID(tid))
		sp.SetSpanID(pcommon.SpanID([8]byte{1, byte(i), byte(i >> 8), 4, 5, 6, 7, 8}))
		sp.SetName(fmt.Sprintf("GET /api/item/%d", i%20))
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.Timestamp(1700000000000000000 + i*1000))
		sp.SetEndTimestamp(pcommon.Timestamp(1700000000000000000 + i*1000 + 5e6))
		a := sp.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("url.path", "/api/item")
		a.PutInt("http.response.status_code", 200)
		a.PutStr("user.id", fmt.Sprintf("u%d", i%1000))
		a.PutBool("cache.hit", i%2 == 0)
		a.PutDouble("load", 0.5)
	}
	return ptraceotlp.NewExportRequestFromTraces(td)
}

// BenchmarkDecodeProto measures the receive path: decode an export of 500
// spans and convert it to the model.
func BenchmarkDecodeProto(b *testing.B) {
	body, err := benchRequest(500).MarshalProto()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(body); err != nil {
			b.Fatal(err)
		}
		_ = pdataconv.ToModel(req.Traces())
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/span")
}
