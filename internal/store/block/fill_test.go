package block

import (
	"bytes"
	stdcmp "cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/spancodec"
)

// fillSpans returns spans that between them set every column of Row: the
// first has every dedicated span and resource column (under their keys or
// their older aliases), attribute-column keys, values of every type,
// events, links and a scope; the others have fewer and fewer.
func fillSpans() []*model.Span {
	var out []*model.Span
	for v := 0; v < 4; v++ {
		res := &model.Resource{DroppedAttributesCount: uint32(v), SchemaURL: fmt.Sprint("u", v)}
		if v < 3 {
			res.Attributes = append(res.Attributes, model.KeyValue{Key: "service.name", Value: model.StringValue(fmt.Sprint("svc", v))})
		}
		for i, c := range resCols {
			key := c.key
			if v == 1 && c.alias != "" {
				key = c.alias
			}
			if v < 2 || i%2 == 0 {
				res.Attributes = append(res.Attributes, model.KeyValue{Key: key, Value: model.StringValue(fmt.Sprint("r", i, v))})
			}
		}
		res.Attributes = append(res.Attributes, model.KeyValue{Key: "ro", Value: model.IntValue(int64(v))}, model.KeyValue{Key: "rs", Value: model.StringValue("x")})
		sp := &model.Span{Resource: res, TraceID: model.TraceIDFromUint64s(1, uint64(v)), SpanID: model.SpanIDFromUint64(uint64(v + 1)),
			ParentSpanID: model.SpanIDFromUint64(uint64(v)), TraceState: fmt.Sprint("t", v), Flags: uint32(v), Name: fmt.Sprint("n", v),
			Kind: model.SpanKind(v), StartTimeUnixNano: uint64(100 + v), EndTimeUnixNano: uint64(200 + v),
			Status:                 model.Status{Code: model.StatusCode(v % 3), Message: fmt.Sprint("m", v)},
			DroppedAttributesCount: uint32(v), DroppedEventsCount: uint32(v), DroppedLinksCount: uint32(v)}
		for i, c := range spanCols {
			key := c.key
			if v == 1 && c.alias != "" {
				key = c.alias
			}
			if v >= 2 && i%2 == 1 {
				continue
			}
			val := model.StringValue(fmt.Sprint("s", i, v))
			if c.isInt {
				val = model.IntValue(int64(200 + v))
			}
			sp.Attributes = append(sp.Attributes, model.KeyValue{Key: key, Value: val})
		}
		for i := 0; i < attrSlots-v; i++ {
			sp.Attributes = append(sp.Attributes, model.KeyValue{Key: fmt.Sprint("slot", i), Value: model.StringValue(fmt.Sprint("v", i))})
		}
		if v < 3 {
			sp.Attributes = append(sp.Attributes,
				model.KeyValue{Key: "s", Value: model.StringValue("x")}, model.KeyValue{Key: "i", Value: model.IntValue(1)},
				model.KeyValue{Key: "d", Value: model.DoubleValue(1.5)}, model.KeyValue{Key: "b", Value: model.BoolValue(true)},
				model.KeyValue{Key: "x", Value: model.BytesValue([]byte{1})})
			sp.Scope = &model.Scope{Name: "sc", Version: "1", SchemaURL: "su", DroppedAttributesCount: 1,
				Attributes: model.Attributes{{Key: "a", Value: model.StringValue("b")}, {Key: "n", Value: model.IntValue(2)}}}
		}
		for e := 0; e < 2-v/2; e++ {
			sp.Events = append(sp.Events, model.Event{TimeUnixNano: uint64(150 + e), Name: "e", DroppedAttributesCount: 1,
				Attributes: model.Attributes{{Key: "a", Value: model.StringValue("b")}, {Key: "n", Value: model.IntValue(2)}}})
		}
		if v < 2 {
			sp.Links = []model.Link{{TraceID: sp.TraceID, SpanID: sp.SpanID, TraceState: "t", Flags: 1, DroppedAttributesCount: 1,
				Attributes: model.Attributes{{Key: "a", Value: model.StringValue("b")}, {Key: "n", Value: model.IntValue(2)}}}}
		}
		out = append(out, sp)
	}
	return out
}

