package otlp

import (
	"context"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
)

// keepWriter is a store.Writer that keeps what it is given.
type keepWriter struct {
	mu    sync.Mutex
	spans []*model.Span
}

func (w *keepWriter) WriteSpans(_ context.Context, spans []*model.Span) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.spans = append(w.spans, spans...)
	return nil
}

// boundsNow is the pipeline's clock in these tests: the requests' spans
// start in 2023 (the seed and boundsRequests) or at the test's start (gen's
// load).
var boundsNow = time.Now()

// limitSets are the limits both paths are compared under: the defaults, and
// limits that most spans of every request exceed.
var limitSets = map[string]pipeline.Limits{
	"defaults": {},
	"tight":    {MaxNameBytes: 6, MaxAttributeValueBytes: 3, MaxAttributes: 2, MaxEvents: 1, MaxLinks: 1, MaxFutureSkew: time.Nanosecond},
}

// pipelineRun is what a pipeline made of a batch: its result, the spans
// stored (as OTLP JSON) and its span counters.
type pipelineRun struct {
	Res      pipeline.Result
	Err      string
	Stored   string
	Counters string
}

// runPipeline decodes b and hands its spans to a fresh pipeline with limits
// l: with the decoder's bounds (ConsumeBounded) when bounded, without them
// (Consume, every span checked) otherwise.
func runPipeline(t testing.TB, b []byte, l pipeline.Limits, bounded bool) pipelineRun {
	t.Helper()
	d := wireDecoder{strs: make(map[string]string, 64), alias: true}
	spans, err := d.request(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &keepWriter{}
	reg := prometheus.NewRegistry()
	p := pipeline.New(w, pipeline.Options{Limits: l, Registerer: reg, Now: func() time.Time { return boundsNow }})
	var run pipelineRun
	if bounded {
		run.Res, err = p.ConsumeBounded(context.Background(), NameGRPC, spans, &d.bounds)
	} else {
		run.Res, err = p.Consume(context.Background(), NameGRPC, spans)
	}
	if err != nil {
		run.Err = err.Error()
	}
	if len(w.spans) > 0 {
		run.Stored = asJSON(t, w.spans)
	}
	// Every metric but the store's write latency, which differs from run
	// to run.
	m, err := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain,
		"clew_receiver_spans_received_total", "clew_receiver_spans_refused_total",
		"clew_pipeline_spans_adjusted_total", "clew_receiver_spans_stored_total")
	if err != nil {
		t.Fatal(err)
	}
	run.Counters = string(m)
	return run
}

// checkBoundedMatches checks that the pipeline gives the same result, stores
// the same spans and counts the same with the decoder's bounds as without.
func checkBoundedMatches(t *testing.T, name string, b []byte) {
	t.Helper()
	for ln, l := range limitSets {
		want := runPipeline(t, b, l, false)
		got := runPipeline(t, b, l, true)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s, %s limits: with bounds the pipeline differs (-checked +bounded):\n%s", name, ln, diff)
		}
	}
}

// boundsSpan is a span within the default limits, with an event, a link
// and attributes on each.
func boundsSpan(ss ptrace.ScopeSpans, id byte) ptrace.Span {
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID([16]byte{1, 15: id}))
	sp.SetSpanID(pcommon.SpanID([8]byte{2, 7: id}))
	sp.SetName("GET /item")
	sp.SetStartTimestamp(1700000000000000000)
	sp.SetEndTimestamp(1700000000005000000)
	sp.Attributes().PutStr("http.route", "/item")
	sp.Attributes().PutInt("http.response.status_code", 200)
	ev := sp.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(1700000000001000000)
	ev.Attributes().PutStr("exception.type", "IOError")
	ln := sp.Links().AppendEmpty()
	ln.SetTraceID(pcommon.TraceID([16]byte{3, 15: id}))
	ln.SetSpanID(pcommon.SpanID([8]byte{4, 7: id}))
	ln.Attributes().PutStr("link.kind", "follows")
	return sp
}

