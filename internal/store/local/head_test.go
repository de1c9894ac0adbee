package local

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/spancodec"
)

// TestHeadOperations checks the head's operations per service: one entry
// per (name, kind), kinds outside OTLP's included, names copied out of the
// caller's memory.
func TestHeadOperations(t *testing.T) {
	h := newHead()
	buf := []byte("GET /aGET /b")
	name := func(i int) string { return string(buf[6*i : 6*i+6]) }
	res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}}
	kinds := []model.SpanKind{model.SpanKindServer, model.SpanKindClient, model.SpanKindServer, 40, 40, model.SpanKindServer}
	var spans []*model.Span
	for i, k := range kinds {
		spans = append(spans, &model.Span{Resource: res, TraceID: model.TraceIDFromUint64s(1, uint64(i/2)),
			SpanID: model.SpanIDFromUint64(uint64(i + 1)), Name: unsafeString(buf[6*(i%2) : 6*(i%2)+6]), Kind: k,
			StartTimeUnixNano: 10, EndTimeUnixNano: 20})
	}
	rec, bounds := spancodec.AppendBatchBounds(nil, spans, nil)
	h.addBatch(spans, rec, bounds, 1)
	want := map[opKey]struct{}{
		{name(0), model.SpanKindServer}: {}, {name(1), model.SpanKindClient}: {},
		{name(1), model.SpanKindServer}: {}, {name(0), 40}: {}, {name(1), 40}: {},
	}
	for i := range buf {
		buf[i] = 'x' // the head must not share the caller's bytes
	}
	if diff := cmp.Diff(map[string]map[opKey]struct{}{"svc": want}, h.ops, cmp.AllowUnexported(opKey{})); diff != "" {
		t.Fatalf("ops (-want +got):\n%s", diff)
	}
	if h.spans != len(spans) || len(h.traces) != 3 {
		t.Fatalf("head has %d spans in %d traces, want %d in 3", h.spans, len(h.traces), len(spans))
	}
	for id, tr := range h.traces {
		if len(tr.spans) != 2 {
			t.Errorf("trace %s: %d spans, want 2", id, len(tr.spans))
		}
	}
}

// unsafeString returns a string sharing b's bytes, as the receivers'
// decoders make them.
func unsafeString(b []byte) string { return unsafe.String(&b[0], len(b)) }

// TestHeadBytesCountsReservedRoom compares the head's byte estimate, less
// the records it keeps, with the heap that adding spans takes: for traces
// of one span added after traces of 16 (each new trace reserves room for
// 16 spans), and for traces that grow one span per batch past the size at
// which they get an id set.
func TestHeadBytesCountsReservedRoom(t *testing.T) {
	res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}}
	type batch struct {
		spans  []*model.Span
		rec    []byte
		bounds []int
	}
	// batches returns traces×per spans in batches: trace ids from first,
	// each batch holding the spans of one span index (inTurn) or of one
	// trace.
	batches := func(first, traces, per int, inTurn bool) []batch {
		var out []batch
		var cur []*model.Span
		flush := func() {
			rec, bounds := spancodec.AppendBatchBounds(nil, cur, nil)
			out = append(out, batch{cur, rec, bounds})
			cur = nil
		}
		sp := func(tr, i int) *model.Span {
			return &model.Span{Resource: res, TraceID: model.TraceIDFromUint64s(7, uint64(first+tr)),
				SpanID: model.SpanIDFromUint64(uint64(i + 1)), Name: "op", StartTimeUnixNano: 10, EndTimeUnixNano: 20}
		}
		if inTurn {
			for i := range per {
				for tr := range traces {
					cur = append(cur, sp(tr, i))
				}
				flush()
			}
			return out
		}
		for tr := range traces {
			for i := range per {
				cur = append(cur, sp(tr, i))
			}
			if len(cur) >= 500 {
				flush()
			}
		}
		if len(cur) > 0 {
			flush()
		}
		return out
	}
	heap := func() int64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	// add adds bs to h and returns the heap it took and the growth of
	// h.bytes, both less the records (which the test holds already).
	add := func(h *head, bs []batch) (heapGrowth, estimate int64) {
		var recs int64
		for _, b := range bs {
			recs += int64(cap(b.rec))
		}
		b0, h0 := h.bytes, heap()
		for _, b := range bs {
			h.addBatch(b.spans, b.rec, b.bounds, 1)
		}
		return heap() - h0, h.bytes - b0 - recs
	}
	check := func(name string, heapGrowth, estimate int64) {
		t.Helper()
		t.Logf("%s: heap %d bytes, estimate %d", name, heapGrowth, estimate)
		if r := float64(estimate) / float64(heapGrowth); r < 0.8 || r > 1.25 {
			t.Errorf("%s: the estimate counts %d bytes for %d of heap (%.2f times)", name, estimate, heapGrowth, r)
		}
	}

	h := newHead()
	full, single := batches(0, 2000, 16, false), batches(2000, 20000, 1, false)
	add(h, full)
	heapGrowth, estimate := add(h, single)
	check("traces of 1 span after traces of 16", heapGrowth, estimate)
	runtime.KeepAlive(full)
	runtime.KeepAlive(single)

	h = newHead()
	growing := batches(0, 1000, 40, true)
	heapGrowth, estimate = add(h, growing)
	check("traces growing one span per batch to 40", heapGrowth, estimate)
	runtime.KeepAlive(growing)
	runtime.KeepAlive(h)
}