// TestFillResets checks that a row the writer reuses is filled exactly as
// a new one: fill clears only the fields it may leave unset (Row.reset),
// so a field it forgets would keep the previous span's value.
func TestFillResets(t *testing.T) {
	spans := fillSpans()
	slots := []string{"slot0", "slot1", "slot2", "slot3", "slot4", "slot5", "slot6", "slot7"}
	full := &Row{}
	(&rowEncoder{slots: slots}).fill(full, spans[0])
	if full.Attr7 == "" || full.RPCMethod == "" || full.CloudRegion == "" || full.HTTPStatusCode == 0 || full.ScopeName == "" || len(full.Links) == 0 {
		t.Fatalf("the first span does not fill every column: %+v", full)
	}
	for i, prev := range spans {
		for j, sp := range spans {
			var want, got Row
			(&rowEncoder{slots: slots}).fill(&want, sp)
			e := &rowEncoder{slots: slots}
			e.fill(&got, prev)
			got.ParentOffset, got.slotKeys = 3, &slotKeys{} // as the writer and reader set them
			e.fill(&got, sp)
			if diff := cmp.Diff(want, got, cmp.AllowUnexported(Row{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("span %d filled over span %d (-new row +reused row):\n%s", j, i, diff)
			}
		}
	}
}

// TestMetaServices checks the meta's services and operations against the
// spans written: every (service, name, kind) once, sorted by name then
// kind, with unknown kinds named "" like unspecified ones.
func TestMetaServices(t *testing.T) {
	spans := genSpans(300, 7)
	for i, sp := range spans {
		sp.Kind = model.SpanKind(i % 9) // 6 to 8 are unknown
		if i%5 == 0 {
			sp.Name = fmt.Sprint("op-", i%11)
		}
	}
	spans = append(spans, fillSpans()...)
	_, m := writeBlock(t, spans, WriterOptions{})
	want := map[string][]Operation{}
	seen := map[string]map[Operation]bool{}
	for _, sp := range spans {
		svc := sp.ServiceName()
		op := Operation{Name: sp.Name, Kind: sp.Kind.String()}
		if seen[svc] == nil {
			seen[svc] = map[Operation]bool{}
		}
		if !seen[svc][op] {
			seen[svc][op] = true
			want[svc] = append(want[svc], op)
		}
	}
	for _, ops := range want {
		slices.SortFunc(ops, func(a, b Operation) int {
			if c := strings.Compare(a.Name, b.Name); c != 0 {
				return c
			}
			return strings.Compare(a.Kind, b.Kind)
		})
	}
	if diff := cmp.Diff(want, m.Services); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
}

// TestEncoderValue checks the row encoder's own encoding of int values
// against spancodec's.
func TestEncoderValue(t *testing.T) {
	var e rowEncoder
	for _, v := range []model.Value{model.IntValue(0), model.IntValue(-1), model.IntValue(1 << 62), model.IntValue(-1 << 63),
		model.StringValue("s"), model.DoubleValue(2), model.BoolValue(true), model.BytesValue([]byte{1})} {
		if got, want := e.value(v), spancodec.AppendValue(nil, v); string(got) != string(want) {
			t.Errorf("value %v: %x, want %x", v, got, want)
		}
	}
}

// TestRowColumnAccessors checks spanStr and slot against the arrays they
// stand for.
func TestRowColumnAccessors(t *testing.T) {
	var r Row
	strs, slots := r.spanStrs(), r.slots()
	for i := range strs {
		if r.spanStr(i) != strs[i] {
			t.Errorf("spanStr(%d) is not spanStrs()[%d]", i, i)
		}
	}
	for i := range slots {
		if r.slot(i) != slots[i] {
			t.Errorf("slot(%d) is not slots()[%d]", i, i)
		}
	}
}

// TestSearchSlotPositionsBounded checks that the search builder stops
// remembering keys by attribute position past maxSlotPositions, and still
// indexes the attributes.
func TestSearchSlotPositionsBounded(t *testing.T) {
	b := newSearchBuilder()
	attrs := make(model.Attributes, 64)
	for i := range attrs {
		attrs[i] = model.KeyValue{Key: fmt.Sprint("k", i), Value: model.StringValue("v")}
	}
	services := maxSlotPositions/64 + 10
	for i := 0; i < services; i++ {
		res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue(fmt.Sprint("svc", i))}}}
		b.add(&model.Span{Resource: res, Attributes: attrs, StartTimeUnixNano: 1, EndTimeUnixNano: 2}, true)
	}
	if b.slotPositions > maxSlotPositions {
		t.Errorf("%d positions remembered, more than %d", b.slotPositions, maxSlotPositions)
	}
	last := b.svcs[fmt.Sprint("svc", services-1)]
	if len(last.slots) != 0 || len(last.keys) != 65 { // k0 to k63 and service.name
		t.Errorf("last service: %d positions, %d keys; want 0 and 65", len(last.slots), len(last.keys))
	}
}

