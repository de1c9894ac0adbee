package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	pb "github.com/DataDog/datadog-agent/pkg/proto/pbgo/trace"
	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/store"
)

// fakeConsumer records what the handler hands over.
type fakeConsumer struct {
	mu      sync.Mutex
	spans   []*model.Span
	refused map[string]int
	err     error
}

func (f *fakeConsumer) Consume(ctx context.Context, receiver string, spans []*model.Span) (pipeline.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if receiver != Name {
		panic("receiver " + receiver)
	}
	if f.err != nil {
		return pipeline.Result{}, f.err
	}
	f.spans = append(f.spans, spans...)
	return pipeline.Result{Accepted: len(spans)}, nil
}

func (f *fakeConsumer) Refuse(receiver, reason string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused == nil {
		f.refused = map[string]int{}
	}
	f.refused[reason]++
}

func newTestServer(t *testing.T, c *fakeConsumer, maxBytes int64) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	NewHandler(c, maxBytes, "test", nil).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, contentType string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTracesEndpoints(t *testing.T) {
	v04 := readTestdata(t, "v04_ddtracego.msgpack")
	v05 := readTestdata(t, "v05_ddtracejs.msgpack")
	v03 := readTestdata(t, "v03_tracer.json")
	f := func(method, path, contentType string, body []byte, wantCode int, wantBody string) {
		t.Helper()
		c := &fakeConsumer{}
		srv := newTestServer(t, c, 1<<20)
		code, got := do(t, method, srv.URL+path, contentType, body, map[string]string{"Datadog-Meta-Lang": "go"})
		if code != wantCode || strings.TrimSpace(got) != wantBody {
			t.Errorf("%s %s: got %d %q, want %d %q", method, path, code, got, wantCode, wantBody)
		}
		if len(c.spans) != 2 {
			t.Errorf("%s %s: %d spans consumed, want 2", method, path, len(c.spans))
		}
	}
	rbs := `{"rate_by_service":{"service:,env:":1}}`
	f("PUT", "/v0.4/traces", "application/msgpack", v04, 200, rbs)
	f("POST", "/v0.4/traces", "application/msgpack", v04, 200, rbs)
	f("POST", "/v0.4/traces", "", v04, 200, rbs) // sniffed as msgpack
	f("PUT", "/v0.5/traces", "application/msgpack", v05, 200, rbs)
	f("POST", "/v0.5/traces", "application/msgpack", v05, 200, rbs)
	f("PUT", "/v0.3/traces", "application/json", v03, 200, "OK")
	f("POST", "/v0.3/traces", "", v03, 200, "OK") // sniffed as JSON
	f("PUT", "/v0.4/traces", "application/json", v03, 200, rbs)

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(v04)
	_ = zw.Close()
	c := &fakeConsumer{}
	srv := newTestServer(t, c, 1<<20)
	if code, body := do(t, "PUT", srv.URL+"/v0.4/traces", "application/msgpack", gz.Bytes(), map[string]string{"Content-Encoding": "gzip"}); code != 200 || len(c.spans) != 2 {
		t.Errorf("gzip body: %d %q, %d spans", code, body, len(c.spans))
	}
}

func TestEmptyBodyIsNoTraces(t *testing.T) {
	c := &fakeConsumer{}
	srv := newTestServer(t, c, 1<<20)
	for _, body := range [][]byte{nil, {0x90}} { // no body; an empty msgpack array
		if code, _ := do(t, "PUT", srv.URL+"/v0.4/traces", "application/msgpack", body, nil); code != 200 {
			t.Errorf("body %x: code %d, want 200", body, code)
		}
	}
	if len(c.spans) != 0 || len(c.refused) != 0 {
		t.Errorf("spans %d, refused %v; want none", len(c.spans), c.refused)
	}
}

