package spancodec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clew-dev/clew/internal/model"
)

// TestDecodeVersion1 decodes a batch written by the version 1 encoder
// (testdata/v1.batch, the encoding of sampleSpans by the build before
// back-references): WAL records of older builds still replay.
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
	for i := 0; i < len(b); i++ {
		if _, err := DecodeBatch(b[:i]); err == nil {
			t.Fatalf("prefix of %d/%d bytes decoded without error", i, len(b))
		}
	}
}

// repeatSpans are spans of two traces that repeat their strings: keys,
// values, names, event names and nested values, short and long (a literal
// header of two bytes), within a span and across spans of a trace.
func repeatSpans() []*model.Span {
	res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}}
	long := strings.Repeat("L", 200)
	var out []*model.Span
	for i := range 6 {
		sp := &model.Span{Resource: res, TraceID: model.TraceIDFromUint64s(1, uint64(i%2)), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
			Name: "GET /api", StartTimeUnixNano: 1_700_000_000_000_000_000, EndTimeUnixNano: 1_700_000_000_000_000_100,
			Attributes: model.Attributes{
				{Key: "http.route", Value: model.StringValue("/api")},
				{Key: "url.path", Value: model.StringValue("/api")},
				{Key: "svc", Value: model.StringValue("svc")},
				{Key: long, Value: model.StringValue(long)},
				{Key: "b", Value: model.BytesValue([]byte("/api"))},
				{Key: "m", Value: model.MapValue([]model.KeyValue{{Key: "http.route", Value: model.SliceValue([]model.Value{model.StringValue("GET /api")})}})},
			},
			Events: []model.Event{{TimeUnixNano: 1, Name: "GET /api", Attributes: model.Attributes{{Key: "url.path", Value: model.IntValue(7)}}}},
			Status: model.Status{Message: "/api"}}
		out = append(out, sp)
	}
	return out
}

// TestBackReferences checks that repeated strings of a trace are written
// once, decode to the same bytes with the aliasing decoders (and equal
// strings with DecodeBatch), and do not refer to another trace's spans or
// to the resources.
func TestBackReferences(t *testing.T) {
	in := repeatSpans()
	b, bounds := AppendBatchBounds(nil, in, nil)
	if n := strings.Count(string(b), strings.Repeat("L", 200)); n != 2 {
		t.Errorf("the long string is written %d times, want once per trace", n)
	}
	if n := strings.Count(string(b), "GET /api"); n != 2 {
		t.Errorf("the name is written %d times, want once per trace", n)
	}
	batch, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, batch, valueCmp, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("DecodeBatch (-want +got):\n%s", diff)
	}
	var sd SpanDecoder
	first := map[model.TraceID]*byte{}
	for i, want := range in {
		var got, got2 model.Span
		got.Resource, got2.Resource = want.Resource, want.Resource
		if err := DecodeSpanAt(b[:bounds[2*i+1]], bounds[2*i], &got); err != nil {
			t.Fatalf("span %d: %v", i, err)
		}
		if err := sd.DecodeAt(b[:bounds[2*i+1]], bounds[2*i], &got2); err != nil {
			t.Fatalf("span %d: %v", i, err)
		}
		for _, sp := range []*model.Span{&got, &got2} {
			if diff := cmp.Diff(want, sp, valueCmp, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("span %d (-want +got):\n%s", i, diff)
			}
			p := unsafe.StringData(sp.Name)
			if uintptr(unsafe.Pointer(p)) < uintptr(unsafe.Pointer(&b[0])) || uintptr(unsafe.Pointer(p)) >= uintptr(unsafe.Pointer(&b[0]))+uintptr(len(b)) {
				t.Fatalf("span %d: name not in the record", i)
			}
			if f, ok := first[sp.TraceID]; ok && f != p {
				t.Errorf("span %d: name not shared with the trace's first span", i)
			}
			first[sp.TraceID] = p
			for _, s := range []string{sp.Attributes[0].Value.Str(), sp.Attributes[1].Value.Str(), sp.Status.Message} {
				if unsafe.StringData(s) != unsafe.StringData(sp.Attributes[0].Value.Str()) {
					t.Errorf("span %d: equal strings of a span not shared", i)
				}
			}
		}
	}
	// The first span of each trace is written out: it decodes alone.
	for _, i := range []int{0, 1} {
		var sp model.Span
		if err := DecodeSpan(b[bounds[2*i]:bounds[2*i+1]], &sp); err != nil {
			t.Errorf("span %d alone: %v", i, err)
		}
	}
}

