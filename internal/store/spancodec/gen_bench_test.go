package spancodec

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
)

// genBatches returns traces of the storage benchmark's load (clew gen's
// defaults) in batches of about per spans, whole traces each, as clew gen
// sends them and the OTLP receiver orders them.
func genBatches(tb testing.TB, traces, per int) [][]*model.Span {
	g, err := gen.New(gen.DefaultOptions())
	if err != nil {
		tb.Fatal(err)
	}
	batches := g.Batches(traces, per, time.Now().Add(-time.Minute), time.Millisecond)
	// As an OTLP receiver decodes an export: grouped by resource, a
	// trace's spans spread over its services' groups.
	for _, bt := range batches {
		slices.SortStableFunc(bt, func(x, y *model.Span) int { return strings.Compare(x.ServiceName(), y.ServiceName()) })
	}
	return batches
}

// BenchmarkAppendBatchGen encodes the benchmark load in batches of 50
// spans (scripts/ingest-cpu.sh's) and of 500 (make bench's), as
// local.WriteSpans does, and reports the encoded bytes per span.
func BenchmarkAppendBatchGen(b *testing.B) {
	for _, per := range []int{50, 500} {
		b.Run(fmt.Sprint("batch=", per), func(b *testing.B) {
			batches := genBatches(b, 5000, per)
			spans, size := 0, 0
			var buf []byte
			var bounds []int
			for _, bt := range batches {
				spans += len(bt)
				buf, _ = AppendBatchBounds(buf[:0], bt, bounds[:0])
				size += len(buf)
			}
			b.ReportAllocs()
			for b.Loop() {
				for _, bt := range batches {
					buf, bounds = AppendBatchBounds(buf[:0], bt, bounds[:0])
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
			b.ReportMetric(float64(size)/float64(spans), "bytes/span")
		})
	}
}

// BenchmarkSpanDecoderGen decodes the spans of the benchmark load, encoded
// in batches of 50, one at a time by their bounds in their record, as a
// flush of the head does.
func BenchmarkSpanDecoderGen(b *testing.B) {
	batches := genBatches(b, 5000, 50)
	type at struct {
		rec        []byte
		start, end int
	}
	var all []at
	for _, bt := range batches {
		rec, bounds := AppendBatchBounds(nil, bt, nil)
		for i := 0; i < len(bounds); i += 2 {
			all = append(all, at{rec, bounds[i], bounds[i+1]})
		}
	}
	b.ReportAllocs()
	var sd SpanDecoder
	var sp model.Span
	for b.Loop() {
		for i, a := range all {
			if i%10 == 0 {
				sd.Reset()
			}
			if err := sd.Decode(a.rec[a.start:a.end], &sp); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(all)), "ns/span")
}
