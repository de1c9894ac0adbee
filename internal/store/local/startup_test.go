package local

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/gen"
)

// TestStartupTime measures Open on a data dir of CLEW_STARTUP_SPANS spans
// of the benchmark load in blocks (skipped when unset) plus
// CLEW_STARTUP_WAL_SPANS (default 100,000) in the WAL only.
// CLEW_STARTUP_DIR keeps the data dir for reuse.
func TestStartupTime(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CLEW_STARTUP_SPANS"))
	if n <= 0 {
		t.Skip("set CLEW_STARTUP_SPANS to measure start-up")
	}
	dir := os.Getenv("CLEW_STARTUP_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	walSpans := 100_000
	if v, err := strconv.Atoi(os.Getenv("CLEW_STARTUP_WAL_SPANS")); err == nil {
		walSpans = v
	}
	o := testOptions(dir)
	o.FlushSpans = 1 << 30
	o.FlushBytes = 1 << 40
	o.MaxHeadBytes = 1 << 40
	g, err := gen.New(gen.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now().Add(-time.Hour)
	write := func(s *Store, n int, flushEvery int) {
		written := 0
		for written < n {
			batch := g.Trace(start.Add(time.Duration(written) * time.Microsecond))
			for len(batch) < 500 {
				batch = append(batch, g.Trace(start.Add(time.Duration(written+len(batch))*time.Microsecond))...)
			}
			if err := s.WriteSpans(ctx, batch); err != nil {
				t.Fatal(err)
			}
			written += len(batch)
			if flushEvery > 0 && written%flushEvery < len(batch) {
				if err := s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if _, err := os.Stat(dir + "/blocks"); err != nil {
		s := openT(t, o)
		write(s, n, 1_000_000)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s := openT(t, o)
	write(s, walSpans, 0)
	s.simulateCrash() // the tail stays in the WAL only
	t0 := time.Now()
	s = openT(t, o)
	took := time.Since(t0)
	s.mu.RLock()
	blocks, head := len(s.blocks), s.active.spans
	var inBlocks int64
	for _, b := range s.blocks {
		inBlocks += b.meta.Spans
	}
	s.mu.RUnlock()
	t.Logf("Open: %v for %d spans in %d blocks and %d replayed from the WAL", took, inBlocks, blocks, head)
	s.simulateCrash()
}
