package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clew-dev/clew/internal/query/traceql"
	"github.com/clew-dev/clew/internal/store"
)

func TestSearchLimitsAndOrder(t *testing.T) {
	e, fx := newFixtureEngine(t, Options{})
	e.noIndex = true
	q := traceql.MustParse("{ }")
	resp, err := e.Search(context.Background(), SearchRequest{Query: q, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Traces) != 2 || fx.traces[resp.Traces[0].TraceID] != "orphan" || fx.traces[resp.Traces[1].TraceID] != "health" {
		t.Fatalf("limit 2 gave %d traces, want the two most recent (orphan, health)", len(resp.Traces))
	}
	if resp.Traces[0].RootName != RootPending || resp.Traces[1].RootName != "GET /health" {
		t.Errorf("root names %q %q", resp.Traces[0].RootName, resp.Traces[1].RootName)
	}
	if resp.Stats.Traces != 5 || resp.Stats.Spans != 16 || resp.Partial {
		t.Errorf("stats %+v partial %v, want 5 traces, 16 spans, complete", resp.Stats, resp.Partial)
	}
	// Spans per spanset: default 3, Matched counts them all.
	resp, _ = e.Search(context.Background(), SearchRequest{Query: q, Limit: 100})
	for _, m := range resp.Traces {
		if fx.traces[m.TraceID] == "checkout" {
			if ss := m.SpanSets[0]; len(ss.Spans) != 3 || ss.Matched != 7 {
				t.Errorf("checkout spanset: %d spans, matched %d; want 3 and 7", len(ss.Spans), ss.Matched)
			}
			if st := m.ServiceStats["frontend"]; st.SpanCount != 3 || st.ErrorCount != 2 {
				t.Errorf("frontend stats %+v", st)
			}
		}
	}
	// Time range and trace duration.
	resp, _ = e.Search(context.Background(), SearchRequest{Query: q, Start: fx.Base.Add(50 * time.Second), End: fx.Base.Add(200 * time.Second), MinDuration: 100 * time.Millisecond})
	if len(resp.Traces) != 2 {
		t.Errorf("time range + min duration: %d traces, want 2 (browse, async)", len(resp.Traces))
	}
	resp, _ = e.Search(context.Background(), SearchRequest{Query: q, MaxDuration: 10 * time.Millisecond})
	if len(resp.Traces) != 2 {
		t.Errorf("max duration: %d traces, want 2 (health, orphan)", len(resp.Traces))
	}
}

func TestCaps(t *testing.T) {
	e, _ := newFixtureEngine(t, Options{MaxTracesInspected: 2})
	e.noIndex = true
	resp, err := e.Search(context.Background(), SearchRequest{Query: traceql.MustParse("{ }")})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Partial || resp.Stats.Traces != 2 || len(resp.Traces) != 2 {
		t.Errorf("trace cap: partial %v, inspected %d, found %d", resp.Partial, resp.Stats.Traces, len(resp.Traces))
	}
	e, _ = newFixtureEngine(t, Options{MaxSpansInspected: 3})
	e.noIndex = true
	resp, _ = e.Search(context.Background(), SearchRequest{Query: traceql.MustParse("{ }")})
	if !resp.Partial || resp.Stats.Spans > 3 {
		t.Errorf("span cap: partial %v, inspected %d spans", resp.Partial, resp.Stats.Spans)
	}
	e, fx := newFixtureEngine(t, Options{MaxSeries: 2})
	m, err := e.QueryRange(context.Background(), MetricsRequest{Query: traceql.MustParse("{ } | rate() by (resource.service.name)"), Start: fx.Base, End: fx.Base.Add(time.Hour), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Series) != 2 || !m.Partial {
		t.Errorf("series cap: %d series, partial %v", len(m.Series), m.Partial)
	}
	e, fx = newFixtureEngine(t, Options{MaxPoints: 10})
	_, err = e.QueryRange(context.Background(), MetricsRequest{Query: traceql.MustParse("{ } | rate()"), Start: fx.Base, End: fx.Base.Add(time.Hour), Step: time.Minute})
	if !errors.Is(err, ErrBadRequest) {
		t.Errorf("too many points: %v, want ErrBadRequest", err)
	}
}

func TestCancel(t *testing.T) {
	e, _ := newFixtureEngine(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Search(ctx, SearchRequest{Query: traceql.MustParse("{ }")}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled search: %v", err)
	}
}

func TestBadRequests(t *testing.T) {
	e, fx := newFixtureEngine(t, Options{})
	if _, err := e.Search(context.Background(), SearchRequest{Query: traceql.MustParse("{ } | rate()")}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("metrics query to search: %v", err)
	}
	if _, err := e.QueryRange(context.Background(), MetricsRequest{Query: traceql.MustParse("{ }"), Start: fx.Base, End: fx.Base.Add(time.Hour)}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("search query to metrics: %v", err)
	}
	if _, err := e.QueryRange(context.Background(), MetricsRequest{Query: traceql.MustParse("{ } | rate()"), Start: fx.Base, End: fx.Base}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("empty range: %v", err)
	}
}

// readerOnly hides the Scanner upgrade.
type readerOnly struct{ store.Reader }

func TestUnsupportedStore(t *testing.T) {
	e, _ := newFixtureEngine(t, Options{})
	e2 := New(readerOnly{e.r}, Options{})
	if _, err := e2.Search(context.Background(), SearchRequest{Query: traceql.MustParse("{ .a = 1 }")}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("store without Scanner: %v", err)
	}
	// What the store's index answers needs no scan.
	if resp, err := e2.Search(context.Background(), SearchRequest{Query: traceql.MustParse(`{ resource.service.name = "frontend" }`)}); err != nil || len(resp.Traces) != 3 {
		t.Errorf("index search without Scanner: %v", err)
	}
}

func TestHints(t *testing.T) {
	f := func(q string, want store.ScanRequest) {
		t.Helper()
		if got := compile(traceql.MustParse(q)).hints; !cmp.Equal(got, want) {
			t.Errorf("hints of %q = %+v, want %+v", q, got, want)
		}
	}
	f(`{ resource.service.name = "a" && name = "b" && duration > 1s }`, store.ScanRequest{Service: "a", SpanName: "b", MinDuration: time.Second})
	f(`{ resource.service.name = "a" || name = "b" }`, store.ScanRequest{})
	f(`{ .service.name = "a" && span.code = 500 && .ok = true && .f = 0.5 && .s != "x" }`, store.ScanRequest{Tags: map[string]string{"service.name": "a", "code": "500", "ok": "true"}})
	f(`{ name = "x" } || { name = "y" }`, store.ScanRequest{})
	f(`{ name = "x" } > { resource.service.name = "y" && duration >= 2s }`, store.ScanRequest{Service: "y", MinDuration: 2 * time.Second})
	f(`{ name = "x" } !> { resource.service.name = "y" }`, store.ScanRequest{Service: "y"})
	f(`{ name = "x" } | count() > 2`, store.ScanRequest{SpanName: "x"})
	f(`{ parent.resource.service.name = "a" && parent.x = "b" }`, store.ScanRequest{})
}

func TestTagsHints(t *testing.T) {
	p := compile(traceql.MustParse("{ }"))
	p.withTags(map[string]string{"service.name": "a", "name": "op", "http.status_code": "500"})
	want := store.ScanRequest{SpanName: "op", Tags: map[string]string{"service.name": "a", "http.status_code": "500"}}
	if !cmp.Equal(p.hints, want) {
		t.Errorf("tags hints = %+v, want %+v", p.hints, want)
	}
}

func TestEngineMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	e, _ := newFixtureEngine(t, Options{Registerer: reg})
	if _, err := e.Search(context.Background(), SearchRequest{Query: traceql.MustParse("{ }")}); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(e.m.queries.WithLabelValues(kindSearch, "ok")); got != 1 {
		t.Errorf("queries{search,ok} = %v", got)
	}
	if got := testutil.ToFloat64(e.m.spans.WithLabelValues(kindSearch)); got != 16 {
		t.Errorf("inspected spans = %v, want 16", got)
	}
	n, err := testutil.GatherAndCount(reg)
	if err != nil || n == 0 {
		t.Errorf("gathered %d metrics: %v", n, err)
	}
}

func TestExemplars(t *testing.T) {
	e, fx := newFixtureEngine(t, Options{})
	run := func(q string, n int) *MetricsResponse {
		t.Helper()
		resp, err := e.QueryRange(context.Background(), MetricsRequest{Query: traceql.MustParse(q), Start: fx.Base, End: fx.Base.Add(5 * time.Minute), Step: time.Minute, Exemplars: n})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := run(`{ status = error } | count_over_time() by (resource.service.name)`, 10)
	ex := resp.Series[0].Exemplars
	if len(ex) != 1 || fx.traces[ex[0].TraceID] != "checkout" || fx.names[ex[0].SpanID] != "checkout/root" || ex[0].Value != 2 || ex[0].TimestampMs != fx.Base.UnixMilli() {
		t.Errorf("count exemplars %+v", ex)
	}
	resp = run(`{ resource.service.name = "frontend" } | quantile_over_time(duration, 0.5, 1)`, 10)
	if len(resp.Series) != 2 || len(resp.Series[1].Exemplars) != 2 || resp.Series[1].Exemplars[0].Value != 0.8 || len(resp.Series[0].Exemplars) != 1 {
		t.Errorf("quantile exemplars %+v", resp.Series)
	}
	resp = run(`{ } | count_over_time()`, 2)
	if ex := resp.Series[0].Exemplars; len(ex) != 2 || fx.traces[ex[0].TraceID] != "checkout" || fx.traces[ex[1].TraceID] != "async" {
		t.Errorf("capped exemplars %+v", ex)
	}
	resp = run(`{ kind = client } | histogram_over_time(duration)`, 10)
	for _, s := range resp.Series {
		for _, x := range s.Exemplars {
			if x.Value < 1 {
				t.Errorf("histogram exemplar value %v, want the bucket's count", x.Value)
			}
		}
	}
	if resp = run(`{ } | rate()`, 0); resp.Series[0].Exemplars != nil {
		t.Error("exemplars without asking")
	}
}

func TestReturnedAttributes(t *testing.T) {
	e, fx := newFixtureEngine(t, Options{})
	resp, err := e.Search(context.Background(), SearchRequest{Query: traceql.MustParse(
		`{ status = error && kind = server && resource.service.name = "payment" } | select(event.exception.type, link.link.reason, nestedSetParent, span.http.method)`)})
	if err != nil || len(resp.Traces) != 1 {
		t.Fatalf("%v, %d traces", err, len(resp.Traces))
	}
	got := map[string]string{}
	for _, a := range resp.Traces[0].SpanSets[0].Spans[0].Attributes {
		got[a.Key] = ValueText(a.Value)
	}
	want := map[string]string{"service.name": "payment", "status": "error", "kind": "server", "exception.type": "CardError", "nestedSetParent": "8"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
	_ = fx
}

func TestIndexQuery(t *testing.T) {
	f := func(q string, want store.TraceQuery, ok bool) {
		t.Helper()
		got, gotOK := indexQuery(traceql.MustParse(q))
		if gotOK != ok || (ok && !cmp.Equal(got, want)) {
			t.Errorf("indexQuery(%q) = %+v, %v; want %+v, %v", q, got, gotOK, want, ok)
		}
	}
	f(`{ }`, store.TraceQuery{}, true)
	f(`{ true && resource.service.name = "a" && name = "b" }`, store.TraceQuery{Service: "a", Operation: "b"}, true)
	f(`{ duration > 1s && duration <= 2s }`, store.TraceQuery{DurationMin: time.Second + 1, DurationMax: 2 * time.Second}, true)
	f(`{ duration >= 1s && duration < 2s && duration > 1500ms }`, store.TraceQuery{DurationMin: 1500*time.Millisecond + 1, DurationMax: 2*time.Second - 1}, true)
	for _, q := range []string{
		`{ .service.name = "a" }`, `{ resource.service.name != "a" }`, `{ resource.service.name = "a" || name = "b" }`,
		`{ status = error }`, `{ duration > 2s && duration < 1s }`, `{ } | count() > 1`, `{ } > { }`, `{ } | rate()`,
		`{ resource.service.name = "a" && resource.service.name = "b" }`, `{ parent.resource.service.name = "a" }`, `{ duration != 1s }`,
	} {
		f(q, store.TraceQuery{}, false)
	}
}
