package block

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clew-dev/clew/internal/model"
)

var valueCmp = cmp.Comparer(func(a, b model.Value) bool { return a.Equal(b) })

// genSpans makes traces of perTrace spans with a realistic attribute mix.
func genSpans(traces, perTrace int) []*model.Span {
	res := []*model.Resource{}
	for i := 0; i < 5; i++ {
		res = append(res, &model.Resource{Attributes: model.Attributes{
			{Key: "service.name", Value: model.StringValue(fmt.Sprintf("svc-%d", i))},
			{Key: "host.name", Value: model.StringValue(fmt.Sprintf("host-%d", i))},
			{Key: "service.version", Value: model.StringValue("1.2.3")},
			{Key: "deployment.environment", Value: model.StringValue("prod")},
		}})
	}
	sc := &model.Scope{Name: "lib", Version: "1"}
	base := uint64(time.Now().Add(-time.Hour).UnixNano())
	var out []*model.Span
	for t := 0; t < traces; t++ {
		tid := model.TraceIDFromUint64s(uint64(t)*0x9e3779b97f4a7c15, uint64(t)+1)
		for s := 0; s < perTrace; s++ {
			sp := &model.Span{Resource: res[(t+s)%len(res)], Scope: sc, TraceID: tid,
				SpanID: model.SpanIDFromUint64(uint64(t*perTrace + s + 1)), Name: fmt.Sprintf("op-%d", s%7),
				Kind: model.SpanKindServer, StartTimeUnixNano: base + uint64(t)*1e6 + uint64(s)*1e4,
				Attributes: model.Attributes{
					{Key: "http.request.method", Value: model.StringValue("GET")},
					{Key: "http.response.status_code", Value: model.IntValue(200)},
					{Key: "user.id", Value: model.StringValue(fmt.Sprintf("u%d", t%100))},
					{Key: "n", Value: model.IntValue(int64(s))},
				}}
			if s > 0 {
				sp.ParentSpanID = model.SpanIDFromUint64(uint64(t*perTrace + 1))
			}
			sp.EndTimeUnixNano = sp.StartTimeUnixNano + uint64(1000*(s+1))
			out = append(out, sp)
		}
	}
	return out
}

func writeBlock(t testing.TB, spans []*model.Span, o WriterOptions) (*Dir, Meta) {
	t.Helper()
	dir := t.TempDir()
	be, err := NewDir(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Write(context.Background(), be, filepath.Join(dir, "tmp"), Meta{}, o, spans, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return be, m
}

// openBlock opens block m of be, closed when the test ends.
func openBlock(tb testing.TB, be Backend, m Meta) *Reader {
	tb.Helper()
	rd, err := Open(context.Background(), be, m.ID)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rd.Close() })
	return rd
}

func TestRoundTripAllFields(t *testing.T) {
	r := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue("svc")}, {Key: "k", Value: model.IntValue(3)}}, SchemaURL: "s", DroppedAttributesCount: 1}
	sc := &model.Scope{Name: "lib", Version: "2", Attributes: model.Attributes{{Key: "a", Value: model.BoolValue(true)}}, DroppedAttributesCount: 2, SchemaURL: "x"}
	sp := &model.Span{Resource: r, Scope: sc,
		TraceID: model.TraceIDFromUint64s(1, 2), SpanID: model.SpanIDFromUint64(3), ParentSpanID: model.SpanIDFromUint64(4),
		TraceState: "a=b", Flags: 1, Name: "GET /", Kind: model.SpanKindClient, StartTimeUnixNano: 1e18, EndTimeUnixNano: 1e18 + 5,
		Attributes: model.Attributes{
			{Key: "http.request.method", Value: model.StringValue("POST")},
			{Key: "http.status_code", Value: model.IntValue(503)},
			{Key: "db.system", Value: model.IntValue(7)}, // wrong type: stays generic
			{Key: "s", Value: model.StringValue("v")},
			{Key: "d", Value: model.DoubleValue(2.5)},
			{Key: "b", Value: model.BoolValue(false)},
			{Key: "x", Value: model.BytesValue([]byte{0, 1})},
			{Key: "a", Value: model.SliceValue([]model.Value{model.IntValue(1), model.MapValue([]model.KeyValue{{Key: "q", Value: model.StringValue("w")}})})},
			{Key: "e", Value: model.Value{}},
		},
		DroppedAttributesCount: 9,
		Events:                 []model.Event{{TimeUnixNano: 1e18 + 2, Name: "ev", Attributes: model.Attributes{{Key: "z", Value: model.IntValue(1)}}, DroppedAttributesCount: 1}},
		DroppedEventsCount:     2,
		Links:                  []model.Link{{TraceID: model.TraceIDFromUint64s(5, 5), SpanID: model.SpanIDFromUint64(6), TraceState: "t", Attributes: model.Attributes{{Key: "l", Value: model.StringValue("m")}}, DroppedAttributesCount: 3, Flags: 4}},
		DroppedLinksCount:      3,
		Status:                 model.Status{Code: model.StatusError, Message: "boom"},
	}
	be, m := writeBlock(t, []*model.Span{sp}, WriterOptions{})
	rd := openBlock(t, be, m)
	got, err := rd.FindTrace(context.Background(), sp.TraceID)
	if err != nil || len(got) != 1 {
		t.Fatalf("FindTrace: %v, %d spans", err, len(got))
	}
	// Attributes come back grouped by column (dedicated, then by type).
	byKey := cmpopts.SortSlices(func(a, b model.KeyValue) bool { return a.Key < b.Key })
	if diff := cmp.Diff(sp, got[0], valueCmp, byKey, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := rd.Verify(context.Background()); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestFindTraceAcrossRowGroups(t *testing.T) {
	spans := genSpans(2000, 10)
	want := map[model.TraceID]int{}
	for _, s := range spans {
		want[s.TraceID]++
	}
	be, m := writeBlock(t, spans, WriterOptions{RowGroupRows: 1000, PageBufferSize: 2048})
	if m.Spans != 20000 || m.Traces != 2000 {
		t.Fatalf("meta counts %d spans %d traces", m.Spans, m.Traces)
	}
	rd, err := Open(context.Background(), be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if len(rd.file.RowGroups()) < 10 {
		t.Errorf("want many row groups, got %d", len(rd.file.RowGroups()))
	}
	for id, n := range want {
		got, err := rd.FindTrace(context.Background(), id)
		if err != nil || len(got) != n {
			t.Fatalf("trace %v: %d spans, %v; want %d", id, len(got), err, n)
		}
	}
	if got, _ := rd.FindTrace(context.Background(), model.TraceIDFromUint64s(7, 7)); got != nil {
		t.Errorf("absent trace returned %d spans", len(got))
	}
	// Summaries come in storage order and match the spans.
	sorted := append([]*model.Span(nil), spans...)
	slices.SortFunc(sorted, CompareSpans)
	var n int
	err = rd.ScanSummaries(context.Background(), func(s *Summary) bool {
		w := sorted[n]
		if s.TraceID != w.TraceID || uint64(s.StartUnixNano) != w.StartTimeUnixNano || s.ServiceName != w.ServiceName() ||
			s.Name != w.Name || s.Kind != int32(w.Kind) || time.Duration(s.DurationNano) != w.Duration() {
			t.Fatalf("summary %d = %+v, want span %+v", n, s, w)
		}
		n++
		return true
	})
	if err != nil || n != 20000 {
		t.Errorf("ScanSummaries: %d rows, %v", n, err)
	}
	if err := rd.Verify(context.Background()); err != nil {
		t.Errorf("Verify: %v", err)
	}
	ops := m.Services["svc-0"]
	if len(ops) != 7 {
		t.Errorf("svc-0 operations %v", ops)
	}
}

func TestCorruptionIsReported(t *testing.T) {
	spans := genSpans(200, 10)
	for _, name := range []string{DataName, IndexName, BloomName, MetaName} {
		be, m := writeBlock(t, spans, WriterOptions{RowGroupRows: 500})
		p := filepath.Join(be.Root(), m.ID, name)
		data, _ := os.ReadFile(p)
		for _, off := range []int{len(data) / 2, len(data) - 5, 9} {
			bad := append([]byte(nil), data...)
			bad[off] ^= 0x5a
			os.WriteFile(p, bad, 0o644)
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("%s flipped at %d: panic %v", name, off, r)
					}
				}()
				rd, err := Open(context.Background(), be, m.ID)
				if err != nil {
					return // reported at open
				}
				defer rd.Close()
				if err := rd.Verify(context.Background()); err == nil {
					t.Errorf("%s flipped at %d: Verify passed", name, off)
				}
			}()
		}
	}
}

