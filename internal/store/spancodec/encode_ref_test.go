package spancodec

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
)

// randSpans returns a batch of n spans drawn by r: strings of every length
// the encoder copies differently (0 to 40, the 127/128 edge of a one-byte
// length, longer), varints of every length (negative kinds and status
// codes, 9- and 10-byte values), every value type, events and links on
// some spans, resources and scopes shared or nil.
func randSpans(r *rand.Rand, n int) []*model.Span {
	str := func() string {
		var k int
		switch r.IntN(8) {
		case 0:
			k = []int{0, 127, 128, 129, 300}[r.IntN(5)]
		case 1:
			if r.IntN(32) == 0 {
				k = 16383 + r.IntN(2) // a length of 2 or 3 bytes
				break
			}
			fallthrough
		default:
			k = r.IntN(41)
		}
		b := make([]byte, k)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return string(b)
	}
	u64 := func() uint64 { return r.Uint64() >> r.IntN(65) }
	var value func(depth int) model.Value
	attrs := func(depth int) model.Attributes {
		var a model.Attributes
		for range r.IntN(8) {
			a = append(a, model.KeyValue{Key: str(), Value: value(depth)})
		}
		return a
	}
	value = func(depth int) model.Value {
		switch t := r.IntN(10); {
		case t < 4:
			return model.StringValue(str())
		case t < 6:
			return model.IntValue(int64(u64()))
		case t == 6:
			return model.BoolValue(r.IntN(2) == 1)
		case t == 7:
			return model.DoubleValue(r.NormFloat64())
		case t == 8:
			return model.BytesValue([]byte(str()))
		case depth < 3 && r.IntN(2) == 0:
			var vs []model.Value
			for range r.IntN(4) {
				vs = append(vs, value(depth+1))
			}
			return model.SliceValue(vs)
		case depth < 3:
			return model.MapValue(attrs(depth + 1))
		}
		return model.Value{}
	}
	var res []*model.Resource
	var scopes []*model.Scope
	for range 1 + r.IntN(3) {
		res = append(res, &model.Resource{Attributes: attrs(0), DroppedAttributesCount: uint32(u64()), SchemaURL: str()})
		scopes = append(scopes, &model.Scope{Name: str(), Version: str(), Attributes: attrs(0), DroppedAttributesCount: uint32(u64())})
	}
	spans := make([]*model.Span, n)
	for i := range spans {
		s := &model.Span{
			TraceID: model.TraceIDFromUint64s(r.Uint64(), r.Uint64()), SpanID: model.SpanIDFromUint64(r.Uint64()),
			ParentSpanID: model.SpanIDFromUint64(r.Uint64()), TraceState: str(), Flags: uint32(u64()), Name: str(),
			Kind: model.SpanKind(int32(u64())), StartTimeUnixNano: u64(), EndTimeUnixNano: u64(),
			Attributes: attrs(0), DroppedAttributesCount: uint32(u64()), DroppedEventsCount: uint32(u64()),
			DroppedLinksCount: uint32(u64()), Status: model.Status{Code: model.StatusCode(int32(u64())), Message: str()},
		}
		if r.IntN(2) == 0 {
			s.Resource, s.Scope = res[r.IntN(len(res))], scopes[r.IntN(len(scopes))]
		}
		if r.IntN(3) == 0 {
			for range 1 + r.IntN(3) {
				s.Events = append(s.Events, model.Event{TimeUnixNano: u64(), Name: str(), Attributes: attrs(0), DroppedAttributesCount: uint32(u64())})
			}
		}
		if r.IntN(4) == 0 {
			for range 1 + r.IntN(2) {
				s.Links = append(s.Links, model.Link{TraceID: model.TraceIDFromUint64s(r.Uint64(), 1), SpanID: model.SpanIDFromUint64(r.Uint64()),
					TraceState: str(), Attributes: attrs(0), DroppedAttributesCount: uint32(u64()), Flags: uint32(u64())})
			}
		}
		spans[i] = s
	}
	return spans
}

// checkMatchesReference encodes spans after prefix, into a buffer of the
// given capacity, and compares the bytes and bounds with the reference
// encoder's.
func checkMatchesReference(t *testing.T, spans []*model.Span, prefix []byte, capacity int) {
	t.Helper()
	want, wantBounds := refAppendBatch(bytes.Clone(prefix), spans)
	dst := append(make([]byte, 0, max(capacity, len(prefix))), prefix...)
	got, bounds := AppendBatchBounds(dst, spans, nil)
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%d bytes, reference %d; first difference at byte %d", len(got), len(want), i)
	}
	if diff := cmp.Diff(wantBounds, bounds); diff != "" {
		t.Fatalf("bounds (-reference +got):\n%s", diff)
	}
	if got := AppendBatch(nil, spans); !bytes.Equal(got, want[len(prefix):]) {
		t.Fatal("AppendBatch differs from AppendBatchBounds")
	}
	for _, s := range spans {
		if got, want := AppendSpan(nil, s), refAppendSpan(nil, s); !bytes.Equal(got, want) {
			t.Fatal("AppendSpan differs from the reference")
		}
		if got, want := AppendAttributes([]byte{1}, s.Attributes), refAppendAttributes([]byte{1}, s.Attributes); !bytes.Equal(got, want) {
			t.Fatal("AppendAttributes differs from the reference")
		}
	}
}

// TestEncoderMatchesReference checks that the encoder writes the bytes of
// plain appends (the encoder of commit 34fd311, before it wrote through
// reserved room) for random batches, the sample spans and the edge
// attributes, after prefixes and into buffers of every small capacity (so
// that room runs out at every point).
func TestEncoderMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	checkMatchesReference(t, append(sampleSpans(), edgeAttrSpan()), nil, 0)
	for i := range 300 {
		spans := randSpans(r, 1+r.IntN(6))
		checkMatchesReference(t, spans, []byte(strings.Repeat("p", i%3)), r.IntN(600))
	}
	// Ids, one-byte varints and strings through every room.
	spans := []*model.Span{{TraceID: model.TraceIDFromUint64s(1, 2), Name: "n", Attributes: model.Attributes{
		{Key: "k", Value: model.StringValue("v")}, {Key: "i", Value: model.IntValue(-1 << 62)}, {Key: "b", Value: model.BoolValue(true)}}}}
	for c := range 120 {
		checkMatchesReference(t, spans, nil, c)
	}
}

// TestPutUvarint compares putUvarint with binary.AppendUvarint at every
// length and around every 7-bit boundary.
func TestPutUvarint(t *testing.T) {
	var vals []uint64
	for b := range 65 {
		v := uint64(1)<<b - 1
		vals = append(vals, v, v+1, v+2, v/3, ^uint64(0)>>(64-b))
	}
	for _, v := range vals {
		buf := make([]byte, maxVarint)
		n := putUvarint(base(buf), 0, v)
		want := appendUvarintRef(v)
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("%d: % x, want % x", v, buf[:n], want)
		}
	}
}

func appendUvarintRef(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// FuzzEncoderMatchesReference is TestEncoderMatchesReference on batches
// drawn from the fuzzer's seeds.
func FuzzEncoderMatchesReference(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint16(0))
	f.Add(uint64(3), uint64(4), uint16(100))
	f.Fuzz(func(t *testing.T, s1, s2 uint64, capacity uint16) {
		r := rand.New(rand.NewPCG(s1, s2))
		checkMatchesReference(t, randSpans(r, 1+r.IntN(4)), nil, int(capacity%2048))
	})
}