// refSpan returns a version 2 span whose name refers to an earlier
// literal "hello" at prefix position 0, through a reference header x.
func refSpan(x []byte) (rec []byte, start int) {
	rec = []byte{5 << 1, 'h', 'e', 'l', 'l', 'o'}
	start = len(rec)
	rec = append(rec, make([]byte, 32)...) // ids
	rec = append(rec, 0, 0)                // trace state, flags
	rec = append(rec, x...)                // name
	rec = append(rec, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	return rec, start
}

// TestBadBackReferences checks that references outside the record, at or
// after themselves, to another reference or to a literal that overlaps
// them are reported as corrupt, by the aliasing decoders and the copying
// one alike.
func TestBadBackReferences(t *testing.T) {
	ok := func(x []byte) (string, error) {
		rec, start := refSpan(x)
		var sp, copied model.Span
		err := DecodeSpanAt(rec, start, &sp)
		err2 := decodeSpan(&decoder{b: rec, refs: true}, start, &copied)
		if (err == nil) != (err2 == nil) || err == nil && sp.Name != copied.Name {
			t.Fatalf("% x: aliasing decoder %q, %v; copying decoder %q, %v", x, sp.Name, err, copied.Name, err2)
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("% x: %v does not wrap ErrCorrupt", x, err)
		}
		return sp.Name, err
	}
	ref := func(dist int) []byte { return appendUvarint(nil, uint64(dist)<<1|1) }
	const at = 6 + 34 // the name's header
	if s, err := ok(ref(at)); err != nil || s != "hello" {
		t.Fatalf("good reference: %q, %v", s, err)
	}
	// The same reference in a non-minimal uvarint (the slow path).
	if s, err := ok([]byte{byte(at<<1|1) | 0x80, 0x80, 0}); err != nil || s != "hello" {
		t.Fatalf("good reference, 3-byte header: %q, %v", s, err)
	}
	for name, x := range map[string][]byte{
		"before the record":          ref(at + 1),
		"far before the record":      ref(1 << 40),
		"itself":                     ref(0),
		"itself, 2 bytes":            {0x81, 0},
		"into the literal's bytes":   ref(at - 1), // 'h' read as a header claims 52 bytes
		"to the ids":                 ref(at - 7), // 0: the empty literal, fine
		"to a reference":             nil,
		"literal past the reference": nil,
	} {
		switch name {
		case "to the ids":
			if s, err := ok(x); err != nil || s != "" {
				t.Errorf("%s: %q, %v", name, s, err)
			}
			continue
		case "to a reference":
			// The trace state (at 38) refers to "hello", the name to
			// the trace state.
			rec, start := refSpan(ref(2))
			rec[start+32] = 38<<1 | 1
			var sp model.Span
			if err := DecodeSpanAt(rec, start, &sp); err == nil || !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: %q, %v", name, sp.Name, err)
			}
			var copied model.Span
			if err := decodeSpan(&decoder{b: rec, refs: true}, start, &copied); err == nil {
				t.Errorf("%s, copying decoder: no error", name)
			}
			continue
		case "literal past the reference":
			// The literal's header claims more bytes than there are
			// before the reference.
			rec, start := refSpan(ref(at))
			rec[0] = 60 << 1
			var sp model.Span
			if err := DecodeSpanAt(rec, start, &sp); err == nil || !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: %q, %v", name, sp.Name, err)
			}
			continue
		}
		if s, err := ok(x); err == nil {
			t.Errorf("%s: decoded %q", name, s)
		}
	}
	for _, start := range []int{-1, 100} {
		rec, _ := refSpan(ref(at))
		var sp model.Span
		if err := DecodeSpanAt(rec, start, &sp); !errors.Is(err, ErrCorrupt) {
			t.Errorf("start %d: %v", start, err)
		}
	}
}

// TestAliasingDecoderAgreesRefs is TestAliasingDecoderAgrees on spans of a
// batch with back-references, at every truncation of each.
func TestAliasingDecoderAgreesRefs(t *testing.T) {
	b, bounds := AppendBatchBounds(nil, append(repeatSpans(), edgeAttrSpan(), edgeAttrSpan()), nil)
	for i := 0; i < len(bounds); i += 2 {
		for end := bounds[i+1]; end >= bounds[i]; end-- {
			var aliased, copied model.Span
			err := DecodeSpanAt(b[:end], bounds[i], &aliased)
			err2 := decodeSpan(&decoder{b: b[:end], refs: true}, bounds[i], &copied)
			if (err == nil) != (err2 == nil) {
				t.Fatalf("span %d, end %d: aliasing decoder: %v, copying decoder: %v", i/2, end, err, err2)
			}
			if end == bounds[i+1] && err != nil {
				t.Fatalf("span %d: %v", i/2, err)
			}
			if err == nil {
				if diff := cmp.Diff(&copied, &aliased, valueCmp, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("span %d, end %d (-copying +aliasing):\n%s", i/2, end, diff)
				}
			}
		}
	}
}

// TestMinimalSpans round-trips batches of spans of the fewest bytes (every
// field zero), which DecodeBatch's count check once refused.
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
