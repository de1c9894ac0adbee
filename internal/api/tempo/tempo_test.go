package tempo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/query/engine"
	"github.com/clew-dev/clew/internal/query/traceql"
	"github.com/clew-dev/clew/internal/store/memstore"
)

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestAPI(t testing.TB) http.Handler {
	st := memstore.New(memstore.Options{})
	res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}}
	tid := model.TraceIDFromUint64s(0, 0xabc)
	spans := []*model.Span{
		{Resource: res, TraceID: tid, SpanID: model.SpanIDFromUint64(1), Name: "root", Kind: model.SpanKindServer,
			StartTimeUnixNano: uint64(base.UnixNano()), EndTimeUnixNano: uint64(base.Add(time.Second).UnixNano()),
			Attributes: model.Attributes{{Key: "http.status_code", Value: model.IntValue(500)}}, Status: model.Status{Code: model.StatusError}},
		{Resource: res, TraceID: tid, SpanID: model.SpanIDFromUint64(2), ParentSpanID: model.SpanIDFromUint64(1), Name: "child",
			StartTimeUnixNano: uint64(base.Add(time.Millisecond).UnixNano()), EndTimeUnixNano: uint64(base.Add(2 * time.Millisecond).UnixNano())},
	}
	if err := st.WriteSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	return New(st, engine.New(st, engine.Options{}), Options{Version: "test"}).Handler()
}

func get(t testing.TB, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	return rec.Code, string(body)
}

func TestErrors(t *testing.T) {
	h := newTestAPI(t)
	f := func(path string, code int, contains string) {
		t.Helper()
		got, body := get(t, h, path)
		if got != code || !strings.Contains(body, contains) {
			t.Errorf("GET %s = %d %q, want %d containing %q", path, got, body, code, contains)
		}
	}
	f("/api/search?q="+url.QueryEscape("{ .a = }"), 400, "parse error at line 1, col 8: unexpected \"}\"")
	f("/api/search?q="+url.QueryEscape("{ } | rate()"), 400, "metrics query")
	f("/api/search?limit=-1", 400, "invalid limit")
	f("/api/search?minDuration=fast", 400, "invalid minDuration")
	f("/api/search?minDuration=2s&maxDuration=1s", 400, "maxDuration")
	f("/api/search?start=yesterday", 400, "invalid start")
	f("/api/search?start=100&end=50", 400, "end is before start")
	f("/api/search?tags="+url.QueryEscape(`a="unterminated`), 400, "invalid tags")
	f("/api/traces/xyz", 400, "invalid trace id")
	f("/api/traces/123", 404, "trace not found")
	f("/api/v2/search/tags?scope=nope", 400, "unknown scope")
	f("/api/v2/search/tag/"+url.PathEscape("a b")+"/values", 400, "invalid tag")
	f("/api/metrics/query_range", 400, "missing q")
	f("/api/metrics/query_range?q="+url.QueryEscape("{ }"), 400, "not a metrics query")
	f("/api/metrics/query_range?q="+url.QueryEscape("{ } | rate()")+"&step=0", 400, "invalid step")
	f("/api/metrics/query?q="+url.QueryEscape("{ } | rate()")+"&since=x", 400, "invalid since")
}