func TestBadRequests(t *testing.T) {
	f := func(path, contentType string, body []byte, hdr map[string]string, wantCode int, wantReason, wantMsg string) {
		t.Helper()
		c := &fakeConsumer{}
		srv := newTestServer(t, c, 1024)
		code, msg := do(t, "PUT", srv.URL+path, contentType, body, hdr)
		if code != wantCode {
			t.Errorf("%s: code %d, want %d (%s)", path, code, wantCode, msg)
		}
		if !strings.Contains(msg, wantMsg) {
			t.Errorf("%s: message %q does not contain %q", path, msg, wantMsg)
		}
		if c.refused[wantReason] != 1 {
			t.Errorf("%s: refused %v, want one %q", path, c.refused, wantReason)
		}
		if len(c.spans) != 0 {
			t.Errorf("%s: %d spans consumed from a bad request", path, len(c.spans))
		}
	}
	f("/v0.4/traces", "application/msgpack", []byte{0x91, 0x91, 0xc1}, nil, 400, ReasonMalformed, "malformed payload: v0.4 msgpack")
	f("/v0.4/traces", "application/json", []byte(`[[{"span_id":"x"}]]`), nil, 400, ReasonMalformed, "v0.4 JSON")
	f("/v0.5/traces", "application/msgpack", []byte{0x92, 0x90, 0x91, 0x91, 0x93}, nil, 400, ReasonMalformed, "v0.5 msgpack")
	f("/v0.4/traces", "application/msgpack", bytes.Repeat([]byte{0x90}, 2000), nil, 413, ReasonTooLarge, "larger than 1024 bytes")
	f("/v0.4/traces", "application/msgpack", []byte{0x90}, map[string]string{"Content-Encoding": "br"}, 415, ReasonBadEncoding, "unsupported Content-Encoding")
	f("/v0.4/traces", "application/msgpack", []byte("not gzip"), map[string]string{"Content-Encoding": "gzip"}, 400, ReasonMalformed, "gzip")

	// A small gzip body that expands past the limit.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(bytes.Repeat([]byte{0x90}, 100000))
	_ = zw.Close()
	f("/v0.4/traces", "application/msgpack", gz.Bytes(), map[string]string{"Content-Encoding": "gzip"}, 413, ReasonTooLarge, "larger than")
}

func TestOverloadAsksToRetry(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{fmt.Errorf("queue: %w", pipeline.ErrOverloaded), http.StatusTooManyRequests},
		{fmt.Errorf("head full: %w", store.ErrFull), http.StatusTooManyRequests},
		{fmt.Errorf("disk on fire"), http.StatusServiceUnavailable},
	} {
		c := &fakeConsumer{err: tc.err}
		srv := newTestServer(t, c, 1<<20)
		req, _ := http.NewRequest("PUT", srv.URL+"/v0.4/traces", bytes.NewReader(readTestdata(t, "v04_ddtracego.msgpack")))
		req.Header.Set("Content-Type", "application/msgpack")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%v: got %d Retry-After %q, want %d with Retry-After", tc.err, resp.StatusCode, resp.Header.Get("Retry-After"), tc.code)
		}
	}
}

