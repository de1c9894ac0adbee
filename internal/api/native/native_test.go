package native

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/memstore"
)

func tid(s string) model.TraceID {
	id, err := model.ParseTraceID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func sid(s string) model.SpanID {
	id, err := model.ParseSpanID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// fixture stores two traces: 0a (frontend → backend, one error, one orphan)
// and 0b (a single span with a link to 0a and one to a missing trace).
func fixture(t *testing.T) http.Handler {
	t.Helper()
	base := uint64(testNow.Add(-10 * time.Minute).UnixNano())
	front := &model.Resource{Attributes: model.Attributes{
		{Key: "service.name", Value: model.StringValue("frontend")},
		{Key: "host.name", Value: model.StringValue("h1")},
	}}
	back := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("backend")}}}
	scope := &model.Scope{Name: "lib", Version: "1.0"}
	spans := []*model.Span{
		{Resource: front, Scope: scope, TraceID: tid("0a"), SpanID: sid("1"), Name: "GET /", Kind: model.SpanKindServer,
			StartTimeUnixNano: base, EndTimeUnixNano: base + 5_000_000,
			Attributes: model.Attributes{{Key: "http.status_code", Value: model.IntValue(500)}}},
		{Resource: back, TraceID: tid("0a"), SpanID: sid("2"), ParentSpanID: sid("1"), Name: "query", Kind: model.SpanKindClient,
			StartTimeUnixNano: base + 1_000_000, EndTimeUnixNano: base + 3_000_000,
			Status: model.Status{Code: model.StatusError, Message: "boom"},
			Events: []model.Event{{TimeUnixNano: base + 2_000_000, Name: "exception", Attributes: model.Attributes{
				{Key: "exception.stacktrace", Value: model.StringValue("at x\nat y")}}}}},
		{Resource: back, TraceID: tid("0a"), SpanID: sid("3"), ParentSpanID: sid("99"), Name: "late",
			StartTimeUnixNano: base + 4_000_000, EndTimeUnixNano: base + 4_500_000},
		{Resource: front, TraceID: tid("0b"), SpanID: sid("4"), Name: "job",
			StartTimeUnixNano: base + 60_000_000_000, EndTimeUnixNano: base + 61_000_000_000,
			Links: []model.Link{
				{TraceID: tid("0a"), SpanID: sid("1"), Attributes: model.Attributes{{Key: "k", Value: model.BoolValue(true)}}},
				{TraceID: tid("0c"), SpanID: sid("5")},
			}},
	}
	st := memstore.New(memstore.Options{})
	if err := st.WriteSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(Options{Reader: st, Now: func() time.Time { return testNow }}).Register(mux)
	return mux
}

func get(t *testing.T, h http.Handler, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestSearch(t *testing.T) {
	h := fixture(t)
	code, body := get(t, h, "/api/clew/search?service=backend&tag=error%3Dtrue")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var got searchResponse
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := searchResponse{Limit: 20, Traces: []summaryJSON{{
		TraceID:            "000000000000000000000000000000" + "0a",
		RootService:        "frontend",
		RootOperation:      "GET /",
		StartTimeUnixMicro: uint64(testNow.Add(-10 * time.Minute).UnixMicro()),
		DurationNano:       5_000_000,
		SpanCount:          3,
		ErrorCount:         1,
		Depth:              2,
		OrphanCount:        1,
		Services: []serviceJSON{
			{Name: "backend", SpanCount: 2, ErrorCount: 1},
			{Name: "frontend", SpanCount: 1},
		},
	}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("search (-want +got):\n%s", diff)
	}

	code, body = get(t, h, "/api/clew/search?lookback=1h&limit=10")
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("status %d, %v: %s", code, err, body)
	}
	if len(got.Traces) != 2 || got.Traces[0].RootOperation != "job" {
		t.Errorf("want 2 traces, most recent (job) first; got %+v", got.Traces)
	}

	code, body = get(t, h, "/api/clew/search?service=nobody")
	if code != 200 || strings.TrimSpace(body) != `{"traces":[],"limit":20}` {
		t.Errorf("empty search: %d %s", code, body)
	}
}

func TestSearchBadRequest(t *testing.T) {
	h := fixture(t)
	code, body := get(t, h, "/api/clew/search?minDuration=soon")
	if code != http.StatusBadRequest || !strings.Contains(body, "minDuration") {
		t.Errorf("got %d %q, want 400 naming minDuration", code, body)
	}
}

func TestTrace(t *testing.T) {
	h := fixture(t)
	code, body := get(t, h, "/api/clew/traces/0a")
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var got traceJSON
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.SpanCount != 3 || got.OrphanCount != 1 || got.Depth != 2 || len(got.Spans) != 3 {
		t.Fatalf("summary: %+v", got.summaryJSON)
	}
	if diff := cmp.Diff([]string{"1 span(s) reference a parent span that is not in the trace"}, got.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	wantResources := []resourceJSON{
		{ServiceName: "frontend", Attributes: []attrJSON{
			{Key: "service.name", Type: "string", Value: "frontend"}, {Key: "host.name", Type: "string", Value: "h1"}}},
		{ServiceName: "backend", Attributes: []attrJSON{{Key: "service.name", Type: "string", Value: "backend"}}},
	}
	if diff := cmp.Diff(wantResources, got.Resources); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]scopeJSON{{Name: "lib", Version: "1.0", Attributes: []attrJSON{}}}, got.Scopes); diff != "" {
		t.Errorf("scopes (-want +got):\n%s", diff)
	}
	wantSpan := spanJSON{
		SpanID: "0000000000000002", ParentSpanID: "0000000000000001", Name: "query", Kind: "client",
		Resource: 1, Scope: -1, StartNano: 1_000_000, DurationNano: 2_000_000,
		Status:     statusJSON{Code: "error", Message: "boom"},
		Attributes: []attrJSON{},
		Events: []eventJSON{{Name: "exception", OffsetNano: 1_000_000, Attributes: []attrJSON{
			{Key: "exception.stacktrace", Type: "string", Value: "at x\nat y"}}}},
	}
	if diff := cmp.Diff(wantSpan, got.Spans[1]); diff != "" {
		t.Errorf("span 2 (-want +got):\n%s", diff)
	}
	if s := got.Spans[0]; s.ParentSpanID != "" || s.Orphan || s.Attributes[0] != (attrJSON{Key: "http.status_code", Type: "int", Value: "500"}) {
		t.Errorf("root span: %+v", s)
	}
	if s := got.Spans[2]; !s.Orphan || s.ParentSpanID != "0000000000000099" {
		t.Errorf("orphan span: %+v", s)
	}

	code, body = get(t, h, "/api/clew/traces/0b")
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("status %d, %v: %s", code, err, body)
	}
	links := got.Spans[0].Links
	if len(links) != 2 || !links[0].TraceExists || links[1].TraceExists || links[0].Attributes[0].Value != "true" {
		t.Errorf("links: %+v", links)
	}
}