func TestSearchShape(t *testing.T) {
	h := newTestAPI(t)
	code, body := get(t, h, "/api/search?q="+url.QueryEscape(`{ span.http.status_code = 500 } | select(name)`)+"&start=1767225500&end=1767225700")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	tr := got["traces"].([]any)[0].(map[string]any)
	want := map[string]any{
		"traceID":           "00000000000000000000000000000abc",
		"rootServiceName":   "svc",
		"rootTraceName":     "root",
		"startTimeUnixNano": "1767225600000000000",
		"durationMs":        1000.0,
	}
	for k, v := range want {
		if tr[k] != v {
			t.Errorf("%s = %v, want %v", k, tr[k], v)
		}
	}
	span := tr["spanSets"].([]any)[0].(map[string]any)["spans"].([]any)[0]
	wantSpan := map[string]any{
		"spanID": "0000000000000001", "name": "root", "startTimeUnixNano": "1767225600000000000", "durationNanos": "1000000000",
		"attributes": []any{
			map[string]any{"key": "service.name", "value": map[string]any{"stringValue": "svc"}},
			map[string]any{"key": "http.status_code", "value": map[string]any{"intValue": "500"}},
		},
	}
	if diff := cmp.Diff(wantSpan, span); diff != "" {
		t.Errorf("span (-want +got):\n%s", diff)
	}
	// Outside the time range: nothing.
	_, body = get(t, h, "/api/search?start=1767225700&end=1767225800")
	if !strings.HasPrefix(body, `{"traces":[]`) {
		t.Errorf("empty search = %s", body)
	}
}

func TestTagsAndValues(t *testing.T) {
	h := newTestAPI(t)
	_, body := get(t, h, "/api/v2/search/tag/span.http.status_code/values")
	if !strings.Contains(body, `"tagValues":[{"type":"int","value":"500"}]`) {
		t.Errorf("int values: %s", body)
	}
	_, body = get(t, h, "/api/v2/search/tag/kind/values")
	if !strings.Contains(body, `{"type":"keyword","value":"server"},{"type":"keyword","value":"unspecified"}`) {
		t.Errorf("kind values: %s", body)
	}
	_, body = get(t, h, "/api/v2/search/tag/name/values?q="+url.QueryEscape(`{ status = error }`))
	if !strings.Contains(body, `"tagValues":[{"type":"string","value":"root"}]`) {
		t.Errorf("filtered values: %s", body)
	}
	// An unparsable q (Grafana's query being edited) is ignored.
	_, body = get(t, h, "/api/v2/search/tag/name/values?q="+url.QueryEscape(`{ status = `))
	if !strings.Contains(body, `"value":"child"`) {
		t.Errorf("values with a broken q: %s", body)
	}
	_, body = get(t, h, "/api/v2/search/tag/duration/values")
	if !strings.HasPrefix(body, `{"tagValues":[]`) {
		t.Errorf("duration values: %s", body)
	}
	_, body = get(t, h, "/api/search/tags")
	if !strings.Contains(body, `"tagNames":["http.status_code","service.name"]`) {
		t.Errorf("v1 tags: %s", body)
	}
	_, body = get(t, h, "/api/v2/search/tags?scope=intrinsic")
	if !strings.Contains(body, `"name":"intrinsic"`) || !strings.Contains(body, `"traceDuration"`) {
		t.Errorf("intrinsic tags: %s", body)
	}
}