func TestInfoAndSideEndpoints(t *testing.T) {
	c := &fakeConsumer{}
	srv := newTestServer(t, c, 1<<20)
	code, body := do(t, "GET", srv.URL+"/info", "", nil, nil)
	if code != 200 {
		t.Fatalf("/info: %d", code)
	}
	var got struct {
		Version       string   `json:"version"`
		Endpoints     []string `json:"endpoints"`
		ClientDropP0s bool     `json:"client_drop_p0s"`
		SpanEvents    bool     `json:"span_events"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("/info body %q: %v", body, err)
	}
	want := []string{"/v0.3/traces", "/v0.4/traces", "/v0.5/traces", "/info"}
	if diff := cmp.Diff(want, got.Endpoints); diff != "" || got.Version != "clew-test" || got.ClientDropP0s || !got.SpanEvents {
		t.Errorf("/info = %+v; endpoints diff %s", got, diff)
	}
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"PUT", "/v0.6/stats", 200},
		{"POST", "/telemetry/proxy/api/v2/apmtelemetry", 202},
		{"POST", "/dogstatsd/v2/proxy", 200},
		{"POST", "/v0.7/config", 404},
		{"GET", "/", 200},
		{"GET", "/v0.4/traces", 405},
		{"PUT", "/v0.9/traces", 404},
	} {
		if code, _ := do(t, tc.method, srv.URL+tc.path, "application/msgpack", []byte{0x80}, nil); code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, code, tc.code)
		}
	}
	if len(c.spans) != 0 || len(c.refused) != 0 {
		t.Errorf("side endpoints consumed %d spans, refused %v", len(c.spans), c.refused)
	}
}

func TestTraceIDHighAcrossPayloads(t *testing.T) {
	tr := NewTranslator(2)
	first := pb.Traces{{
		{Service: "a", Name: "root", TraceID: 7, SpanID: 1, Start: 1, Duration: 1, Meta: map[string]string{"_dd.p.tid": "6b01336000000000"}},
	}}
	later := pb.Traces{{{Service: "a", Name: "late child", TraceID: 7, SpanID: 2, ParentID: 1, Start: 1, Duration: 1}}}
	other := pb.Traces{{{Service: "a", Name: "other trace", TraceID: 8, SpanID: 3, Start: 1, Duration: 1}}}
	want := model.TraceIDFromUint64s(0x6b01336000000000, 7)
	if got := tr.ToModel(first, Tracer{})[0].TraceID; got != want {
		t.Errorf("first chunk: %v, want %v", got, want)
	}
	if got := tr.ToModel(later, Tracer{})[0].TraceID; got != want {
		t.Errorf("later chunk without _dd.p.tid: %v, want %v", got, want)
	}
	if got := tr.ToModel(other, Tracer{})[0].TraceID; got != model.TraceIDFromUint64s(0, 8) {
		t.Errorf("unrelated 64-bit trace: %v", got)
	}
	// Evicted once two more trace ids were seen.
	tr.ToModel(pb.Traces{{{TraceID: 9, SpanID: 4, Meta: map[string]string{"_dd.p.tid": "1"}}}}, Tracer{})
	tr.ToModel(pb.Traces{{{TraceID: 10, SpanID: 5, Meta: map[string]string{"_dd.p.tid": "2"}}}}, Tracer{})
	if got := tr.ToModel(later, Tracer{})[0].TraceID; got != model.TraceIDFromUint64s(0, 7) {
		t.Errorf("after eviction: %v, want the 64-bit id", got)
	}
}

func TestSpanMapping(t *testing.T) {
	f := func(s *pb.Span, check func(*model.Span) string) {
		t.Helper()
		spans := NewTranslator(0).ToModel(pb.Traces{{nil, s}}, Tracer{})
		if len(spans) != 1 {
			t.Fatalf("%d spans, want 1 (nil spans skipped)", len(spans))
		}
		if msg := check(spans[0]); msg != "" {
			t.Error(msg)
		}
	}
	kind := func(want model.SpanKind) func(*model.Span) string {
		return func(s *model.Span) string {
			if s.Kind != want {
				return fmt.Sprintf("kind %v, want %v", s.Kind, want)
			}
			return ""
		}
	}
	f(&pb.Span{SpanID: 1, TraceID: 1, Type: "web"}, kind(model.SpanKindServer))
	f(&pb.Span{SpanID: 1, TraceID: 1, Type: "http"}, kind(model.SpanKindClient))
	f(&pb.Span{SpanID: 1, TraceID: 1, Type: "sql"}, kind(model.SpanKindUnspecified))
	f(&pb.Span{SpanID: 1, TraceID: 1, Type: "web", Meta: map[string]string{"span.kind": "consumer"}}, kind(model.SpanKindConsumer))
	f(&pb.Span{SpanID: 1, TraceID: 1, Meta: map[string]string{"span.kind": "producer"}}, kind(model.SpanKindProducer))
	f(&pb.Span{SpanID: 1, TraceID: 1, Meta: map[string]string{"span.kind": "internal"}}, kind(model.SpanKindInternal))
	f(&pb.Span{SpanID: 1, TraceID: 1, Resource: "GET /x"}, func(s *model.Span) string {
		if s.Name != "GET /x" {
			return "empty name not replaced by the resource: " + s.Name
		}
		if s.ServiceName() != model.UnknownService {
			return "empty service: " + s.ServiceName()
		}
		return ""
	})
	f(&pb.Span{SpanID: 1, TraceID: 1, Start: 100, Duration: -5, Error: 1}, func(s *model.Span) string {
		if s.EndTimeUnixNano != 100 || s.Status.Code != model.StatusError || len(s.Events) != 0 {
			return fmt.Sprintf("negative duration / bare error: end %d status %v events %d", s.EndTimeUnixNano, s.Status, len(s.Events))
		}
		return ""
	})
	f(&pb.Span{SpanID: 1, TraceID: 1, Meta: map[string]string{"_dd.span_links": "not json", "events": "[1]"}}, func(s *model.Span) string {
		if v, _ := s.Attributes.Get("_dd.span_links"); v.Str() != "not json" {
			return "an invalid _dd.span_links tag was not kept as an attribute"
		}
		if v, _ := s.Attributes.Get("events"); v.Str() != "[1]" {
			return "an invalid events tag was not kept as an attribute"
		}
		return ""
	})
	f(&pb.Span{SpanID: 1, TraceID: 1,
		SpanLinks:  []*pb.SpanLink{{TraceIDHigh: 2, TraceID: 3, SpanID: 4, Attributes: map[string]string{"k": "v"}, Tracestate: "dd=s:1", Flags: 1 << 31}},
		SpanEvents: []*pb.SpanEvent{{Name: "retry", TimeUnixNano: 55, Attributes: map[string]*pb.AttributeAnyValue{"n": {Type: pb.AttributeAnyValue_INT_VALUE, IntValue: 2}, "tags": {Type: pb.AttributeAnyValue_ARRAY_VALUE, ArrayValue: &pb.AttributeArray{Values: []*pb.AttributeArrayValue{{StringValue: "a"}, {Type: pb.AttributeArrayValue_BOOL_VALUE, BoolValue: true}}}}}}},
	}, func(s *model.Span) string {
		if len(s.Links) != 1 || s.Links[0].TraceID != model.TraceIDFromUint64s(2, 3) || s.Links[0].SpanID != model.SpanIDFromUint64(4) || s.Links[0].TraceState != "dd=s:1" {
			return fmt.Sprintf("native link: %+v", s.Links)
		}
		if len(s.Events) != 1 || s.Events[0].Name != "retry" || s.Events[0].TimeUnixNano != 55 {
			return fmt.Sprintf("native event: %+v", s.Events)
		}
		n, _ := s.Events[0].Attributes.Get("n")
		tags, _ := s.Events[0].Attributes.Get("tags")
		if n.Type() != model.ValueInt || n.Int() != 2 || tags.AsString() != `["a",true]` {
			return fmt.Sprintf("native event attributes: %v %v", n, tags.AsString())
		}
		return ""
	})
}

// A few bytes claiming huge arrays or maps must not make the decoder
// allocate for the claim: the structure is checked first.
func TestDecodeAllocationsFollowTheBody(t *testing.T) {
	for _, tc := range []struct {
		v  Version
		in []byte
	}{
		{V04, []byte{0xdd, 0x00, 0x07, 0xa1, 0x20}},             // 500000 traces
		{V04, []byte{0x91, 0xdd, 0x00, 0x07, 0xa1, 0x20}},       // one trace of 500000 spans
		{V04, []byte{0x91, 0x91, 0xde, 0x00, 0x07, 0xa1, 0x20}}, // a span map of 500000 keys
		{V05, []byte{0x92, 0xdd, 0x00, 0x07, 0xa1, 0x20}},       // a string table of 500000
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			if _, err := Decode(tc.v, "application/msgpack", tc.in); err == nil {
				t.Fatalf("%x decoded", tc.in)
			}
		}
		runtime.ReadMemStats(&after)
		if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 16<<10 {
			t.Errorf("%s %x: %d bytes allocated per call", tc.v, tc.in, per)
		}
	}
}
