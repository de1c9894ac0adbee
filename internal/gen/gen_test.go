package gen

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
)

func TestTraceShape(t *testing.T) {
	o := DefaultOptions()
	o.SpansPerTrace, o.Depth, o.Events, o.Attributes, o.Cardinality = 40, 3, 2, 4, 7
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	for range 50 {
		spans := g.Trace(start)
		if len(spans) != o.SpansPerTrace {
			t.Fatalf("got %d spans, want %d", len(spans), o.SpansPerTrace)
		}
		byID := map[model.SpanID]*model.Span{}
		for _, sp := range spans {
			if _, dup := byID[sp.SpanID]; dup {
				t.Fatalf("duplicate span id %s", sp.SpanID)
			}
			byID[sp.SpanID] = sp
		}
		if !spans[0].IsRoot() || spans[0].Kind != model.SpanKindServer {
			t.Fatalf("first span is not a server root: %+v", spans[0])
		}
		if got := spans[0].StartTimeUnixNano; got != uint64(start.UnixNano()) {
			t.Fatalf("root starts at %d, want %d", got, start.UnixNano())
		}
		for _, sp := range spans {
			if sp.TraceID != spans[0].TraceID {
				t.Fatal("spans of one trace have different trace ids")
			}
			if sp.EndTimeUnixNano < sp.StartTimeUnixNano {
				t.Fatalf("span %s ends before it starts", sp.SpanID)
			}
			depth := 0
			for p := sp; !p.IsRoot(); depth++ {
				parent, ok := byID[p.ParentSpanID]
				if !ok {
					t.Fatalf("span %s has a parent outside the trace", p.SpanID)
				}
				if p.StartTimeUnixNano < parent.StartTimeUnixNano || p.EndTimeUnixNano > parent.EndTimeUnixNano {
					t.Fatalf("span %s is not within its parent", p.SpanID)
				}
				p = parent
			}
			if depth > o.Depth {
				t.Fatalf("span at depth %d, want at most %d", depth, o.Depth)
			}
			extra := 0
			for _, kv := range sp.Attributes {
				if len(kv.Key) > 9 && kv.Key[:9] == "app.attr." {
					extra++
				}
			}
			if extra != o.Attributes {
				t.Fatalf("span has %d extra attributes, want %d", extra, o.Attributes)
			}
			if n := len(sp.Events); n < o.Events || n > o.Events+1 {
				t.Fatalf("span has %d events, want %d (+1 on error)", n, o.Events)
			}
			// A call to another service: a client span whose child is
			// the callee's server span, agreeing on the status code.
			if _, ok := sp.Attributes.Get("url.full"); ok {
				var children []*model.Span
				for _, c := range spans {
					if c.ParentSpanID == sp.SpanID {
						children = append(children, c)
					}
				}
				if sp.Kind != model.SpanKindClient || len(children) != 1 || children[0].Kind != model.SpanKindServer ||
					children[0].ServiceName() == sp.ServiceName() || children[0].Name != sp.Name {
					t.Fatalf("call %q from %s: children %v", sp.Name, sp.ServiceName(), children)
				}
				a, _ := sp.Attributes.Get("http.response.status_code")
				b, _ := children[0].Attributes.Get("http.response.status_code")
				if a.Int() != b.Int() || sp.Status.Code != children[0].Status.Code {
					t.Fatalf("client and server disagree: %d/%s and %d/%s", a.Int(), sp.Status.Code, b.Int(), children[0].Status.Code)
				}
			}
			if sp.Kind == model.SpanKindServer && !sp.IsRoot() {
				if p := byID[sp.ParentSpanID]; p.Kind != model.SpanKindClient {
					t.Fatalf("server span %q under a %s span", sp.Name, p.Kind)
				}
			}
		}
	}
}