func TestTraceErrors(t *testing.T) {
	h := fixture(t)
	if code, body := get(t, h, "/api/clew/traces/0f"); code != 404 || !strings.Contains(body, "not found") {
		t.Errorf("missing trace: %d %q", code, body)
	}
	if code, body := get(t, h, "/api/clew/traces/xyz"); code != 400 || !strings.Contains(body, "trace id") {
		t.Errorf("bad id: %d %q", code, body)
	}
}

func TestTraceShapeCycle(t *testing.T) {
	// Spans 2 and 3 are each other's parent: no root reaches them, and
	// they must still be counted, not lost.
	tr := &model.Trace{TraceID: tid("1"), Spans: []*model.Span{
		{SpanID: sid("1"), Name: "root"},
		{SpanID: sid("2"), ParentSpanID: sid("3")},
		{SpanID: sid("3"), ParentSpanID: sid("2")},
	}}
	sh := traceShape(tr)
	if diff := cmp.Diff([]int{1, 1, 2}, sh.depth); diff != "" {
		t.Errorf("depths (-want +got):\n%s", diff)
	}
	if sh.orphans != 1 || sh.root != tr.Spans[0] || sh.maxDep != 2 {
		t.Errorf("orphans %d, root %v, depth %d", sh.orphans, sh.root, sh.maxDep)
	}
}

func TestRenderTraceTruncates(t *testing.T) {
	tr := bigTrace(5)
	got := renderTrace(tr, 3, func(model.TraceID) bool { return false })
	if len(got.Spans) != 3 || got.SpanCount != 5 {
		t.Fatalf("spans %d, spanCount %d; want 3 of 5", len(got.Spans), got.SpanCount)
	}
	want := []string{"the trace has 5 spans; only its earliest 3 are shown (download it whole as OTLP or Jaeger JSON)"}
	if diff := cmp.Diff(want, got.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// bigTrace is a trace of n spans, each the child of the one before it
// modulo a fan-out of 4, with two attributes, over two resources.
func bigTrace(n int) *model.Trace {
	res := []*model.Resource{
		{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("a")}}},
		{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("b")}}},
	}
	tr := &model.Trace{TraceID: tid("1")}
	for i := 0; i < n; i++ {
		s := &model.Span{
			Resource: res[i%2], TraceID: tr.TraceID, SpanID: model.SpanIDFromUint64(uint64(i + 1)),
			Name: "op", StartTimeUnixNano: uint64(1e18 + i*1000), EndTimeUnixNano: uint64(1e18 + i*1000 + 500),
			Attributes: model.Attributes{{Key: "i", Value: model.IntValue(int64(i))}, {Key: "s", Value: model.StringValue("x")}},
		}
		if i > 0 {
			s.ParentSpanID = model.SpanIDFromUint64(uint64((i-1)/4 + 1))
		}
		tr.Spans = append(tr.Spans, s)
	}
	return tr
}

func BenchmarkRenderTrace(b *testing.B) {
	tr := bigTrace(50_000)
	b.ReportAllocs()
	for b.Loop() {
		out := renderTrace(tr, 500_000, func(model.TraceID) bool { return false })
		if len(out.Spans) != 50_000 {
			b.Fatal(len(out.Spans))
		}
	}
}

func BenchmarkTraceJSON(b *testing.B) {
	tr := bigTrace(50_000)
	b.ReportAllocs()
	for b.Loop() {
		data, err := json.Marshal(renderTrace(tr, 500_000, func(model.TraceID) bool { return false }))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}

func BenchmarkSummarize(b *testing.B) {
	tr := bigTrace(1000)
	b.ReportAllocs()
	for b.Loop() {
		_ = summarize(tr).json()
	}
}

func TestTraceGzip(t *testing.T) {
	h := fixture(t)
	req := httptest.NewRequest("GET", "/api/clew/traces/0a", nil)
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("status %d, headers %v", rec.Code, rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got traceJSON
	if err := json.NewDecoder(zr).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.SpanCount != 3 {
		t.Errorf("spanCount %d, want 3", got.SpanCount)
	}
	for _, ae := range []string{"gzip;q=0", "br", ""} {
		req.Header.Set("Accept-Encoding", ae)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Content-Encoding") != "" || !strings.HasPrefix(rec.Body.String(), "{") {
			t.Errorf("Accept-Encoding %q: got Content-Encoding %q", ae, rec.Header().Get("Content-Encoding"))
		}
	}
}
