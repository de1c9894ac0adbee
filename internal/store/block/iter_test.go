package block

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clew-dev/clew/internal/model"
)

// TestIterSharesResources checks the Iterator's kept resources and scopes
// and its reuse of span memory (ReuseSpans) and of the scan's rows
// (clearKeep): spans (of varying numbers of attributes, events with
// attributes of both lists, and links) come back as written when their
// resources and scopes alternate among fewer than iterKeep and among more
// than iterKeep (so that kept ones are evicted), and spans of equal
// resources (scopes) share one pointer while different ones never do.
func TestIterSharesResources(t *testing.T) {
	for _, tc := range []struct {
		distinct int
		reuse    bool
	}{{3, false}, {3, true}, {iterKeep + 5, true}} {
		distinct := tc.distinct
		t.Run(fmt.Sprint(distinct, tc.reuse), func(t *testing.T) {
			res := make([]*model.Resource, distinct)
			scopes := make([]*model.Scope, distinct)
			for i := range res {
				res[i] = &model.Resource{Attributes: model.Attributes{
					{Key: "service.name", Value: model.StringValue(fmt.Sprintf("svc-%d", i%4))},
					{Key: "host.name", Value: model.StringValue(fmt.Sprintf("host-%d", i))},
					{Key: "n", Value: model.IntValue(int64(i % 2))},
				}}
				scopes[i] = &model.Scope{Name: fmt.Sprintf("lib-%d", i%5), Version: fmt.Sprint(i)}
			}
			// A scope with attributes is never shared.
			scopes[1] = &model.Scope{Name: "attrs", Attributes: model.Attributes{{Key: "k", Value: model.StringValue("v")}}}
			var spans []*model.Span
			for tr := 0; tr < 200; tr++ {
				for s := 0; s < 7; s++ {
					i := tr*7 + s
					k := (i * 7919) % distinct // not in a cycle of the kept ones
					start := uint64(1e18) + uint64(i)*1000
					sp := &model.Span{Resource: res[k], Scope: scopes[k],
						TraceID: model.TraceIDFromUint64s(uint64(tr), 1), SpanID: model.SpanIDFromUint64(uint64(i + 1)),
						Name: "op", StartTimeUnixNano: start, EndTimeUnixNano: start + 5}
					// Attributes, events and links of varying counts: the
					// iterator reuses their memory from span to span.
					for a := range i % 4 {
						sp.Attributes = append(sp.Attributes, model.KeyValue{Key: fmt.Sprint("a", a), Value: model.IntValue(int64(i))})
					}
					for e := range i % 3 {
						ev := model.Event{TimeUnixNano: start + uint64(e), Name: fmt.Sprint("e", e)}
						for a := range (i + e) % 3 {
							v := model.StringValue(fmt.Sprint(i))
							if a == 1 {
								v = model.IntValue(int64(i)) // attrs_other
							}
							ev.Attributes = append(ev.Attributes, model.KeyValue{Key: fmt.Sprint("ea", a), Value: v})
						}
						sp.Events = append(sp.Events, ev)
					}
					for l := range i % 5 / 3 {
						sp.Links = append(sp.Links, model.Link{TraceID: model.TraceIDFromUint64s(9, uint64(i)), SpanID: model.SpanIDFromUint64(uint64(l + 1)),
							Attributes: model.Attributes{{Key: "li", Value: model.IntValue(int64(i))}}[:i%2]})
					}
					spans = append(spans, sp)
				}
			}
			be, m := writeBlock(t, spans, WriterOptions{RowGroupRows: 300})
			rd := openBlock(t, be, m)
			it := rd.Iter()
			defer it.Close()
			if tc.reuse {
				it.ReuseSpans()
			}
			var got []*model.Span
			byKey := cmpopts.SortSlices(func(a, b model.KeyValue) bool { return a.Key < b.Key })
			resOf := map[*model.Resource]*model.Resource{} // read -> written
			scopeOf := map[*model.Scope]*model.Scope{}
			shared, i := 0, 0
			for sp := it.Next(); sp != nil; sp, i = it.Next(), i+1 {
				if i >= len(spans) {
					t.Fatalf("more than the %d spans written", len(spans))
				}
				if diff := cmp.Diff(spans[i], sp, valueCmp, byKey, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("span %d (-want +got):\n%s", i, diff)
				}
				got = append(got, sp)
				if w, ok := resOf[sp.Resource]; ok && w != spans[i].Resource {
					t.Fatalf("span %d: resource shared by spans of different resources", i)
				}
				if _, ok := resOf[sp.Resource]; ok {
					shared++
				}
				resOf[sp.Resource] = spans[i].Resource
				if w, ok := scopeOf[sp.Scope]; ok && w != spans[i].Scope {
					t.Fatalf("span %d: scope shared by spans of different scopes", i)
				}
				scopeOf[sp.Scope] = spans[i].Scope
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			if i != len(spans) {
				t.Fatalf("%d spans read, want %d", i, len(spans))
			}
			if !tc.reuse {
				// Spans stay valid after the next call to Next.
				if diff := cmp.Diff(spans, got, valueCmp, byKey, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("(-want +got):\n%s", diff)
				}
			}
			// Every scope but the one with attributes is built once, that
			// one for each of its spans.
			wantScopes := distinct - 1
			for _, sp := range spans {
				if sp.Scope == scopes[1] {
					wantScopes++
				}
			}
			if distinct < iterKeep && (len(resOf) != distinct || len(scopeOf) != wantScopes) {
				t.Errorf("%d resources, %d scopes read; want %d and %d", len(resOf), len(scopeOf), distinct, wantScopes)
			}
			if distinct < iterKeep && shared == 0 {
				t.Error("no span shares a resource")
			}
		})
	}
}

// BenchmarkIterGen reads a block of 50,000 spans of the storage
// benchmark's load (5,000 traces) with an Iterator reusing its span, as
// compaction does: the read side of a compaction, without the merge and
// the writer. It reports the process's CPU time per span (getrusage,
// around the reads only) as cpu-ns/span.
func BenchmarkIterGen(b *testing.B) {
	be, m := writeBlock(b, genSpansLoad(b, 5000), WriterOptions{})
	rd := openBlock(b, be, m)
	b.ReportAllocs()
	b.ResetTimer()
	c0 := rusageCPU()
	for i := 0; i < b.N; i++ {
		it := rd.Iter()
		it.ReuseSpans()
		n := 0
		for sp := it.Next(); sp != nil; sp = it.Next() {
			n++
		}
		if err := it.Err(); err != nil || n != int(m.Spans) {
			b.Fatal(err, n)
		}
		it.Close()
	}
	b.ReportMetric(float64(rusageCPU()-c0)/float64(b.N)/float64(m.Spans), "cpu-ns/span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(m.Spans), "ns/span")
}