func BenchmarkWrite(b *testing.B) { benchWrite(b, genSpans(10000, 10)) }

// benchWrite times writing spans as one block, per span, with the block's
// bytes per span.
func benchWrite(b *testing.B, spans []*model.Span) {
	dir := b.TempDir()
	be, _ := NewDir(filepath.Join(dir, "blocks"))
	b.ReportAllocs()
	b.ResetTimer()
	var size int64
	for i := 0; i < b.N; i++ {
		m, err := Write(context.Background(), be, filepath.Join(dir, "tmp"), Meta{}, WriterOptions{}, spans, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		size = m.Size()
		be.DeleteBlock(context.Background(), m.ID)
	}
	b.ReportMetric(float64(size)/float64(len(spans)), "bytes/span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}

func BenchmarkFindTrace(b *testing.B) {
	spans := genSpans(10000, 10)
	ids := make([]model.TraceID, 0, 10000)
	for i := 0; i < len(spans); i += 10 {
		ids = append(ids, spans[i].TraceID)
	}
	be, m := writeBlock(b, spans, WriterOptions{})
	rd := openBlock(b, be, m)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := rd.FindTrace(context.Background(), ids[i%len(ids)])
		if err != nil || len(got) != 10 {
			b.Fatal(err, len(got))
		}
	}
}

func BenchmarkScanSummaries(b *testing.B) {
	spans := genSpans(10000, 10)
	be, m := writeBlock(b, spans, WriterOptions{})
	rd := openBlock(b, be, m)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		rd.ScanSummaries(context.Background(), func(s *Summary) bool { n++; return true })
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
}

// TestTracesSharingAnIDPrefix stores many traces whose ids differ only in
// the low half — every 64-bit id of Jaeger, Zipkin and Datadog has a zero
// high half — across many index fences, beside traces of another high half,
// and finds each one.
func TestTracesSharingAnIDPrefix(t *testing.T) {
	var spans []*model.Span
	r := &model.Resource{}
	for low := uint64(1); low <= 3000; low++ {
		for s := uint64(1); s <= low%3+1; s++ {
			spans = append(spans, &model.Span{Resource: r, Scope: &model.Scope{}, TraceID: model.TraceIDFromUint64s(low%2, low),
				SpanID: model.SpanIDFromUint64(low*10 + s), StartTimeUnixNano: 1e18 + s})
		}
	}
	be, m := writeBlock(t, spans, WriterOptions{RowGroupRows: 100})
	rd := openBlock(t, be, m)
	for low := uint64(1); low <= 3000; low++ {
		got, err := rd.FindTrace(context.Background(), model.TraceIDFromUint64s(low%2, low))
		if err != nil || len(got) != int(low%3+1) {
			t.Fatalf("trace %d: %d spans, %v", low, len(got), err)
		}
	}
	if err := rd.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}
