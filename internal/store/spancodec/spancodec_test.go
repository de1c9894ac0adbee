package spancodec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clew-dev/clew/internal/model"
)

var valueCmp = cmp.Comparer(func(a, b model.Value) bool { return a.Equal(b) })

func sampleSpans() []*model.Span {
	r := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}, SchemaURL: "u", DroppedAttributesCount: 2}
	sc := &model.Scope{Name: "lib", Version: "1.0", Attributes: model.Attributes{{Key: "k", Value: model.IntValue(1)}}}
	a := &model.Span{
		Resource: r, Scope: sc,
		TraceID: model.TraceIDFromUint64s(1, 2), SpanID: model.SpanIDFromUint64(3), ParentSpanID: model.SpanIDFromUint64(4),
		TraceState: "a=b", Flags: 1, Name: "GET /", Kind: model.SpanKindServer,
		StartTimeUnixNano: 1_700_000_000_000_000_000, EndTimeUnixNano: 1_700_000_000_000_500_000,
		Attributes: model.Attributes{
			{Key: "s", Value: model.StringValue("v")},
			{Key: "i", Value: model.IntValue(-7)},
			{Key: "d", Value: model.DoubleValue(2.5)},
			{Key: "b", Value: model.BoolValue(true)},
			{Key: "x", Value: model.BytesValue([]byte{0, 1, 2})},
			{Key: "a", Value: model.SliceValue([]model.Value{model.IntValue(1), model.StringValue("two")})},
			{Key: "m", Value: model.MapValue([]model.KeyValue{{Key: "n", Value: model.BoolValue(false)}})},
			{Key: "e", Value: model.Value{}},
		},
		DroppedAttributesCount: 3,
		Events:                 []model.Event{{TimeUnixNano: 5, Name: "ev", Attributes: model.Attributes{{Key: "q", Value: model.StringValue("w")}}, DroppedAttributesCount: 1}},
		DroppedEventsCount:     4,
		Links:                  []model.Link{{TraceID: model.TraceIDFromUint64s(9, 9), SpanID: model.SpanIDFromUint64(8), TraceState: "t", Flags: 7, DroppedAttributesCount: 2}},
		DroppedLinksCount:      5,
		Status:                 model.Status{Code: model.StatusError, Message: "boom"},
	}
	b := &model.Span{Resource: r, Scope: sc, TraceID: a.TraceID, SpanID: model.SpanIDFromUint64(5), Name: "child",
		StartTimeUnixNano: 10, EndTimeUnixNano: 5} // end before start survives
	c := &model.Span{TraceID: a.TraceID, SpanID: model.SpanIDFromUint64(6)}
	return []*model.Span{a, b, c}
}

func TestBatchRoundTrip(t *testing.T) {
	in := sampleSpans()
	b := AppendBatch(nil, in)
	out, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out, valueCmp, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if out[0].Resource != out[1].Resource || out[0].Scope != out[1].Scope {
		t.Error("shared resource/scope not shared after decoding")
	}
}

