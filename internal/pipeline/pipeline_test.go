package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clew-dev/clew/internal/model"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

type recordingWriter struct {
	mu    sync.Mutex
	spans []*model.Span
	block chan struct{}
	err   error
}

func (w *recordingWriter) WriteSpans(ctx context.Context, spans []*model.Span) error {
	if w.block != nil {
		select {
		case <-w.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.spans = append(w.spans, spans...)
	return w.err
}

func span(mod func(*model.Span)) *model.Span {
	sp := &model.Span{
		TraceID:           model.TraceIDFromUint64s(1, 2),
		SpanID:            model.SpanIDFromUint64(3),
		Name:              "op",
		StartTimeUnixNano: uint64(now.Add(-time.Minute).UnixNano()),
		EndTimeUnixNano:   uint64(now.UnixNano()),
	}
	if mod != nil {
		mod(sp)
	}
	return sp
}

func TestValidation(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	cases := []struct {
		name   string
		mod    func(*model.Span)
		reject string
		adjust string
		check  func(t *testing.T, sp *model.Span)
	}{
		{name: "valid", mod: nil},
		{name: "zero trace id", mod: func(s *model.Span) { s.TraceID = model.TraceID{} }, reject: ReasonInvalidTraceID},
		{name: "zero span id", mod: func(s *model.Span) { s.SpanID = model.SpanID{} }, reject: ReasonInvalidSpanID},
		{name: "start in 1970", mod: func(s *model.Span) { s.StartTimeUnixNano = 5 }, reject: ReasonTimestampRange},
		{name: "start far in the future", mod: func(s *model.Span) { s.StartTimeUnixNano = uint64(now.Add(48 * time.Hour).UnixNano()) }, reject: ReasonTimestampRange},
		{name: "end before start", mod: func(s *model.Span) { s.EndTimeUnixNano = s.StartTimeUnixNano - 1 }, adjust: AdjustEndBeforeStart,
			check: func(t *testing.T, sp *model.Span) {
				if sp.Duration() != 0 {
					t.Errorf("duration %v", sp.Duration())
				}
			}},
		{name: "empty name", mod: func(s *model.Span) { s.Name = "" }, adjust: AdjustEmptyName,
			check: func(t *testing.T, sp *model.Span) {
				if sp.Name != EmptySpanName {
					t.Errorf("name %q", sp.Name)
				}
			}},
		{name: "long name", mod: func(s *model.Span) { s.Name = long }, adjust: AdjustNameTruncated,
			check: func(t *testing.T, sp *model.Span) {
				if len(sp.Name) != 1024 || !strings.HasSuffix(sp.Name, "é") {
					t.Errorf("name cut to %d bytes, not at a rune boundary", len(sp.Name))
				}
			}},
		{name: "long value", mod: func(s *model.Span) {
			s.Attributes = model.Attributes{{Key: "k", Value: model.StringValue(strings.Repeat("x", 70000))}}
		}, adjust: AdjustValueTruncated, check: func(t *testing.T, sp *model.Span) {
			if v, _ := sp.Attributes.Get("k"); len(v.Str()) != 65536 {
				t.Errorf("value cut to %d", len(v.Str()))
			}
		}},
		{name: "too many attributes", mod: func(s *model.Span) {
			s.Attributes = make(model.Attributes, 1500)
			s.DroppedAttributesCount = 2
		}, adjust: AdjustAttributesDropped, check: func(t *testing.T, sp *model.Span) {
			if len(sp.Attributes) != 1024 || sp.DroppedAttributesCount != 478 {
				t.Errorf("kept %d, dropped count %d", len(sp.Attributes), sp.DroppedAttributesCount)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp := span(c.mod)
			reject, adjusted := Limits{}.withDefaults().apply(sp, now)
			if reject != c.reject {
				t.Errorf("reject %q, want %q", reject, c.reject)
			}
			if c.adjust != "" && (len(adjusted) != 1 || adjusted[0] != c.adjust) {
				t.Errorf("adjusted %v, want [%s]", adjusted, c.adjust)
			}
			if c.adjust == "" && len(adjusted) != 0 {
				t.Errorf("unexpected adjustments %v", adjusted)
			}
			if c.check != nil {
				c.check(t, sp)
			}
		})
	}
}

func TestConsumeCountsAndPartialResult(t *testing.T) {
	w := &recordingWriter{}
	reg := prometheus.NewRegistry()
	p := New(w, Options{Registerer: reg, Now: func() time.Time { return now }})
	bad := span(func(s *model.Span) { s.SpanID = model.SpanID{} })
	res, err := p.Consume(context.Background(), "test", []*model.Span{span(nil), bad, span(func(s *model.Span) { s.SpanID = model.SpanIDFromUint64(9) })})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || res.Rejected != 1 || res.RejectReason != ReasonInvalidSpanID {
		t.Errorf("result %+v", res)
	}
	if got := testutil.ToFloat64(p.stored.WithLabelValues("test")); got != 2 {
		t.Errorf("stored counter %v", got)
	}
	if got := testutil.ToFloat64(p.refused.WithLabelValues("test", ReasonInvalidSpanID)); got != 1 {
		t.Errorf("refused counter %v", got)
	}
	if len(w.spans) != 2 {
		t.Errorf("writer got %d spans", len(w.spans))
	}
}

func TestOverload(t *testing.T) {
	w := &recordingWriter{block: make(chan struct{})}
	p := New(w, Options{MaxInFlight: 1, MaxQueued: 2, QueueTimeout: 50 * time.Millisecond, Now: func() time.Time { return now }})
	ctx := context.Background()
	done := make(chan error, 1)
	go func() { _, err := p.Consume(ctx, "r", []*model.Span{span(nil)}); done <- err }()
	time.Sleep(20 * time.Millisecond) // first batch holds the only slot
	// Second batch waits, then times out.
	if _, err := p.Consume(ctx, "r", []*model.Span{span(nil)}); !errors.Is(err, ErrOverloaded) {
		t.Errorf("queued batch: err %v, want ErrOverloaded", err)
	}
	close(w.block)
	if err := <-done; err != nil {
		t.Errorf("first batch: %v", err)
	}
	if got := testutil.ToFloat64(p.refused.WithLabelValues("r", "overloaded")); got != 1 {
		t.Errorf("overloaded counter %v", got)
	}
	if got := testutil.ToFloat64(p.depth); got != 0 {
		t.Errorf("queue depth %v after drain", got)
	}
}

func TestStoreErrorIsReturned(t *testing.T) {
	w := &recordingWriter{err: errors.New("disk full")}
	p := New(w, Options{Now: func() time.Time { return now }})
	if _, err := p.Consume(context.Background(), "r", []*model.Span{span(nil)}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("err %v", err)
	}
}

func BenchmarkConsume(b *testing.B) {
	w := &recordingWriter{}
	p := New(w, Options{Now: func() time.Time { return now }})
	batch := make([]*model.Span, 500)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			batch[j] = span(nil)
		}
		w.spans = w.spans[:0]
		if _, err := p.Consume(context.Background(), "bench", batch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSharedResourceNotChangedInPlace checks that a resource shared by
// spans of concurrent requests (as the X-Ray receiver shares a segment's
// resource with its subsegments, and a store may already keep it) is
// clamped by copy: every span stored gets a truncated resource and the
// shared one stays as it was. Run with -race, it also shows no request
// writes memory another reads.
func TestSharedResourceNotChangedInPlace(t *testing.T) {
	long := strings.Repeat("r", 70000)
	shared := &model.Resource{Attributes: model.Attributes{
		{Key: "service.name", Value: model.StringValue("svc")},
		{Key: "aws.arn", Value: model.StringValue(long)},
	}}
	w := &recordingWriter{}
	p := New(w, Options{Now: func() time.Time { return now }})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sp := span(func(s *model.Span) { s.SpanID = model.SpanIDFromUint64(uint64(10 + i)); s.Resource = shared })
			if _, err := p.Consume(context.Background(), "test", []*model.Span{sp}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v, _ := shared.Attributes.Get("aws.arn"); v.Str() != long {
		t.Errorf("the shared resource was changed: its value is %d bytes, want %d", len(v.Str()), len(long))
	}
	if len(w.spans) != 8 {
		t.Fatalf("writer got %d spans, want 8", len(w.spans))
	}
	for _, sp := range w.spans {
		if v, _ := sp.Resource.Attributes.Get("aws.arn"); len(v.Str()) != 65536 {
			t.Errorf("stored resource value of %d bytes, want it cut to 65536", len(v.Str()))
		}
		if sp.ServiceName() != "svc" {
			t.Errorf("stored resource lost its service: %q", sp.ServiceName())
		}
	}
}

// TestWithin checks Limits.within field by field: bounds at every limit are
// within, one past any of them (or irregular) is not.
func TestWithin(t *testing.T) {
	l := Limits{}.withDefaults()
	at := Bounds{
		MaxNameBytes: l.MaxNameBytes, MaxValueBytes: l.MaxAttributeValueBytes,
		MaxAttributes: l.MaxAttributes, MaxEvents: l.MaxEvents, MaxLinks: l.MaxLinks,
		MinStartTimeUnixNano: uint64(MinStartTime.UnixNano()),
		MaxStartTimeUnixNano: uint64(now.Add(l.MaxFutureSkew).UnixNano()),
	}
	if !l.within(&at, now) {
		t.Fatalf("bounds at the limits %+v: not within", at)
	}
	if l.within(&Bounds{}, now) {
		t.Errorf("zero bounds are within")
	}
	for name, mod := range map[string]func(b *Bounds){
		"name":      func(b *Bounds) { b.MaxNameBytes++ },
		"value":     func(b *Bounds) { b.MaxValueBytes++ },
		"attrs":     func(b *Bounds) { b.MaxAttributes++ },
		"events":    func(b *Bounds) { b.MaxEvents++ },
		"links":     func(b *Bounds) { b.MaxLinks++ },
		"early":     func(b *Bounds) { b.MinStartTimeUnixNano-- },
		"late":      func(b *Bounds) { b.MaxStartTimeUnixNano++ },
		"irregular": func(b *Bounds) { b.Irregular = true },
	} {
		b := at
		mod(&b)
		if l.within(&b, now) {
			t.Errorf("%s: bounds %+v within", name, b)
		}
	}
}

// TestConsumeBounded checks both ways of ConsumeBounded: bounds outside the
// limits have every span checked as Consume does (the invalid one dropped,
// the long name cut), and bounds within them have the spans stored as they
// are (the pipeline trusts them: here they lie, to show it).
func TestConsumeBounded(t *testing.T) {
	long := strings.Repeat("n", 2000)
	batch := func() []*model.Span {
		return []*model.Span{span(nil), span(func(s *model.Span) { s.SpanID = model.SpanID{} }), span(func(s *model.Span) { s.Name = long })}
	}
	within := Bounds{MaxNameBytes: 2, MinStartTimeUnixNano: uint64(now.Add(-time.Minute).UnixNano()), MaxStartTimeUnixNano: uint64(now.UnixNano())}
	for name, c := range map[string]struct {
		b             Bounds
		stored, names int
	}{
		"outside": {b: Bounds{MaxNameBytes: 2000, MinStartTimeUnixNano: within.MinStartTimeUnixNano, MaxStartTimeUnixNano: within.MaxStartTimeUnixNano, Irregular: true}, stored: 2, names: 1024},
		"within":  {b: within, stored: 3, names: 2000},
	} {
		w := &recordingWriter{}
		reg := prometheus.NewRegistry()
		p := New(w, Options{Registerer: reg, Now: func() time.Time { return now }})
		res, err := p.ConsumeBounded(context.Background(), "test", batch(), &c.b)
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepted != c.stored || len(w.spans) != c.stored {
			t.Errorf("%s: result %+v, %d stored, want %d", name, res, len(w.spans), c.stored)
		}
		if got := len(w.spans[len(w.spans)-1].Name); got != c.names {
			t.Errorf("%s: long name stored with %d bytes, want %d", name, got, c.names)
		}
		if got := testutil.ToFloat64(p.stored.WithLabelValues("test")); got != float64(c.stored) {
			t.Errorf("%s: stored counter %v", name, got)
		}
	}
}

// benchSpans are n spans shaped like the benchmark load: 11 attributes, an
// event with 2 and a resource of 4.
func benchSpans(n int) []*model.Span {
	res := &model.Resource{Attributes: model.Attributes{
		{Key: "service.name", Value: model.StringValue("checkout")},
		{Key: "host.name", Value: model.StringValue("host-1")},
		{Key: "service.version", Value: model.StringValue("1.4.2")},
		{Key: "deployment.environment", Value: model.StringValue("prod")},
	}}
	spans := make([]*model.Span, n)
	for i := range spans {
		sp := span(func(s *model.Span) { s.SpanID = model.SpanIDFromUint64(uint64(i + 1)); s.Resource = res })
		for k := range 11 {
			sp.Attributes = append(sp.Attributes, model.KeyValue{Key: "attribute.key." + string(rune('a'+k)), Value: model.StringValue("value")})
		}
		sp.Events = []model.Event{{Name: "event", Attributes: model.Attributes{
			{Key: "a", Value: model.IntValue(1)}, {Key: "b", Value: model.StringValue("x")},
		}}}
		spans[i] = sp
	}
	return spans
}

// BenchmarkConsumeLimits is Consume of 500 spans of the benchmark load's
// shape, every span checked (checked) or with bounds within the limits
// (bounded), to a writer that keeps nothing. The spans stay in the cache
// here; in the server they mostly do not, so the check costs more there.
func BenchmarkConsumeLimits(b *testing.B) {
	spans := benchSpans(500)
	bounds := Bounds{MaxNameBytes: 64, MaxValueBytes: 64, MaxAttributes: 11, MaxEvents: 1,
		MinStartTimeUnixNano: uint64(now.Add(-time.Minute).UnixNano()), MaxStartTimeUnixNano: uint64(now.UnixNano())}
	for _, bounded := range []bool{false, true} {
		name := "checked"
		if bounded {
			name = "bounded"
		}
		b.Run(name, func(b *testing.B) {
			p := New(discard{}, Options{Now: func() time.Time { return now }})
			batch := make([]*model.Span, len(spans))
			b.ReportAllocs()
			for b.Loop() {
				copy(batch, spans)
				var err error
				if bounded {
					_, err = p.ConsumeBounded(context.Background(), "bench", batch, &bounds)
				} else {
					_, err = p.Consume(context.Background(), "bench", batch)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
		})
	}
}

// discard is a store.Writer that keeps nothing.
type discard struct{}

func (discard) WriteSpans(context.Context, []*model.Span) error { return nil }
