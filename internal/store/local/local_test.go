package local

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/block"
	"github.com/clew-dev/clew/internal/store/storetest"
	"github.com/clew-dev/clew/internal/store/wal"
)

func testOptions(dir string) Options {
	return Options{Dir: dir, NoSync: true, CompactionInterval: -1, FlushInterval: time.Hour}
}

func openT(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// TestConformanceHead runs the suite with every span in the head.
func TestConformanceHead(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openT(t, testOptions(t.TempDir())) })
}

// flushing flushes the head to a block after every write, so that the
// suite reads from blocks (and from several blocks per trace).
type flushing struct{ *Store }

func (f flushing) WriteSpans(ctx context.Context, spans []*model.Span) error {
	if err := f.Store.WriteSpans(ctx, spans); err != nil {
		return err
	}
	return f.Store.Flush(ctx)
}

func TestConformanceBlocks(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return flushing{openT(t, testOptions(t.TempDir()))} })
}

// reopening closes and reopens the store after every write, without
// flushing: everything comes back from the WAL.
type reopening struct {
	mu sync.Mutex
	*Store
	t    *testing.T
	opts Options
}

func (r *reopening) WriteSpans(ctx context.Context, spans []*model.Span) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.Store.WriteSpans(ctx, spans); err != nil {
		return err
	}
	// Simulate a crash: drop the store without Close, then reopen.
	r.Store.simulateCrash()
	r.Store = openT(r.t, r.opts)
	return nil
}

func TestConformanceAfterCrash(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		o := testOptions(t.TempDir())
		return &reopening{Store: openT(t, o), t: t, opts: o}
	})
}

func TestConformanceCompacted(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		o := testOptions(t.TempDir())
		o.CompactionMinBlocks = 2
		return compacting{openT(t, o)}
	})
}

// compacting flushes after every write and compacts whenever it can.
type compacting struct{ *Store }

func (c compacting) WriteSpans(ctx context.Context, spans []*model.Span) error {
	if err := c.Store.WriteSpans(ctx, spans); err != nil {
		return err
	}
	if err := c.Store.Flush(ctx); err != nil {
		return err
	}
	_, err := c.Store.Compact(ctx)
	return err
}

func mkSpans(trace uint64, n int, start time.Time, service string) []*model.Span {
	r := &model.Resource{Attributes: model.Attributes{{Key: "service.name", Value: model.StringValue(service)}}}
	out := make([]*model.Span, n)
	for i := range out {
		st := uint64(start.Add(time.Duration(i) * time.Millisecond).UnixNano())
		out[i] = &model.Span{Resource: r, Scope: &model.Scope{Name: "t"}, TraceID: model.TraceIDFromUint64s(1, trace),
			SpanID: model.SpanIDFromUint64(trace<<16 | uint64(i+1)), Name: "op",
			StartTimeUnixNano: st, EndTimeUnixNano: st + 1000}
	}
	return out
}

func spansOf(t *testing.T, s *Store, trace uint64) int {
	t.Helper()
	tr, err := s.GetTrace(context.Background(), model.TraceIDFromUint64s(1, trace))
	if err != nil {
		return 0
	}
	return len(tr.Spans)
}

func TestRestartAfterFlushDoesNotDuplicate(t *testing.T) {
	o := testOptions(t.TempDir())
	s := openT(t, o)
	ctx := context.Background()
	now := time.Now()
	if err := s.WriteSpans(ctx, mkSpans(1, 5, now, "a")); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteSpans(ctx, mkSpans(2, 3, now, "a")); err != nil {
		t.Fatal(err)
	}
	s.simulateCrash()
	s = openT(t, o)
	defer s.Close()
	if n := spansOf(t, s, 1); n != 5 {
		t.Errorf("flushed trace: %d spans, want 5", n)
	}
	if n := spansOf(t, s, 2); n != 3 {
		t.Errorf("unflushed trace: %d spans, want 3", n)
	}
	if segs, _ := wal.Segments(filepath.Join(o.Dir, "wal")); len(segs) > 3 {
		t.Errorf("old WAL segments kept: %v", segs)
	}
}

