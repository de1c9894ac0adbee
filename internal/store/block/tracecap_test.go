package block

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// TestMaxTraceSpans writes a trace of more spans than a block holds of
// one trace (lowered to 100 here) between two small ones: the writer keeps
// the trace's first 100 spans in block order and counts the others, and
// the block reads back whole and verifies, where an index entry of more
// rows would be damage.
func TestMaxTraceSpans(t *testing.T) {
	saved := maxTraceRows
	defer func() { maxTraceRows = saved }()
	maxTraceRows = 100

	res := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}}}
	trace := func(hi uint64, n int) []*model.Span {
		var out []*model.Span
		for i := 0; i < n; i++ {
			out = append(out, &model.Span{Resource: res, TraceID: model.TraceIDFromUint64s(hi, 1), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
				Name: "op", StartTimeUnixNano: 1e18 + uint64(n-i)*1000, EndTimeUnixNano: 1e18 + uint64(n-i)*1000 + 500})
		}
		return out
	}
	small1, big, small2 := trace(1, 5), trace(2, 150), trace(3, 7)
	var spans []*model.Span
	for _, s := range [][]*model.Span{small1, big, small2} {
		spans = append(spans, s...)
	}
	slices.SortFunc(spans, CompareSpans)

	dir := t.TempDir()
	be, err := NewDir(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWriter(be, filepath.Join(dir, "tmp"), Meta{}, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range spans {
		if err := w.Add(sp); err != nil {
			t.Fatal(err)
		}
	}
	m, err := w.Finish(context.Background(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if w.Dropped() != 50 || m.Spans != 5+100+7 || m.Traces != 3 {
		t.Fatalf("dropped %d, block of %d spans and %d traces; want 50, 112, 3", w.Dropped(), m.Spans, m.Traces)
	}
	rd := openBlock(t, be, m)
	if err := rd.Verify(context.Background()); err != nil {
		t.Fatalf("verify: %v", err)
	}
	for _, s := range [][]*model.Span{small1, big, small2} {
		slices.SortFunc(s, CompareSpans)
	}
	for _, tc := range []struct {
		want []*model.Span
	}{{small1}, {big[:100]}, {small2}} {
		got, err := rd.FindTrace(context.Background(), tc.want[0].TraceID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("trace %v: %d spans, want %d", tc.want[0].TraceID, len(got), len(tc.want))
		}
		for i := range got {
			if got[i].SpanID != tc.want[i].SpanID {
				t.Fatalf("trace %v span %d: %v, want %v (the first in block order)", tc.want[0].TraceID, i, got[i].SpanID, tc.want[i].SpanID)
			}
		}
	}
}
