package local

import (
	"context"
	"syscall"
	"testing"
)

// BenchmarkFlush times the flush of a head of 100,000 spans of the
// benchmark load to a block (decoding the head's spans, the block writer,
// the search index, the block's files), without the ingest before it. It
// reports the process's CPU time per span (user plus system, from
// getrusage, so the garbage collector's background work counts too): wall
// time swings with the load of the shared machine, CPU time much less.
func BenchmarkFlush(b *testing.B) {
	batches := genLoad(b, 10000)
	spans := 0
	for _, bt := range batches {
		spans += len(bt)
	}
	b.ReportAllocs()
	var cpu int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := openT(b, testOptions(b.TempDir()))
		for _, bt := range batches {
			if err := s.WriteSpans(context.Background(), bt); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		c0 := rusageCPU()
		if err := s.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
		cpu += rusageCPU() - c0
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu)/float64(b.N*spans), "cpu-ns/span")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*spans), "ns/span")
}

// rusageCPU returns the process's user and system CPU time in nanoseconds.
func rusageCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