func TestCloseFlushesAndReopens(t *testing.T) {
	o := testOptions(t.TempDir())
	s := openT(t, o)
	if err := s.WriteSpans(context.Background(), mkSpans(1, 4, time.Now(), "a")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteSpans(context.Background(), mkSpans(2, 1, time.Now(), "a")); err == nil {
		t.Error("write after Close succeeded")
	}
	if _, err := s.GetTrace(context.Background(), model.TraceIDFromUint64s(1, 1)); err == nil {
		t.Error("read after Close succeeded")
	}
	s = openT(t, o)
	defer s.Close()
	if len(s.blocks) != 1 {
		t.Errorf("%d blocks after Close, want 1", len(s.blocks))
	}
	if n := spansOf(t, s, 1); n != 4 {
		t.Errorf("%d spans, want 4", n)
	}
}

func TestHeadLimitRefusesWithErrFull(t *testing.T) {
	o := testOptions(t.TempDir())
	o.MaxHeadBytes = 4000
	o.FlushBytes = 1 << 30
	s := openT(t, o)
	defer s.Close()
	var err error
	for i := uint64(1); i < 100 && err == nil; i++ {
		err = s.WriteSpans(context.Background(), mkSpans(i, 3, time.Now(), "a"))
	}
	if err == nil || !errorsIs(err, store.ErrFull) {
		t.Fatalf("want ErrFull once the head is full, got %v", err)
	}
}

func TestCorruptWALTailIsReportedAndRestKept(t *testing.T) {
	o := testOptions(t.TempDir())
	s := openT(t, o)
	for i := uint64(1); i <= 3; i++ {
		if err := s.WriteSpans(context.Background(), mkSpans(i, 2, time.Now(), "a")); err != nil {
			t.Fatal(err)
		}
	}
	s.simulateCrash()
	walDir := filepath.Join(o.Dir, "wal")
	segs, _ := wal.Segments(walDir)
	p := wal.SegmentPath(walDir, segs[len(segs)-1])
	fi, _ := os.Stat(p)
	os.Truncate(p, fi.Size()-7) // tear the last record
	s = openT(t, o)
	defer s.Close()
	if spansOf(t, s, 1) != 2 || spansOf(t, s, 2) != 2 || spansOf(t, s, 3) != 0 {
		t.Errorf("after a torn tail: traces hold %d %d %d spans, want 2 2 0", spansOf(t, s, 1), spansOf(t, s, 2), spansOf(t, s, 3))
	}
}

func TestCorruptBlockIsSkippedAndRestServed(t *testing.T) {
	o := testOptions(t.TempDir())
	s := openT(t, o)
	ctx := context.Background()
	s.WriteSpans(ctx, mkSpans(1, 2, time.Now(), "a"))
	s.Flush(ctx)
	bad := s.blocks[0].meta.ID
	s.WriteSpans(ctx, mkSpans(2, 2, time.Now(), "b"))
	s.Close()
	p := filepath.Join(o.Dir, "blocks", bad, block.DataName)
	data, _ := os.ReadFile(p)
	data[len(data)-10] ^= 0xff // the footer
	os.WriteFile(p, data, 0o644)
	s = openT(t, o)
	defer s.Close()
	if spansOf(t, s, 2) != 2 {
		t.Error("good block not served")
	}
	svcs, _ := s.GetServices(ctx)
	if len(svcs) != 1 || svcs[0] != "b" {
		t.Errorf("services %v", svcs)
	}
}

func TestRetentionByAgeWithClock(t *testing.T) {
	o := testOptions(t.TempDir())
	now := time.Now()
	clock := now
	o.Now = func() time.Time { return clock }
	o.Retention = time.Hour
	s := openT(t, o)
	defer s.Close()
	ctx := context.Background()
	s.WriteSpans(ctx, mkSpans(1, 2, now.Add(-2*time.Hour), "old"))
	s.Flush(ctx)
	s.WriteSpans(ctx, mkSpans(2, 2, now.Add(-10*time.Minute), "new"))
	s.Flush(ctx)
	blocksDir := filepath.Join(o.Dir, "blocks")
	if err := s.ApplyRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if spansOf(t, s, 1) != 0 || spansOf(t, s, 2) != 2 {
		t.Errorf("after retention: old %d new %d spans", spansOf(t, s, 1), spansOf(t, s, 2))
	}
	ents, _ := os.ReadDir(blocksDir)
	if len(ents) != 1 {
		t.Errorf("%d block dirs on disk, want 1 (space must come back)", len(ents))
	}
	clock = now.Add(2 * time.Hour)
	s.ApplyRetention(ctx)
	if spansOf(t, s, 2) != 0 {
		t.Error("block kept past retention")
	}
}

func TestRetentionByDiskBudget(t *testing.T) {
	o := testOptions(t.TempDir())
	s := openT(t, o)
	ctx := context.Background()
	now := time.Now()
	for i := uint64(1); i <= 4; i++ {
		s.WriteSpans(ctx, mkSpans(i, 50, now.Add(time.Duration(i)*time.Minute), "a"))
		s.Flush(ctx)
	}
	one := s.blocks[0].meta.Size()
	s.Close()
	o.DiskBudget = 2*one + one/2 + 100
	s = openT(t, o)
	defer s.Close()
	if err := s.ApplyRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if spansOf(t, s, 1) != 0 || spansOf(t, s, 2) != 0 || spansOf(t, s, 4) != 50 {
		t.Errorf("disk budget: traces hold %d %d %d %d spans", spansOf(t, s, 1), spansOf(t, s, 2), spansOf(t, s, 3), spansOf(t, s, 4))
	}
}

func TestCompactionMergesFragmentsAndSurvivesCrash(t *testing.T) {
	o := testOptions(t.TempDir())
	o.CompactionMinBlocks = 3
	s := openT(t, o)
	ctx := context.Background()
	now := time.Now().Add(-time.Minute)
	// Trace 7 arrives in three fragments, each flushed to its own block.
	for i := 0; i < 3; i++ {
		sp := mkSpans(7, 1, now.Add(time.Duration(i)*time.Second), "a")
		sp[0].SpanID = model.SpanIDFromUint64(uint64(100 + i))
		s.WriteSpans(ctx, sp)
		s.WriteSpans(ctx, mkSpans(uint64(10+i), 4, now, "b"))
		s.Flush(ctx)
	}
	did, err := s.Compact(ctx)
	if err != nil || !did {
		t.Fatalf("Compact: %v %v", did, err)
	}
	if len(s.blocks) != 1 || s.blocks[0].meta.Level != 1 || s.blocks[0].meta.Traces != 4 {
		t.Fatalf("after compaction: %d blocks, meta %+v", len(s.blocks), s.blocks[0].meta)
	}
	if n := spansOf(t, s, 7); n != 3 {
		t.Errorf("merged trace has %d spans, want 3", n)
	}
	ents, _ := os.ReadDir(filepath.Join(o.Dir, "blocks"))
	if len(ents) != 1 {
		t.Errorf("%d block dirs left", len(ents))
	}
	s.Close()

	// Compact again on top of the level-1 block, then reopen.
	s = openT(t, o)
	for i := 0; i < 2; i++ {
		s.WriteSpans(ctx, mkSpans(uint64(20+i), 2, now, "c"))
		s.Flush(ctx)
	}
	o2 := o
	o2.CompactionMinBlocks = 2
	s.opts.CompactionMinBlocks = 2
	s.opts.CompactionMaxSpans = 1 << 40
	if _, err := s.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openT(t, o2)
	defer s.Close()
	for _, tr := range []uint64{7, 10, 20, 21} {
		if spansOf(t, s, tr) == 0 {
			t.Errorf("trace %d lost", tr)
		}
	}
}

func slices2IDs(bs []*blockRef) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.meta.ID)
	}
	return out
}