// boundsRequests are requests of two spans (and a resource attribute), the
// second changed by one of the ways a span can fall outside the default
// limits, or brought to a limit, or given strings the limits do not look
// at but the bounds count ("nested", "scope").
func boundsRequests(t testing.TB) map[string][]byte {
	long := strings.Repeat("é", 600) // 1200 bytes, over MaxNameBytes
	huge := strings.Repeat("v", 70000)
	mods := map[string]func(rs ptrace.ResourceSpans, sp ptrace.Span){
		"regular":          func(ptrace.ResourceSpans, ptrace.Span) {},
		"long name":        func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.SetName(long) },
		"name at limit":    func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.SetName(strings.Repeat("n", 1024)) },
		"empty name":       func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.SetName("") },
		"long event name":  func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.Events().At(0).SetName(long) },
		"long key":         func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.Attributes().PutStr(long, "v") },
		"long event key":   func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.Events().At(0).Attributes().PutInt(long, 1) },
		"long link key":    func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.Links().At(0).Attributes().PutBool(long, true) },
		"long value":       func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.Attributes().PutStr("k", huge) },
		"value at limit":   func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.Attributes().PutStr("k", huge[:65536]) },
		"long bytes":       func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.Attributes().PutEmptyBytes("k").FromRaw([]byte(huge)) },
		"long event value": func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.Events().At(0).Attributes().PutStr("k", huge) },
		"long link value":  func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.Links().At(0).Attributes().PutStr("k", huge) },
		"long resource key": func(rs ptrace.ResourceSpans, _ ptrace.Span) {
			rs.Resource().Attributes().PutStr(long, "v")
		},
		"long resource value": func(rs ptrace.ResourceSpans, _ ptrace.Span) {
			rs.Resource().Attributes().PutStr("k", huge)
		},
		"nested": func(_ ptrace.ResourceSpans, sp ptrace.Span) {
			m := sp.Attributes().PutEmptyMap("m")
			m.PutStr(long, huge)
			m.PutEmptySlice("s").AppendEmpty().SetStr(huge)
		},
		"scope": func(rs ptrace.ResourceSpans, _ ptrace.Span) {
			rs.ScopeSpans().At(0).Scope().Attributes().PutStr(long, huge)
		},
		"many attributes": func(_ ptrace.ResourceSpans, sp ptrace.Span) {
			for i := range 1100 {
				sp.Attributes().PutInt(string(rune('a'+i%26))+strings.Repeat("x", i/26), int64(i))
			}
		},
		"many events": func(_ ptrace.ResourceSpans, sp ptrace.Span) {
			for range 1100 {
				sp.Events().AppendEmpty().SetName("e")
			}
		},
		"many links": func(_ ptrace.ResourceSpans, sp ptrace.Span) {
			for range 1100 {
				sp.Links().AppendEmpty().SetSpanID(pcommon.SpanID{9})
			}
		},
		"zero trace id":    func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.SetTraceID(pcommon.TraceID{}) },
		"zero span id":     func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.SetSpanID(pcommon.SpanID{}) },
		"end before start": func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.SetEndTimestamp(sp.StartTimestamp() - 1) },
		"start in 1970":    func(_ ptrace.ResourceSpans, sp ptrace.Span) { sp.SetStartTimestamp(5) },
		"start in the future": func(_ ptrace.ResourceSpans, sp ptrace.Span) {
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(boundsNow.Add(48 * time.Hour)))
		},
	}
	out := make(map[string][]byte, len(mods))
	for name, mod := range mods {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "svc")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("lib")
		boundsSpan(ss, 1)
		mod(rs, boundsSpan(ss, 2))
		out[name] = mustProto(t, ptraceotlp.NewExportRequestFromTraces(td))
	}
	return out
}

// TestBoundedMatchesConsume checks that the limits' fast path (the
// pipeline trusting the decoder's bounds) gives exactly what checking every
// span gives: the same result, spans stored and counters, for requests
// within the limits and for requests with a span outside them in each way
// it can be, under the default limits and under limits most spans exceed.
func TestBoundedMatchesConsume(t *testing.T) {
	reqs := boundsRequests(t)
	reqs["seed"] = seedProto(t)
	reqs["bench"] = mustProto(t, benchRequest(50))
	reqs["gen load"] = genLoad(t, 5)
	reqs["gen load, sdk"] = sdkOrder(t, genLoad(t, 5))
	for name, b := range reqs {
		checkBoundedMatches(t, name, b)
	}
}

