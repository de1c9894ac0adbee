package zipkin

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/receivertest"
	"github.com/clew-dev/clew/internal/store"
)

func TestRealClient(t *testing.T) {
	for _, proto := range []bool{false, true} {
		sink := &receivertest.Sink{}
		srv := httptest.NewServer(NewHandler(Options{Consumer: sink, MaxRequestBytes: 1 << 20}))
		id := emitKnownTrace(t, srv.URL+"/api/v2/spans", proto, traceStart)
		srv.Close()
		spans := sink.Spans()
		if len(spans) != 5 {
			t.Fatalf("proto=%v: stored %d spans, want 5", proto, len(spans))
		}
		for _, s := range spans {
			if h, l := s.TraceID.Uint64s(); h != id.High || l != id.Low {
				t.Errorf("proto=%v: span %q in trace %v, want %v", proto, s.Name, s.TraceID, id)
			}
		}
	}
}

func post(t *testing.T, h http.Handler, path, ctype, enc string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", path, bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestAccepts(t *testing.T) {
	v2 := readTestdata(t, "v2.json")
	pb := readTestdata(t, "v2.pb")
	v1 := readTestdata(t, "v1.json")
	for _, tc := range []struct {
		name, path, ctype, enc string
		body                   []byte
		spans                  int
	}{
		{"v2 json", "/api/v2/spans", "application/json", "", v2, 5},
		{"v2 json without content type", "/api/v2/spans", "", "", v2, 5},
		{"v2 json gzip", "/api/v2/spans", "application/json; charset=utf-8", "gzip", gz(v2), 5},
		{"v2 proto", "/api/v2/spans", "application/x-protobuf", "", pb, 5},
		{"v2 proto gzip", "/api/v2/spans", "application/x-protobuf", "gzip", gz(pb), 5},
		{"v1 json", "/api/v1/spans", "application/json", "", v1, 3},
		{"empty list", "/api/v2/spans", "application/json", "", []byte("[]"), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &receivertest.Sink{}
			rec := post(t, NewHandler(Options{Consumer: sink, MaxRequestBytes: 1 << 20}), tc.path, tc.ctype, tc.enc, tc.body)
			if rec.Code != http.StatusAccepted || len(sink.Spans()) != tc.spans {
				t.Errorf("%d %q, %d spans; want 202 and %d", rec.Code, rec.Body, len(sink.Spans()), tc.spans)
			}
		})
	}
}

func TestRefuses(t *testing.T) {
	v2 := readTestdata(t, "v2.json")
	f := func(name string, sink *receivertest.Sink, path, ctype, enc string, body []byte, wantCode int, wantMsg, wantReason string) {
		t.Helper()
		rec := post(t, NewHandler(Options{Consumer: sink, MaxRequestBytes: 1000}), path, ctype, enc, body)
		got, _ := io.ReadAll(rec.Body)
		if rec.Code != wantCode || !strings.Contains(string(got), wantMsg) {
			t.Errorf("%s: %d %q, want %d containing %q", name, rec.Code, got, wantCode, wantMsg)
		}
		if wantReason != "" && sink.Refused()[Name+"/"+wantReason] != 1 {
			t.Errorf("%s: refusals %v, want one %s", name, sink.Refused(), wantReason)
		}
	}
	// The limit is 1000 bytes; v2.json is 1481.
	f("too large", &receivertest.Sink{}, "/api/v2/spans", "application/json", "", v2, 413, "too large", ReasonTooLarge)
	f("too large after gunzip", &receivertest.Sink{}, "/api/v2/spans", "application/json", "gzip", gz(v2), 413, "too large", ReasonTooLarge)
	f("unknown encoding", &receivertest.Sink{}, "/api/v2/spans", "application/json", "br", []byte("[]"), 415, "unsupported content encoding", ReasonBadEncoding)
	f("malformed json", &receivertest.Sink{}, "/api/v2/spans", "application/json", "", []byte("{"), 400, "decode Zipkin v2 JSON", ReasonMalformed)
	f("malformed proto", &receivertest.Sink{}, "/api/v2/spans", "application/x-protobuf", "", []byte("\x0a\xff\xff"), 400, "decode Zipkin v2 proto3", ReasonMalformed)
	f("malformed v1", &receivertest.Sink{}, "/api/v1/spans", "application/json", "", []byte(`[{"traceId":"x"}]`), 400, "decode Zipkin v1 JSON", ReasonMalformed)
	f("corrupt gzip", &receivertest.Sink{}, "/api/v2/spans", "application/json", "gzip", []byte("nope"), 400, "corrupt", ReasonMalformed)
	f("overloaded", &receivertest.Sink{Err: pipeline.ErrOverloaded}, "/api/v2/spans", "application/json", "", []byte(`[{"traceId":"1","id":"2","name":"x","timestamp":1,"duration":1}]`), 503, "retry later", "")
	f("store full", &receivertest.Sink{Err: fmt.Errorf("head full: %w", store.ErrFull)}, "/api/v2/spans", "application/json", "", []byte(`[{"traceId":"1","id":"2","name":"x","timestamp":1,"duration":1}]`), 503, "retry later", "")

	rec := post(t, NewHandler(Options{Consumer: &receivertest.Sink{}, MaxRequestBytes: 1000}), "/api/v2/spans", "application/json", "", []byte("[]"))
	if rec.Code != http.StatusAccepted {
		t.Errorf("empty list: %d", rec.Code)
	}
	req := httptest.NewRequest("GET", "/api/v2/spans", nil)
	rr := httptest.NewRecorder()
	NewHandler(Options{Consumer: &receivertest.Sink{}, MaxRequestBytes: 1000}).ServeHTTP(rr, req)
	if rr.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /api/v2/spans: %d, want 405", rr.Code)
	}
}

