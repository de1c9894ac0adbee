package engine

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/query/traceql"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/memstore"
)

// benchData is a memory store loaded with clew gen's traces (10 spans
// each, 5 services, 1% errors) spread over the last hour. CLEW_BENCH_SPANS
// sets the span count (default 200,000).
var benchData struct {
	once  sync.Once
	st    *memstore.Store
	ids   []model.TraceID
	now   time.Time
	spans int
}

func loadBench(b *testing.B) {
	benchData.once.Do(func() {
		n := 200_000
		if s := os.Getenv("CLEW_BENCH_SPANS"); s != "" {
			n, _ = strconv.Atoi(s)
		}
		g, err := gen.New(gen.DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		st := memstore.New(memstore.Options{MaxSpans: n + 1000, MaxBytes: 64 << 30})
		now := time.Now()
		traces := n / gen.DefaultOptions().SpansPerTrace
		var batch []*model.Span
		for i := range traces {
			start := now.Add(-time.Hour).Add(time.Duration(i) * time.Hour / time.Duration(traces))
			spans := g.Trace(start)
			benchData.ids = append(benchData.ids, spans[0].TraceID)
			batch = append(batch, spans...)
			if len(batch) >= 10_000 {
				if err := st.WriteSpans(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
				batch = nil
			}
		}
		if err := st.WriteSpans(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
		benchData.st, benchData.now = st, now
		benchData.spans, _ = st.Usage()
	})
}

// BenchmarkQueries reports the latency of typical queries over the last
// hour: trace by id, a service filter, a tag filter, a regex, a structural
// query, a metrics query and a Jaeger search.
func BenchmarkQueries(b *testing.B) {
	loadBench(b)
	st, now := benchData.st, benchData.now
	e := New(st, Options{})
	b.Logf("%d spans loaded", benchData.spans)
	b.Run("trace-by-id", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := st.GetTrace(context.Background(), benchData.ids[i%len(benchData.ids)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	search := func(name, q string) {
		query := traceql.MustParse(q)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var found int
			for b.Loop() {
				resp, err := e.Search(context.Background(), SearchRequest{Query: query, Start: now.Add(-time.Hour), End: now, Limit: 20})
				if err != nil {
					b.Fatal(err)
				}
				found = len(resp.Traces)
			}
			if found == 0 {
				b.Fatalf("%s found nothing", q)
			}
		})
	}
	search("service", `{ resource.service.name = "cart" }`)
	search("tag", `{ span.http.request.method = "POST" && status = error }`)
	search("regex", `{ name =~ "SELECT (orders|users)" }`)
	search("structural", `{ resource.service.name = "frontend" } >> { status = error }`)
	b.Run("metrics", func(b *testing.B) {
		b.ReportAllocs()
		q := traceql.MustParse(`{ } | rate() by (resource.service.name)`)
		for b.Loop() {
			resp, err := e.QueryRange(context.Background(), MetricsRequest{Query: q, Start: now.Add(-time.Hour), End: now, Step: time.Minute})
			if err != nil || len(resp.Series) == 0 {
				b.Fatal(err, len(resp.Series))
			}
		}
	})
	r := NewReader(st, e)
	b.Run("jaeger-search", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ts, err := r.FindTraces(context.Background(), store.TraceQuery{Service: "cart", Tags: map[string]string{"error": "true"}, StartMin: now.Add(-time.Hour), StartMax: now, Limit: 20})
			if err != nil || len(ts) == 0 {
				b.Fatal(err, len(ts))
			}
		}
	})
}

// BenchmarkFilter measures evaluation alone: one filter on one trace.
func BenchmarkFilter(b *testing.B) {
	g, err := gen.New(gen.DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	t := &model.Trace{Spans: g.Trace(time.Now())}
	t.TraceID = t.Spans[0].TraceID
	p := compile(traceql.MustParse(`{ resource.service.name = "cart" && span.http.response.status_code >= 500 || name =~ "SELECT.*" }`))
	b.ReportAllocs()
	b.SetBytes(int64(len(t.Spans)))
	for b.Loop() {
		p.evalTrace(newTraceCtx(t))
	}
}