// BenchmarkDecodeFill is the first two steps of a flush, per span:
// decoding the head's spans one trace at a time into reused spans (as
// local.flushHead does) and filling the writer's rows from them, with the
// attribute columns a writer chooses for the load. It reports the
// process's CPU time per span (getrusage).
func BenchmarkDecodeFill(b *testing.B) {
	enc, res, scopes := headSpans(b, 5000)
	slots := loadSlots(b, enc, res, scopes)
	var e rowEncoder
	e.slots = slots
	rows := make([]Row, 1024)
	replay := newHeadReplay(enc, res, scopes)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := rusageCPU()
	for i := 0; i < b.N; i++ {
		n := 0
		replay.each(b, func(sp *model.Span, _ bool) {
			e.fill(&rows[n], sp)
			if n++; n == len(rows) {
				n = 0
				e.arena = e.arena[:0]
			}
		})
	}
	b.ReportMetric(float64(rusageCPU()-c0)/float64(b.N*len(enc)), "cpu-ns/span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(enc)), "ns/span")
}

// loadSlots returns the attribute columns a writer chooses for the head
// spans enc.
func loadSlots(tb testing.TB, enc [][]byte, res []*model.Resource, scopes []*model.Scope) []string {
	w, err := newWriter(nil, tb.TempDir(), Meta{}, WriterOptions{}, func(_ io.Writer, _ WriterOptions) (rowSink, error) { return &discardSink{}, nil })
	if err != nil {
		tb.Fatal(err)
	}
	defer w.Abort()
	for j := 0; j < len(enc) && !w.slotsChosen; j++ {
		sp := &model.Span{Resource: res[j], Scope: scopes[j]}
		if err := spancodec.DecodeSpan(enc[j], sp); err != nil {
			tb.Fatal(err)
		}
		if err := w.Add(sp); err != nil {
			tb.Fatal(err)
		}
	}
	if len(w.enc.slots) == 0 {
		tb.Fatal("no attribute columns chosen")
	}
	return w.enc.slots
}

// TestCompareSpans checks CompareSpans against the order it stands for:
// trace id bytes, then start, then span id bytes.
func TestCompareSpans(t *testing.T) {
	want := func(a, b *model.Span) int {
		if c := bytes.Compare(a.TraceID[:], b.TraceID[:]); c != 0 {
			return c
		}
		if c := stdcmp.Compare(a.StartTimeUnixNano, b.StartTimeUnixNano); c != 0 {
			return c
		}
		return bytes.Compare(a.SpanID[:], b.SpanID[:])
	}
	var spans []*model.Span
	for _, tr := range []model.TraceID{{}, {0: 1}, {15: 1}, {0: 0x80}, {7: 0xff, 8: 1}, {8: 0xff}} {
		for _, start := range []uint64{0, 1, 1 << 63} {
			for _, id := range []model.SpanID{{}, {0: 1}, {7: 1}, {0: 0xff}, {3: 0x80}} {
				spans = append(spans, &model.Span{TraceID: tr, StartTimeUnixNano: start, SpanID: id})
			}
		}
	}
	for _, a := range spans {
		for _, b := range spans {
			if got, want := CompareSpans(a, b), want(a, b); got != want {
				t.Fatalf("CompareSpans(%v %d %v, %v %d %v) = %d, want %d", a.TraceID, a.StartTimeUnixNano, a.SpanID, b.TraceID, b.StartTimeUnixNano, b.SpanID, got, want)
			}
		}
	}
}

// TestMaybeSpanCol checks that the quick test of fill lets every dedicated
// key and alias through, and stops keys of other first bytes or lengths.
func TestMaybeSpanCol(t *testing.T) {
	for key := range spanColIndex {
		if !maybeSpanCol(key) {
			t.Errorf("%q: dedicated key refused", key)
		}
	}
	for _, key := range []string{"", "h", "app.attr.0", "user.id", "server.port", "http.route.x", strings.Repeat("h", 64), strings.Repeat("h", 200)} {
		if maybeSpanCol(key) {
			t.Errorf("%q: let through", key)
		}
	}
}

// TestMetaServicesManyOps checks the meta's operations when there are
// more (service, name) pairs than the writer's cache of operations holds,
// the same names in several services and names the cache's hash mixes
// up: every pair written is listed with exactly the kinds it had.
func TestMetaServicesManyOps(t *testing.T) {
	var spans []*model.Span
	want := map[string]map[Operation]bool{}
	for i := 0; i < 3000; i++ {
		svc := fmt.Sprint("svc-", i%23)
		name := fmt.Sprint("GET /api/", strings.Repeat("x", i%5), i%37)
		if i%11 == 0 {
			name = ""
		}
		kind := model.SpanKind(i % 7)
		res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue(svc)}}}
		spans = append(spans, &model.Span{Resource: res, TraceID: model.TraceIDFromUint64s(uint64(i%97), 1), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
			Name: name, Kind: kind, StartTimeUnixNano: uint64(i), EndTimeUnixNano: uint64(i + 1)})
		if want[svc] == nil {
			want[svc] = map[Operation]bool{}
		}
		want[svc][Operation{Name: name, Kind: kind.String()}] = true
	}
	_, m := writeBlock(t, spans, WriterOptions{})
	got := map[string]map[Operation]bool{}
	for svc, ops := range m.Services {
		got[svc] = map[Operation]bool{}
		for _, op := range ops {
			if got[svc][op] {
				t.Errorf("%s: %v listed twice", svc, op)
			}
			got[svc][op] = true
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
}