func TestTruncatedBatchesFail(t *testing.T) {
	b := AppendBatch(nil, sampleSpans())
	for i := 0; i < len(b); i++ {
		if _, err := DecodeBatch(b[:i]); err == nil {
			t.Fatalf("prefix of %d/%d bytes decoded without error", i, len(b))
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	for _, v := range []model.Value{
		model.StringValue(""), model.IntValue(1 << 60), model.DoubleValue(-0.5),
		model.SliceValue([]model.Value{model.MapValue([]model.KeyValue{{Key: "a", Value: model.SliceValue(nil)}})}),
	} {
		got, err := DecodeValue(AppendValue(nil, v))
		if err != nil || !got.Equal(v) {
			t.Errorf("%v: got %v, %v", v.AsString(), got.AsString(), err)
		}
	}
}

func TestWriteSeeds(t *testing.T) {
	// Keeps the fuzz seed in testdata in step with the encoder.
	p := filepath.Join("testdata", "sample.batch")
	want := AppendBatch(nil, sampleSpans())
	if os.Getenv("UPDATE_SEEDS") != "" {
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_SEEDS=1)", err)
	}
	if _, err := DecodeBatch(got); err != nil {
		t.Errorf("seed does not decode: %v", err)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(AppendBatch(nil, sampleSpans()))
	if b, err := os.ReadFile(filepath.Join("testdata", "sample.batch")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		spans, err := DecodeBatch(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		again, err := DecodeBatch(AppendBatch(nil, spans))
		if err != nil {
			t.Fatalf("re-encoded batch fails: %v", err)
		}
		if len(again) != len(spans) {
			t.Fatalf("%d spans, then %d", len(spans), len(again))
		}
	})
}

func FuzzDecodeValue(f *testing.F) {
	f.Add(AppendValue(nil, model.SliceValue([]model.Value{model.IntValue(1), model.StringValue("x")})))
	f.Add([]byte{byte(model.ValueDouble), 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = DecodeValue(b)
	})
}

func benchSpans(n int) []*model.Span {
	r := &model.Resource{Attributes: model.Attributes{
		{Key: "service.name", Value: model.StringValue("checkout")},
		{Key: "host.name", Value: model.StringValue("host-1")},
		{Key: "service.version", Value: model.StringValue("1.2.3")},
		{Key: "deployment.environment", Value: model.StringValue("prod")},
	}}
	sc := &model.Scope{Name: "io.opentelemetry.http", Version: "1.0"}
	out := make([]*model.Span, n)
	for i := range out {
		out[i] = &model.Span{Resource: r, Scope: sc,
			TraceID: model.TraceIDFromUint64s(uint64(i/10), 77), SpanID: model.SpanIDFromUint64(uint64(i)),
			Name: fmt.Sprintf("op-%d", i%20), Kind: model.SpanKindServer,
			StartTimeUnixNano: uint64(1e18) + uint64(i)*1000, EndTimeUnixNano: uint64(1e18) + uint64(i)*1000 + 5e5,
			Attributes: model.Attributes{
				{Key: "http.request.method", Value: model.StringValue("GET")},
				{Key: "http.response.status_code", Value: model.IntValue(200)},
				{Key: "http.route", Value: model.StringValue("/api/items/{id}")},
				{Key: "user.id", Value: model.StringValue(fmt.Sprintf("user-%d", i%1000))},
				{Key: "item.count", Value: model.IntValue(int64(i % 7))},
				{Key: "cache.hit", Value: model.BoolValue(i%3 == 0)},
			}}
	}
	return out
}

func BenchmarkAppendBatch(b *testing.B) {
	spans := benchSpans(500)
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendBatch(buf[:0], spans)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeBatch(b *testing.B) {
	buf := AppendBatch(nil, benchSpans(500))
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeBatch(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBatchBoundsDecodeSpans checks that each span's bounds in a batch
// decode alone to the span (resource and scope aside), and that the batch
// is the same as AppendBatch's.
func TestBatchBoundsDecodeSpans(t *testing.T) {
	in := sampleSpans()
	b, bounds := AppendBatchBounds(nil, in, nil)
	if string(b) != string(AppendBatch(nil, in)) {
		t.Fatal("AppendBatchBounds and AppendBatch differ")
	}
	if len(bounds) != 2*len(in) {
		t.Fatalf("%d bounds for %d spans", len(bounds), len(in))
	}
	for i, want := range in {
		got := &model.Span{Resource: want.Resource, Scope: want.Scope}
		if err := DecodeSpan(b[bounds[2*i]:bounds[2*i+1]], got); err != nil {
			t.Fatalf("span %d: %v", i, err)
		}
		if diff := cmp.Diff(want, got, valueCmp, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("span %d (-want +got):\n%s", i, diff)
		}
		if err := DecodeSpan(b[bounds[2*i]:bounds[2*i+1]-1], got); err == nil {
			t.Errorf("span %d: truncated encoding decoded", i)
		}
	}
}

// edgeAttrSpan has attributes at the edges of the aliasing decoder's
// inline paths: keys and string values of 0, 127 and 128 bytes, int values
// of one, two and more varint bytes.
func edgeAttrSpan() *model.Span {
	sp := &model.Span{TraceID: model.TraceIDFromUint64s(1, 1), SpanID: model.SpanIDFromUint64(1), Name: "edge"}
	for _, n := range []int{0, 1, 127, 128} {
		k := strings.Repeat("k", n)
		sp.Attributes = append(sp.Attributes,
			model.KeyValue{Key: k, Value: model.StringValue(strings.Repeat("v", n))},
			model.KeyValue{Key: k, Value: model.StringValue("")})
	}
	for _, v := range []int64{0, -1, 63, -64, 64, -65, 200, 8191, -8192, 8192, -8193, 1 << 40, -1 << 63} {
		sp.Attributes = append(sp.Attributes, model.KeyValue{Key: "i", Value: model.IntValue(v)})
	}
	sp.Attributes = append(sp.Attributes, model.KeyValue{Key: "e", Value: model.Value{}},
		model.KeyValue{Key: "b", Value: model.BoolValue(true)}, model.KeyValue{Key: "x", Value: model.BytesValue([]byte("y"))})
	return sp
}

// TestAliasingDecoderAgrees checks the aliasing decoder's inline paths
// against the copying decoder's general one, on the edge attributes and
// every truncation of them.
func TestAliasingDecoderAgrees(t *testing.T) {
	b := AppendSpan(nil, edgeAttrSpan())
	for n := len(b); n >= 0; n-- {
		var aliased, copied model.Span
		err := DecodeSpan(b[:n], &aliased)
		err2 := decodeSpan(&decoder{b: b[:n]}, &copied)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("%d bytes: aliasing decoder: %v, copying decoder: %v", n, err, err2)
		}
		if n == len(b) {
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(edgeAttrSpan(), &aliased, valueCmp, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		}
		if err == nil {
			if diff := cmp.Diff(&copied, &aliased, valueCmp, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("%d bytes (-copying +aliasing):\n%s", n, diff)
			}
		}
	}
}

func FuzzDecodeSpan(f *testing.F) {
	b, bounds := AppendBatchBounds(nil, append(sampleSpans(), edgeAttrSpan()), nil)
	for i := 0; i < len(bounds); i += 2 {
		f.Add(b[bounds[i]:bounds[i+1]])
	}
	var sd SpanDecoder
	var reused model.Span
	f.Fuzz(func(t *testing.T, b []byte) {
		var sp model.Span
		err := DecodeSpan(b, &sp)
		// The flush's decoder, into a span it decoded before, agrees.
		sd.Reset()
		if err2 := sd.Decode(b, &reused); (err == nil) != (err2 == nil) {
			t.Fatalf("DecodeSpan: %v, SpanDecoder: %v", err, err2)
		} else if err == nil {
			if diff := cmp.Diff(&sp, &reused, valueCmp, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("SpanDecoder differs from DecodeSpan:\n%s", diff)
			}
		}
		// The general decoder, which copies strings and has no inline
		// paths for the common attributes, agrees too.
		var copied model.Span
		if err2 := decodeSpan(&decoder{b: b}, &copied); (err == nil) != (err2 == nil) {
			t.Fatalf("DecodeSpan: %v, copying decoder: %v", err, err2)
		} else if err == nil {
			if diff := cmp.Diff(&sp, &copied, valueCmp, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("copying decoder differs from DecodeSpan:\n%s", diff)
			}
		}
		if err != nil {
			return
		}
		again := AppendSpan(nil, &sp)
		var sp2 model.Span
		if err := DecodeSpan(again, &sp2); err != nil {
			t.Fatalf("re-encoded span fails: %v", err)
		}
		if diff := cmp.Diff(&sp, &sp2, valueCmp, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("re-decoded span differs:\n%s", diff)
		}
	})
}

func BenchmarkDecodeSpan(b *testing.B) {
	spans := benchSpans(500)
	buf, bounds := AppendBatchBounds(nil, spans, nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var sp model.Span
	for i := 0; i < b.N; i++ {
		for j := 0; j < len(bounds); j += 2 {
			sp = model.Span{}
			if err := DecodeSpan(buf[bounds[j]:bounds[j+1]], &sp); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}

// TestSpanDecoderReuse checks that a SpanDecoder decodes like DecodeSpan,
// before and after Reset and across buffer growth.
func TestSpanDecoderReuse(t *testing.T) {
	in := benchSpans(300)
	b, bounds := AppendBatchBounds(nil, in, nil)
	var sd SpanDecoder
	for round := 0; round < 3; round++ {
		sd.Reset()
		got := make([]model.Span, len(in))
		for i := range in {
			got[i].Resource, got[i].Scope = in[i].Resource, in[i].Scope
			if err := sd.Decode(b[bounds[2*i]:bounds[2*i+1]], &got[i]); err != nil {
				t.Fatal(err)
			}
		}
		for i := range in {
			if diff := cmp.Diff(in[i], &got[i], valueCmp, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("round %d span %d (-want +got):\n%s", round, i, diff)
			}
		}
	}
}

// BenchmarkSpanDecoder is the flush's decoding: spans decoded one at a time
// into a reused span, their attributes from the SpanDecoder's buffers.
func BenchmarkSpanDecoder(b *testing.B) {
	spans := benchSpans(500)
	buf, bounds := AppendBatchBounds(nil, spans, nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	var sd SpanDecoder
	var sp model.Span
	for i := 0; i < b.N; i++ {
		sd.Reset()
		for j := 0; j < len(bounds); j += 2 {
			if err := sd.Decode(buf[bounds[j]:bounds[j+1]], &sp); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}

// TestSpanDecoderOverwrites checks that Decode sets every field but the
// resource and scope, so that the flush may decode into a used span
// without clearing it: each span is decoded over the one before it.
func TestSpanDecoderOverwrites(t *testing.T) {
	// The sample spans, the first full (with events and links), the
	// others bare, follow long strings and the benchmark's spans.
	long := *sampleSpans()[0]
	long.Name, long.Attributes = strings.Repeat("n", 300), model.Attributes{{Key: strings.Repeat("k", 200), Value: model.StringValue(strings.Repeat("v", 1000))}}
	in := append(sampleSpans(), &long)
	in = append(in, benchSpans(30)...)
	b, bounds := AppendBatchBounds(nil, in, nil)
	var sd SpanDecoder
	var sp model.Span
	for i := len(in) - 1; i >= 0; i-- {
		sp.Resource, sp.Scope = in[i].Resource, in[i].Scope
		if err := sd.Decode(b[bounds[2*i]:bounds[2*i+1]], &sp); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(in[i], &sp, valueCmp, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("span %d (-want +got):\n%s", i, diff)
		}
	}
}

// TestDecodeVersion1 decodes a golden batch of version 1
// (testdata/v1.batch, the encoding of sampleSpans; unlike sample.batch it
// is never rewritten): WAL records written by this build must still
// replay after a format change.
func TestDecodeVersion1(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "v1.batch"))
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 1 {
		t.Fatalf("golden batch has version %d", b[0])
	}
	got, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sampleSpans(), got, valueCmp, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestMinimalSpans round-trips batches of spans of the fewest bytes (every
// field zero, 48 bytes each), which DecodeBatch's count check refused when
// it assumed 50: such a batch was acknowledged and then dropped by the
// WAL replay.
func TestMinimalSpans(t *testing.T) {
	for n := 1; n <= 3; n++ {
		spans := make([]*model.Span, n)
		for i := range spans {
			spans[i] = &model.Span{}
		}
		got, err := DecodeBatch(AppendBatch(nil, spans))
		if err != nil {
			t.Fatalf("%d spans: %v", n, err)
		}
		if diff := cmp.Diff(spans, got, valueCmp, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%d spans (-want +got):\n%s", n, diff)
		}
	}
}