func TestReplacedSourcesDroppedAtStart(t *testing.T) {
	o := testOptions(t.TempDir())
	s := openT(t, o)
	ctx := context.Background()
	now := time.Now()
	for i := uint64(1); i <= 2; i++ {
		s.WriteSpans(ctx, mkSpans(i, 3, now, "a"))
		s.Flush(ctx)
	}
	a, b := s.blocks[0], s.blocks[1]
	// Build the merged block as compaction would, but "crash" before the
	// sources are deleted.
	var spans []*model.Span
	for _, ref := range []*blockRef{a, b} {
		it := ref.r.Iter()
		for sp := it.Next(); sp != nil; sp = it.Next() {
			spans = append(spans, sp)
		}
	}
	if _, err := block.Write(ctx, s.be, s.tmpDir, block.Meta{Level: 1, Sources: []string{a.meta.ID, b.meta.ID}}, block.WriterOptions{}, spans, now); err != nil {
		t.Fatal(err)
	}
	s.simulateCrash()
	s = openT(t, o)
	defer s.Close()
	if len(s.blocks) != 1 || s.blocks[0].meta.Level != 1 {
		t.Fatalf("want only the merged block, got %v", slices2IDs(s.blocks))
	}
	if spansOf(t, s, 1) != 3 || spansOf(t, s, 2) != 3 {
		t.Error("spans lost")
	}
}