func TestCardinalityAndErrors(t *testing.T) {
	o := DefaultOptions()
	o.Cardinality, o.ErrorRatio, o.SpansPerTrace = 3, 0.2, 10
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{}
	var spans, failed int
	for range 500 {
		for _, sp := range g.Trace(time.Now()) {
			spans++
			if sp.Status.Code == model.StatusError {
				failed++
				if sp.Events[len(sp.Events)-1].Name != "exception" {
					t.Fatal("failed span without an exception event")
				}
			}
			v, _ := sp.Attributes.Get("app.attr.0")
			values[v.Str()] = true
		}
	}
	if len(values) != 3 {
		t.Errorf("app.attr.0 took %d values, want 3: %v", len(values), values)
	}
	if ratio := float64(failed) / float64(spans); math.Abs(ratio-0.2) > 0.03 {
		t.Errorf("error ratio %.3f, want about 0.2", ratio)
	}
}

func TestSeedReproducible(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	ids := func(seed uint64) []string {
		o := DefaultOptions()
		o.Seed = seed
		g, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for range 5 {
			for _, sp := range g.Trace(start) {
				out = append(out, sp.TraceID.String()+"/"+sp.SpanID.String()+"/"+sp.Name)
			}
		}
		return out
	}
	if diff := cmp.Diff(ids(7), ids(7)); diff != "" {
		t.Errorf("same seed, different traces:\n%s", diff)
	}
	if cmp.Equal(ids(7), ids(8)) {
		t.Error("different seeds gave the same traces")
	}
}

func TestIDPolicies(t *testing.T) {
	o := DefaultOptions()
	o.IDs = ID64
	g, _ := New(o)
	id := g.Trace(time.Now())[0].TraceID
	if hi, lo := id.Uint64s(); hi != 0 || lo == 0 {
		t.Errorf("ID64 gave %s", id)
	}
	o.IDs = IDXRay
	g, _ = New(o)
	start := time.Unix(0x5f84c7a1, 0)
	id = g.Trace(start)[0].TraceID
	if got := id.String()[:8]; got != "5f84c7a1" {
		t.Errorf("X-Ray id %s does not start with the epoch 5f84c7a1", id)
	}
}

func TestValidate(t *testing.T) {
	o := DefaultOptions()
	o.SpansPerTrace, o.ErrorRatio, o.Services = 0, 2, MaxServices+1
	if _, err := New(o); err == nil {
		t.Fatal("New accepted invalid options")
	}
}

func TestHistogram(t *testing.T) {
	h := newHistogram()
	for i := 1; i <= 100; i++ {
		h.observe(time.Duration(i) * time.Millisecond)
	}
	check := func(q float64, want time.Duration) {
		t.Helper()
		got := h.quantile(q)
		if got < want || float64(got) > float64(want)*1.06 {
			t.Errorf("quantile(%g) = %v, want %v within 6%%", q, got, want)
		}
	}
	check(0.5, 50*time.Millisecond)
	check(0.99, 99*time.Millisecond)
	check(1, 100*time.Millisecond)
}

func BenchmarkTrace(b *testing.B) {
	g, err := New(DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		g.Trace(now)
	}
}

// TestBatches checks that Batches cuts whole traces into batches of at
// least per spans, and gives the traces Trace would.
func TestBatches(t *testing.T) {
	opts := DefaultOptions()
	g1, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := New(opts)
	first := time.Unix(1_700_000_000, 0)
	batches := g1.Batches(25, 35, first, time.Millisecond)
	var want []*model.Span
	for i := 0; i < 25; i++ {
		want = append(want, g2.Trace(first.Add(time.Duration(i)*time.Millisecond))...)
	}
	var got []*model.Span
	for i, b := range batches {
		if i < len(batches)-1 && len(b) < 35 {
			t.Errorf("batch %d of %d spans, want at least 35", i, len(b))
		}
		if b[0].ParentSpanID != (model.SpanID{}) {
			t.Errorf("batch %d starts inside a trace", i)
		}
		got = append(got, b...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d spans in batches, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].SpanID != want[i].SpanID || got[i].TraceID != want[i].TraceID {
			t.Fatalf("span %d differs from Trace's", i)
		}
	}
	if n := len(g2.Batches(3, 0, first, time.Millisecond)); n != 1 {
		t.Errorf("per 0: %d batches, want 1", n)
	}
}
