package local

import (
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
