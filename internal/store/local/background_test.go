package local

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// TestBackgroundCompactionBesideFlushes writes while the background flush
// and compaction goroutines cut, write and merge blocks, reading every
// trace meanwhile, and checks that compaction keeps the block count down
// and that every trace stays whole throughout (run it with -race).
func TestBackgroundCompactionBesideFlushes(t *testing.T) {
	o := testOptions(t.TempDir())
	o.FlushInterval = 20 * time.Millisecond
	o.CompactionInterval = 30 * time.Millisecond
	o.CompactionMinBlocks = 3
	s := openT(t, o)
	defer s.Close()
	ctx := context.Background()
	start := time.Now().Add(-time.Minute)
	const traces = 600
	var mu sync.Mutex
	written := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < traces; i++ {
			if err := s.WriteSpans(ctx, mkSpans(uint64(i+1), 10, start, "svc")); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			written = i + 1
			mu.Unlock()
			if i%20 == 19 { // a block every 20 traces, beside the background ones
				if err := s.Flush(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	check := func(n int) {
		for i := 0; i < n; i++ {
			tr, err := s.GetTrace(ctx, model.TraceIDFromUint64s(1, uint64(i+1)))
			if err != nil || len(tr.Spans) != 10 {
				n := 0
				if tr != nil {
					n = len(tr.Spans)
				}
				t.Fatalf("trace %d: %v, %d spans", i+1, err, n)
			}
		}
	}
	for reading := true; reading; {
		select {
		case <-done:
			reading = false
		default:
		}
		mu.Lock()
		n := written
		mu.Unlock()
		check(n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.RLock()
		blocks, head := len(s.blocks), s.active.spans
		compacted := false
		for _, b := range s.blocks {
			compacted = compacted || b.meta.Level > 0
		}
		s.mu.RUnlock()
		if head == 0 && compacted && blocks <= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d blocks (compacted: %v), %d spans in the head", blocks, compacted, head)
		}
		time.Sleep(20 * time.Millisecond)
	}
	check(traces)
}