func TestDebugHeaderMarksProtoSpans(t *testing.T) {
	// X-B3-Flags: 1 is passed to zipkin-go's proto parser as the debug
	// flag, as the Collector does; the spans are still stored.
	sink := &receivertest.Sink{}
	rec := post(t, NewHandler(Options{Consumer: sink, MaxRequestBytes: 1 << 20}), "/api/v2/spans", "application/x-protobuf", "", readTestdata(t, "v2.pb"), "X-B3-Flags", "1")
	if rec.Code != http.StatusAccepted || len(sink.Spans()) != 5 {
		t.Fatalf("%d, %d spans", rec.Code, len(sink.Spans()))
	}
}

func TestV1TypedValues(t *testing.T) {
	body := `[{"traceId":"0000000000000abc","id":"0000000000000def","name":"q","timestamp":1700000000000000,"duration":5,
	  "annotations":[{"timestamp":1700000000000000,"value":"cs","endpoint":{"serviceName":"api"}}],
	  "binaryAnnotations":[{"key":"sa","value":true,"endpoint":{"serviceName":"db"}},{"key":"retries","value":3,"type":"I32"},{"key":"s","value":"x"}]}]`
	spans, err := NewDecoder(false).Decode(V1JSON, []byte(body), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	for k, want := range map[string]string{"sa": "true", "retries": "3", "s": "x"} {
		if v, ok := spans[0].Attributes.Get(k); !ok || v.Str() != want {
			t.Errorf("%s = %v, want %q", k, v, want)
		}
	}
	if _, err := NewDecoder(false).Decode(V1JSON, []byte(`[{"traceId":"1","id":"2","binaryAnnotations":[{"key":"k","value":{"a":1}}]}]`), false); err == nil {
		t.Error("object value accepted")
	}
}

func TestCORS(t *testing.T) {
	f := func(origins []string, method, origin string, wantCode int, wantAllow string) {
		t.Helper()
		h := NewHandler(Options{Consumer: &receivertest.Sink{}, MaxRequestBytes: 1 << 20, CORSAllowedOrigins: origins})
		req := httptest.NewRequest(method, "/api/v2/spans", strings.NewReader("[]"))
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != wantCode || rec.Header().Get("Access-Control-Allow-Origin") != wantAllow {
			t.Errorf("%v %s from %q: %d, allow-origin %q; want %d, %q", origins, method, origin, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"), wantCode, wantAllow)
		}
	}
	f([]string{"*"}, "OPTIONS", "http://app.example", 204, "*")
	f([]string{"*"}, "POST", "http://app.example", 202, "*")
	f([]string{"http://app.example"}, "OPTIONS", "http://app.example", 204, "http://app.example")
	f([]string{"http://app.example"}, "POST", "http://evil.example", 202, "")
	f(nil, "OPTIONS", "http://app.example", 204, "")
	f([]string{"*"}, "POST", "", 202, "")
}