// measure is the bounds of spans as the limits see them, exactly: the
// decoder's may only be larger (or MinStartTimeUnixNano smaller).
func measure(spans []*model.Span) pipeline.Bounds {
	b := pipeline.Bounds{MinStartTimeUnixNano: math.MaxUint64}
	attrs := func(as model.Attributes) {
		for _, kv := range as {
			b.MaxNameBytes = max(b.MaxNameBytes, len(kv.Key))
			if t := kv.Value.Type(); t == model.ValueString || t == model.ValueBytes {
				b.MaxValueBytes = max(b.MaxValueBytes, len(kv.Value.Str()))
			}
		}
	}
	for _, sp := range spans {
		b.MaxNameBytes = max(b.MaxNameBytes, len(sp.Name))
		b.MaxAttributes = max(b.MaxAttributes, len(sp.Attributes))
		b.MaxEvents = max(b.MaxEvents, len(sp.Events))
		b.MaxLinks = max(b.MaxLinks, len(sp.Links))
		b.MinStartTimeUnixNano = min(b.MinStartTimeUnixNano, sp.StartTimeUnixNano)
		b.MaxStartTimeUnixNano = max(b.MaxStartTimeUnixNano, sp.StartTimeUnixNano)
		b.Irregular = b.Irregular || sp.Name == "" || sp.EndTimeUnixNano < sp.StartTimeUnixNano ||
			sp.TraceID.IsZero() || sp.SpanID.IsZero()
		attrs(sp.Attributes)
		for _, ev := range sp.Events {
			b.MaxNameBytes = max(b.MaxNameBytes, len(ev.Name))
			attrs(ev.Attributes)
		}
		for _, ln := range sp.Links {
			attrs(ln.Attributes)
		}
		if sp.Resource != nil {
			attrs(sp.Resource.Attributes)
		}
	}
	return b
}

// checkBoundsHold checks that the decoder's bounds of b hold for its spans,
// and returns them with the spans' exact ones.
func checkBoundsHold(t *testing.T, name string, b []byte) (got, exact pipeline.Bounds) {
	t.Helper()
	d := wireDecoder{strs: make(map[string]string, 64), alias: true}
	spans, err := d.request(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, exact = d.bounds, measure(spans)
	if got.MaxNameBytes < exact.MaxNameBytes || got.MaxValueBytes < exact.MaxValueBytes ||
		got.MaxAttributes < exact.MaxAttributes || got.MaxEvents < exact.MaxEvents || got.MaxLinks < exact.MaxLinks ||
		got.MinStartTimeUnixNano > exact.MinStartTimeUnixNano || got.MaxStartTimeUnixNano < exact.MaxStartTimeUnixNano ||
		exact.Irregular && !got.Irregular {
		t.Errorf("%s: the decoder's bounds %+v understate the spans' %+v", name, got, exact)
	}
	return got, exact
}

// TestBoundsHold checks that the decoder's bounds never understate the
// spans, and are exact for requests without nested values or scope
// attributes (so that the fast path applies to them).
func TestBoundsHold(t *testing.T) {
	reqs := boundsRequests(t)
	reqs["gen load"] = genLoad(t, 5)
	reqs["gen load, sdk"] = sdkOrder(t, genLoad(t, 5))
	for name, b := range reqs {
		got, exact := checkBoundsHold(t, name, b)
		if name != "nested" && name != "scope" && got != exact {
			t.Errorf("%s: bounds %+v, want exactly %+v", name, got, exact)
		}
	}
	got, _ := checkBoundsHold(t, "gen load", genLoad(t, 5))
	if got.Irregular || got.MaxAttributes == 0 || got.MaxEvents == 0 || got.MinStartTimeUnixNano == 0 {
		t.Errorf("gen load: bounds %+v", got)
	}
}

// FuzzBoundedMatchesConsume checks, for whatever the wire decoder accepts,
// that its bounds hold and that the pipeline gives the same with them as
// without, under the default limits and tight ones.
func FuzzBoundedMatchesConsume(f *testing.F) {
	f.Add(seedProto(f))
	f.Add(mustProto(f, benchRequest(3)))
	f.Add(sdkOrder(f, genLoad(f, 1)))
	reqs := boundsRequests(f)
	for _, name := range []string{"regular", "long name", "empty name", "long event key", "many links", "nested", "end before start"} {
		f.Add(reqs[name])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := decodeProto(b); err != nil {
			return
		}
		checkBoundsHold(t, "input", b)
		checkBoundedMatches(t, "input", b)
	})
}

// TestWireMatchesPdataOverLimits is TestWireMatchesPdata for the requests
// of boundsRequests, whose long strings and lists take the decoder's
// slower paths (lengths of more than one byte).
func TestWireMatchesPdataOverLimits(t *testing.T) {
	for name, b := range boundsRequests(t) {
		for _, order := range []string{"pdata", "sdk"} {
			if order == "sdk" {
				b = sdkOrder(t, b)
			}
			want, err := viaPdata(b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeProto(b)
			if err != nil {
				t.Fatalf("%s, %s order: %v", name, order, err)
			}
			if diff := cmp.Diff(asJSON(t, want), asJSON(t, got)); diff != "" {
				t.Errorf("%s, %s order: wire decoder differs from pdata (-pdata +wire):\n%s", name, order, diff)
			}
		}
	}
}