// TestHeadDropsRepeatedSpans adds traces of 1 to 40 spans (past the size
// at which a trace gets an id set), in OTLP order (spread over resource
// groups), then every batch again, then each batch with a new span and an
// old one, and checks that the head holds each span once with its
// operations. Span ids share their byte 7 (the one idBits uses) often, so
// that its bits say "maybe" and has searches.
func TestHeadDropsRepeatedSpans(t *testing.T) {
	svc := func(i int) *model.Resource {
		return &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue(fmt.Sprint("svc-", i))}}}
	}
	type batch struct {
		spans  []*model.Span
		rec    []byte
		bounds []int
	}
	mk := func(spans []*model.Span) batch {
		rec, bounds := spancodec.AppendBatchBounds(nil, spans, nil)
		return batch{spans, rec, bounds}
	}
	spanOf := func(tr, i int, res *model.Resource) *model.Span {
		return &model.Span{Resource: res, TraceID: model.TraceIDFromUint64s(3, uint64(tr)),
			SpanID: model.SpanIDFromUint64(uint64(i)<<8 | uint64(i%3)), Name: fmt.Sprint("op-", i%5),
			Kind: model.SpanKind(i % 2), StartTimeUnixNano: uint64(100 + i), EndTimeUnixNano: 200}
	}
	var batches []batch
	want := 0
	for b := range 10 {
		res := []*model.Resource{svc(0), svc(1), svc(2)} // new pointers per request
		var spans []*model.Span
		for tr := 4 * b; tr < 4*b+4; tr++ {
			for i := range 1 + tr {
				spans = append(spans, spanOf(tr, i, res[i%3]))
				want++
			}
		}
		slices.SortStableFunc(spans, func(x, y *model.Span) int { return strings.Compare(x.ServiceName(), y.ServiceName()) })
		batches = append(batches, mk(spans))
	}
	h := newHead()
	for _, b := range batches {
		h.addBatch(b.spans, b.rec, b.bounds, 1)
	}
	for _, b := range batches {
		h.addBatch(b.spans, b.rec, b.bounds, 1) // all repeated
	}
	for b := range 10 {
		tr := 4*b + 3
		extra := mk([]*model.Span{spanOf(tr, 1+tr, svc(0)), spanOf(tr, 0, svc(1))})
		h.addBatch(extra.spans, extra.rec, extra.bounds, 1)
		want++
	}
	if h.spans != want || len(h.traces) != 40 {
		t.Fatalf("head has %d spans in %d traces, want %d in 40", h.spans, len(h.traces), want)
	}
	for id, tr := range h.traces {
		seen := map[model.SpanID]bool{}
		for _, hs := range tr.spans {
			if seen[hs.id] {
				t.Fatalf("trace %s: span %s twice", id, hs.id)
			}
			seen[hs.id] = true
		}
	}
	for i := range 3 {
		ops := h.ops[fmt.Sprint("svc-", i)]
		for j := range 40 {
			if j%3 != i {
				continue
			}
			if _, ok := ops[opKey{fmt.Sprint("op-", j%5), model.SpanKind(j % 2)}]; !ok {
				t.Errorf("svc-%d: operation op-%d kind %d missing", i, j%5, j%2)
			}
		}
	}
}
