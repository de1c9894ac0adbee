package block

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
)

// genSpansLoad returns the spans of `traces` traces of the storage
// benchmark's load (clew gen's defaults).
func genSpansLoad(tb testing.TB, traces int) []*model.Span {
	g, err := gen.New(gen.DefaultOptions())
	if err != nil {
		tb.Fatal(err)
	}
	return g.Batches(traces, 0, time.Now().Add(-time.Minute), time.Millisecond)[0]
}

// BenchmarkWriteGen writes a block of the storage benchmark's load: what
// a flush of the head costs per span.
func BenchmarkWriteGen(b *testing.B) { benchWrite(b, genSpansLoad(b, 5000)) }

// TestRoundTripManyRows checks the writer's reuse of rows, resource
// columns and its value arena across batches: every span of several
// batches of rows, with values of every type on spans, events, links,
// resources and scopes, comes back as written.
func TestRoundTripManyRows(t *testing.T) {
	var spans []*model.Span
	res := make([]*model.Resource, 7)
	for i := range res {
		res[i] = &model.Resource{Attributes: model.Attributes{
			{Key: "service.name", Value: model.StringValue(fmt.Sprintf("svc-%d", i))},
			{Key: "host.name", Value: model.StringValue(fmt.Sprintf("host-%d", i%3))},
			{Key: "deployment.environment", Value: model.StringValue("prod")},
			{Key: "n", Value: model.IntValue(int64(i))},
			{Key: "r", Value: model.StringValue(strings.Repeat("x", i))},
		}, DroppedAttributesCount: uint32(i % 2)}
	}
	scope := &model.Scope{Name: "lib", Version: "1", Attributes: model.Attributes{{Key: "sv", Value: model.DoubleValue(1.5)}}}
	for tr := 0; tr < 300; tr++ {
		for s := 0; s < 10; s++ {
			i := tr*10 + s
			start := uint64(1e18) + uint64(i)*1000
			sp := &model.Span{Resource: res[i%len(res)], Scope: scope,
				TraceID: model.TraceIDFromUint64s(uint64(tr), uint64(tr)*7+1), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
				Name: fmt.Sprintf("op-%d", i%13), Kind: model.SpanKind(i % 6), StartTimeUnixNano: start, EndTimeUnixNano: start + uint64(i),
				Attributes: model.Attributes{
					{Key: "http.request.method", Value: model.StringValue("GET")},
					{Key: "http.response.status_code", Value: model.IntValue(int64(200 + i%5))},
					{Key: "i", Value: model.IntValue(int64(i))},
					{Key: "d", Value: model.DoubleValue(float64(i) / 3)},
					{Key: "b", Value: model.BoolValue(i%2 == 0)},
					{Key: "x", Value: model.BytesValue([]byte{byte(i), byte(i >> 8)})},
					{Key: "a", Value: model.SliceValue([]model.Value{model.IntValue(int64(i)), model.StringValue("q")})},
				},
				Events: []model.Event{
					{TimeUnixNano: start + 1, Name: "e1", Attributes: model.Attributes{{Key: "seq", Value: model.IntValue(int64(i))}, {Key: "s", Value: model.StringValue("v")}}},
					{TimeUnixNano: start + 2, Name: "e2", Attributes: model.Attributes{{Key: "f", Value: model.DoubleValue(float64(i))}}},
				},
			}
			if i%4 == 0 {
				sp.Events = sp.Events[:1]
			}
			if i%9 == 0 {
				sp.Links = []model.Link{{TraceID: model.TraceIDFromUint64s(9, uint64(i)), SpanID: model.SpanIDFromUint64(3), Attributes: model.Attributes{{Key: "li", Value: model.IntValue(int64(i))}}}}
			}
			if i%7 == 0 {
				sp.Status = model.Status{Code: model.StatusError, Message: fmt.Sprintf("err %d", i)}
			}
			spans = append(spans, sp)
		}
	}
	be, m := writeBlock(t, spans, WriterOptions{RowGroupRows: 700})
	rd := openBlock(t, be, m)
	byKey := cmpopts.SortSlices(func(a, b model.KeyValue) bool { return a.Key < b.Key })
	for tr := 0; tr < 300; tr++ {
		id := model.TraceIDFromUint64s(uint64(tr), uint64(tr)*7+1)
		got, err := rd.FindTrace(context.Background(), id)
		if err != nil || len(got) != 10 {
			t.Fatalf("trace %d: %v, %d spans", tr, err, len(got))
		}
		if diff := cmp.Diff(spans[tr*10:tr*10+10], got, valueCmp, byKey, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("trace %d (-want +got):\n%s", tr, diff)
		}
	}
	if err := rd.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestSpanColMatchesTable(t *testing.T) {
	var e rowEncoder
	for key, want := range spanColIndex {
		if got, ok := e.spanCol(key); !ok || got != want {
			t.Errorf("%q: %v %v, want %v", key, got, ok, want)
		}
	}
	for _, key := range []string{"", "http", "http.route ", "user.id", "db.system.name.x", "service.name"} {
		if got, ok := e.spanCol(key); ok {
			t.Errorf("%q: %v, want no column", key, got)
		}
	}
}