func TestBackgroundFlushByInterval(t *testing.T) {
	o := testOptions(t.TempDir())
	o.FlushInterval = 50 * time.Millisecond
	s := openT(t, o)
	defer s.Close()
	s.WriteSpans(context.Background(), mkSpans(1, 2, time.Now(), "a"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.RLock()
		n := len(s.blocks)
		s.mu.RUnlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("head not flushed by interval")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func BenchmarkWriteSpans(b *testing.B) {
	o := testOptions(b.TempDir())
	o.NoSync = false
	o.FlushInterval = time.Minute
	s := openT(b, o)
	defer s.Close()
	b.ReportAllocs()
	var i uint64
	var mu sync.Mutex
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			i++
			n := i
			mu.Unlock()
			batch := make([]*model.Span, 0, 500)
			for t := uint64(0); t < 50; t++ {
				batch = append(batch, mkSpans(n*50+t, 10, time.Now(), fmt.Sprintf("svc-%d", t%5))...)
			}
			if err := s.WriteSpans(context.Background(), batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*500), "ns/span")
}

func TestScanTracesWholeAndOnce(t *testing.T) {
	o := testOptions(t.TempDir())
	s := openT(t, o)
	defer s.Close()
	ctx := context.Background()
	now := time.Now().Add(-time.Minute)
	// Traces 1..40 in four blocks; trace 7 also has a fragment of service
	// "late" in a later block and one in the head.
	for blk := 0; blk < 4; blk++ {
		for tr := uint64(blk*10 + 1); tr <= uint64(blk*10+10); tr++ {
			s.WriteSpans(ctx, mkSpans(tr, 3, now, fmt.Sprintf("svc-%d", tr%2)))
		}
		if blk == 2 {
			late := mkSpans(7, 1, now.Add(time.Second), "late")
			late[0].SpanID = model.SpanIDFromUint64(999)
			s.WriteSpans(ctx, late)
		}
		s.Flush(ctx)
	}
	head := mkSpans(7, 1, now.Add(2*time.Second), "late")
	head[0].SpanID = model.SpanIDFromUint64(998)
	s.WriteSpans(ctx, head)
	s.WriteSpans(ctx, mkSpans(50, 2, now, "svc-0"))

	scan := func(req store.ScanRequest) map[model.TraceID]int {
		got := map[model.TraceID]int{}
		err := s.ScanTraces(ctx, req, func(tr *model.Trace) bool {
			if _, dup := got[tr.TraceID]; dup {
				t.Errorf("trace %v passed twice", tr.TraceID)
			}
			got[tr.TraceID] = len(tr.Spans)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	all := scan(store.ScanRequest{})
	if len(all) != 41 {
		t.Errorf("scan of everything: %d traces, want 41", len(all))
	}
	if n := all[model.TraceIDFromUint64s(1, 7)]; n != 5 {
		t.Errorf("trace 7 has %d spans, want 5 (3 + two late fragments)", n)
	}
	late := scan(store.ScanRequest{Service: "late"})
	if len(late) != 1 || late[model.TraceIDFromUint64s(1, 7)] != 5 {
		t.Errorf("scan for service late: %v", late)
	}
	svc0 := scan(store.ScanRequest{Service: "svc-0"})
	if len(svc0) != 21 {
		t.Errorf("scan for svc-0: %d traces, want 21", len(svc0))
	}
	// fn returning false stops the scan.
	n := 0
	s.ScanTraces(ctx, store.ScanRequest{}, func(*model.Trace) bool { n++; return n < 3 })
	if n != 3 {
		t.Errorf("scan went on after fn returned false: %d calls", n)
	}
	none := scan(store.ScanRequest{StartMin: now.Add(time.Hour)})
	if len(none) != 0 {
		t.Errorf("time range after every span: %d traces", len(none))
	}
}
