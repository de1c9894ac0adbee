package local

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/spancodec"
)

// BenchmarkWriteSpansLoad measures the write path alone (encoding, WAL
// append, head insert) on the benchmark load as the server sees it:
// batches of 500 spans (clew gen --batch 50: 50 traces of 10 spans) from
// 4 concurrent writers. One op writes 100 batches (50,000 spans) into a
// fresh store, which is then dropped without a flush. cpu-ns/span is the
// process's CPU time (user+system, garbage collection included) during the
// writes, the figure to compare on a shared machine; ns/span is wall time.
func BenchmarkWriteSpansLoad(b *testing.B) {
	const writers, batchSpans = 4, 500
	batches := genLoad(b, 100*batchSpans/10)
	for _, fsync := range []bool{true, false} {
		name := "fsync"
		if !fsync {
			name = "nosync"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var cpu int64
			for range b.N {
				b.StopTimer()
				o := testOptions(b.TempDir())
				o.NoSync = !fsync
				o.FlushInterval = time.Hour
				o.FlushBytes, o.FlushSpans, o.MaxHeadBytes = 1<<40, 1<<30, 1<<41
				s := openT(b, o)
				var next atomic.Int64
				var wg sync.WaitGroup
				cpu0 := cpuTime()
				b.StartTimer()
				for range writers {
					wg.Go(func() {
						for {
							i := int(next.Add(1) - 1)
							if i >= len(batches) {
								return
							}
							if err := s.WriteSpans(context.Background(), batches[i]); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				cpu += cpuTime() - cpu0
				discardStore(b, s)
			}
			spans := float64(b.N * len(batches) * batchSpans)
			b.ReportMetric(float64(cpu)/spans, "cpu-ns/span")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/spans, "ns/span")
		})
	}
}

// discardStore stops s without flushing its head (benchmarks only).
func discardStore(tb testing.TB, s *Store) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	close(s.stop)
	s.done.Wait()
	if err := s.wal.Close(); err != nil {
		tb.Error(err)
	}
	s.closeBlocks()
}

// cpuTime returns the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkHeadAddBatch measures head.addBatch alone: one op adds 100
// encoded batches of 500 spans of the benchmark load to a fresh head, in
// trace order (each trace's spans together) and in OTLP order (the spans of
// a batch grouped by resource, as a receiver decodes an export: a trace's
// spans spread over its services' groups).
func BenchmarkHeadAddBatch(b *testing.B) {
	byTrace := genLoad(b, 100*500/10)
	byResource := make([][]*model.Span, len(byTrace))
	for i, bt := range byTrace {
		byResource[i] = slices.Clone(bt)
		slices.SortStableFunc(byResource[i], func(x, y *model.Span) int {
			return strings.Compare(x.ServiceName(), y.ServiceName())
		})
	}
	for _, order := range []struct {
		name    string
		batches [][]*model.Span
	}{{"trace", byTrace}, {"otlp", byResource}} {
		b.Run(order.name, func(b *testing.B) {
			batches := order.batches
			recs := make([][]byte, len(batches))
			bounds := make([][]int, len(batches))
			for i, bt := range batches {
				recs[i], bounds[i] = spancodec.AppendBatchBounds(nil, bt, nil)
			}
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				h := newHead()
				for i, bt := range batches {
					h.addBatch(bt, recs[i], bounds[i], 1)
				}
			}
			spans := float64(b.N * len(batches) * 500)
			b.ReportMetric(float64(cpuTime()-cpu0)/spans, "cpu-ns/span")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/spans, "ns/span")
		})
	}
}