func TestParseTag(t *testing.T) {
	f := func(s string, want *traceql.Attribute) {
		t.Helper()
		got, err := parseTag(s)
		if err != nil {
			t.Fatalf("parseTag(%q): %v", s, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("parseTag(%q) (-want +got):\n%s", s, diff)
		}
	}
	f("resource.service.name", &traceql.Attribute{Scope: traceql.ScopeResource, Name: "service.name"})
	f(".http.method", &traceql.Attribute{Name: "http.method"})
	f("event:name", &traceql.Attribute{Scope: traceql.ScopeIntrinsic, Intrinsic: traceql.IntrinsicEventName})
	f("status", &traceql.Attribute{Scope: traceql.ScopeIntrinsic, Intrinsic: traceql.IntrinsicStatus})
	for _, bad := range []string{"", "}", "a b", "1", `"x"`, ".a = 1 } | { .b"} {
		if _, err := parseTag(bad); err == nil {
			t.Errorf("parseTag(%q) accepted", bad)
		}
	}
}

func TestParams(t *testing.T) {
	f := func(s string, want time.Time) {
		t.Helper()
		got, err := parseTime(s, "start")
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	f("1767225600", base)
	f("1767225600.5", base.Add(500*time.Millisecond))
	f("1767225600000", base)
	f("1767225600000000", base)
	f("1767225600000000000", base)
	f("2026-01-01T00:00:00Z", base)
	for _, bad := range []string{"", "x", "-1", "NaN", "1e30"} {
		if _, err := parseTime(bad, "start"); err == nil {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
	if d, err := stepParam("90"); err != nil || d != 90*time.Second {
		t.Errorf("step 90 = %v, %v", d, err)
	}
	if d, err := stepParam("1m"); err != nil || d != time.Minute {
		t.Errorf("step 1m = %v, %v", d, err)
	}
	if _, _, err := timeRange("0", "40000000", 0); err == nil {
		t.Error("a range of more than a year accepted")
	}
	tags, err := parseLogfmt(`service.name=frontend http.status_code=500 msg="a b"`)
	if err != nil || !cmp.Equal(tags, map[string]string{"service.name": "frontend", "http.status_code": "500", "msg": "a b"}) {
		t.Errorf("parseLogfmt = %v, %v", tags, err)
	}
	if _, err := parseLogfmt(strings.Repeat("a=b ", 3) + strings.Repeat("x", 10)); err != nil {
		t.Errorf("bare key: %v", err)
	}
	var many strings.Builder
	for i := range MaxTags + 1 {
		many.WriteString("k" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "=v ")
	}
	if _, err := parseLogfmt(many.String()); err == nil {
		t.Error("too many tags accepted")
	}
}

// FuzzSearch sends arbitrary q and tags to /api/search: the answer is 200
// or 400, never a panic or a 500.
func FuzzSearch(f *testing.F) {
	f.Add("{ .a = 1 }", "")
	f.Add("{ } | by(name) | count() > 1", "service.name=svc")
	f.Add("{ } > { }", `a="b`)
	f.Add("", "x=1 y")
	h := newTestAPI(f)
	f.Fuzz(func(t *testing.T, q, tags string) {
		code, body := get(t, h, "/api/search?q="+url.QueryEscape(q)+"&tags="+url.QueryEscape(tags))
		if code != 200 && code != 400 {
			t.Fatalf("q=%q tags=%q: %d %s", q, tags, code, body)
		}
	})
}

// TestTraceByIDLength: the replies of a trace by id, JSON and protobuf,
// v1 and v2, carry their Content-Length and are not chunked (net/http
// sets it by itself only for replies under 2 KiB: this trace's are
// larger).
func TestTraceByIDLength(t *testing.T) {
	st := memstore.New(memstore.Options{})
	res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}}
	var spans []*model.Span
	for i := 0; i < 60; i++ {
		spans = append(spans, &model.Span{Resource: res, TraceID: model.TraceIDFromUint64s(0, 0xabc), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
			Name: "operation", StartTimeUnixNano: uint64(base.UnixNano()), EndTimeUnixNano: uint64(base.Add(time.Second).UnixNano()),
			Attributes: model.Attributes{{Key: "http.route", Value: model.StringValue("/api/items/{id}")}}})
	}
	if err := st.WriteSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(st, engine.New(st, engine.Options{}), Options{Version: "test"}).Handler())
	defer srv.Close()
	for _, path := range []string{"/api/traces/", "/api/v2/traces/"} {
		for _, accept := range []string{"application/json", "application/protobuf"} {
			req, err := http.NewRequest(http.MethodGet, srv.URL+path+"00000000000000000000000000000abc", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Accept", accept)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(r.Body)
			r.Body.Close()
			if err != nil || r.StatusCode != http.StatusOK || len(body) < 4096 {
				t.Fatalf("%s %s: status %d, %d bytes, %v", path, accept, r.StatusCode, len(body), err)
			}
			if r.ContentLength != int64(len(body)) || len(r.TransferEncoding) > 0 {
				t.Errorf("%s %s: Content-Length %d, Transfer-Encoding %v for %d bytes", path, accept, r.ContentLength, r.TransferEncoding, len(body))
			}
		}
	}
}
