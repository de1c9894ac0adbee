package jaeger

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/memstore"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

func fixture() []*model.Span {
	res := &model.Resource{Attributes: model.Attributes{
		{Key: "service.name", Value: model.StringValue("frontend")},
		{Key: "host.name", Value: model.StringValue("h1")},
	}}
	// An equal resource behind another pointer shares the process id.
	res2 := &model.Resource{Attributes: res.Attributes}
	db := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("db")}}}
	scope := &model.Scope{Name: "lib", Version: "1.0"}
	tid := model.TraceIDFromUint64s(0, 0xabc)
	ns := func(d time.Duration) uint64 { return uint64(t0.Add(d).UnixNano()) }
	root := &model.Span{Resource: res, Scope: scope, TraceID: tid, SpanID: model.SpanIDFromUint64(1), Name: "GET /", Kind: model.SpanKindServer,
		StartTimeUnixNano: ns(0), EndTimeUnixNano: ns(150 * time.Millisecond), Flags: 1,
		Attributes: model.Attributes{
			{Key: "s", Value: model.StringValue("<b>x</b>")},
			{Key: "i", Value: model.IntValue(42)},
			{Key: "d", Value: model.DoubleValue(1.5)},
			{Key: "b", Value: model.BoolValue(true)},
			{Key: "x", Value: model.BytesValue([]byte("hi"))},
			{Key: "m", Value: model.MapValue(model.Attributes{{Key: "k", Value: model.IntValue(1)}})},
		},
		Status: model.Status{Code: model.StatusOK}, TraceState: "a=1"}
	child := &model.Span{Resource: res2, Scope: scope, TraceID: tid, SpanID: model.SpanIDFromUint64(2), ParentSpanID: model.SpanIDFromUint64(1),
		Name: "call", Kind: model.SpanKindClient, StartTimeUnixNano: ns(time.Millisecond), EndTimeUnixNano: ns(100 * time.Millisecond),
		Links: []model.Link{
			{TraceID: model.TraceIDFromUint64s(7, 8), SpanID: model.SpanIDFromUint64(9)},
			{TraceID: tid, SpanID: model.SpanIDFromUint64(1), Attributes: model.Attributes{{Key: "opentracing.ref_type", Value: model.StringValue("child_of")}}},
		}}
	q := &model.Span{Resource: db, Scope: &model.Scope{}, TraceID: tid, SpanID: model.SpanIDFromUint64(3), ParentSpanID: model.SpanIDFromUint64(2),
		Name: "SELECT", StartTimeUnixNano: ns(2 * time.Millisecond), EndTimeUnixNano: ns(90 * time.Millisecond),
		Status: model.Status{Code: model.StatusError, Message: "timeout"},
		Events: []model.Event{{TimeUnixNano: ns(50 * time.Millisecond), Name: "exception", Attributes: model.Attributes{{Key: "exception.type", Value: model.StringValue("Timeout")}}}}}
	return []*model.Span{root, child, q}
}

func newAPI(t *testing.T) http.Handler {
	st := memstore.New(memstore.Options{})
	if err := st.WriteSpans(context.Background(), fixture()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(st, Options{Now: func() time.Time { return t0.Add(time.Minute) }}).Register(mux, "")
	return mux
}

func get(t *testing.T, h http.Handler, url string) (int, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
	return rec.Code, rec.Body.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	var v any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%s: invalid JSON: %v", name, err)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	path := "testdata/" + name + ".golden.json"
	if *update {
		os.WriteFile(path, append(pretty, '\n'), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(pretty)+"\n"); diff != "" {
		t.Errorf("%s differs from golden (-want +got):\n%s", name, diff)
	}
}

func TestGolden(t *testing.T) {
	h := newAPI(t)
	for name, url := range map[string]string{
		"trace":        "/api/traces/0000000000000abc",
		"search":       "/api/traces?service=db&lookback=1h&tags=%7B%22otel.status_code%22%3A%22ERROR%22%7D",
		"services":     "/api/services",
		"operations":   "/api/operations?service=frontend",
		"opnames":      "/api/services/frontend/operations",
		"dependencies": "/api/dependencies?endTs=" + strconv.FormatInt(t0.Add(time.Minute).UnixMilli(), 10) + "&lookback=3600000",
		"notfound":     "/api/traces/1",
		"byids":        "/api/traces?traceID=abc&traceID=def",
	} {
		code, body := get(t, h, url)
		if name == "notfound" {
			if code != 404 {
				t.Errorf("%s: status %d", name, code)
			}
		} else if code != 200 {
			t.Errorf("%s: status %d: %s", name, code, body)
		}
		golden(t, name, body)
	}
}

// FuzzParseSearch feeds arbitrary query strings to the search parser: it
// must return a query or a 400, never panic, and never exceed its limits.
func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{
		"service=a&operation=b&tags=%7B%22k%22%3A%22v%22%7D&minDuration=1ms&maxDuration=2s&start=1&end=2&limit=5",
		"service=a&minDuration&maxDuration&lookback=custom",
		"service=a&tag=k:v&tag=x:y&lookback=2h",
		"service=a&tags=%7B%22n%22%3A1%2C%22b%22%3Atrue%7D",
		"traceID=abc",
	} {
		f.Add(s)
	}
	a := New(memstore.New(memstore.Options{}), Options{})
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		tq, err := a.parseSearch(q)
		if err != nil {
			if _, ok := err.(*httpError); !ok {
				t.Fatalf("error %v is not a client error", err)
			}
			return
		}
		if tq.Limit <= 0 || tq.Limit > a.opts.MaxLimit || len(tq.Tags) > maxTags || tq.StartMax.Before(tq.StartMin) {
			t.Fatalf("query out of bounds: %+v", tq)
		}
	})
}

func BenchmarkRenderLargeTrace(b *testing.B) {
	spans := fixture()
	tr := &model.Trace{TraceID: spans[0].TraceID}
	for i := 0; i < 10000; i++ {
		s := *spans[i%3]
		s.SpanID = model.SpanIDFromUint64(uint64(i + 10))
		tr.Spans = append(tr.Spans, &s)
	}
	b.ReportAllocs()
	w := discardWriter{h: http.Header{}}
	for b.Loop() {
		writeResponse(w, http.StatusOK, response{Total: 1}, traceList{tr})
	}
}
