package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/block"
	"github.com/clew-dev/clew/internal/store/memstore"
)

// searchLoad writes the benchmark load into a local store (flushed in
// several blocks, the last traces left in the head, some traces split
// between two blocks and between a block and the head) and into a memory
// store, the reference.
func searchLoad(t *testing.T, dir string) (*Store, *memstore.Store) {
	t.Helper()
	o := gen.DefaultOptions()
	o.ErrorRatio = 0.05
	g, err := gen.New(o)
	if err != nil {
		t.Fatal(err)
	}
	o2 := testOptions(dir)
	// One compaction window for all: the load covers 25 minutes ending
	// now, which may straddle an hour boundary (compaction groups blocks by
	// hour), and the tests compact it whatever the time of day.
	o2.CompactionWindow = 1 << 62
	s := openT(t, o2)
	t.Cleanup(func() { s.Close() })
	mem := memstore.New(memstore.Options{})
	ctx := context.Background()
	start := time.Now().Add(-30 * time.Minute)
	var held []*model.Span // second halves of some traces, written later
	for i := 0; i < 3000; i++ {
		spans := g.Trace(start.Add(time.Duration(i) * 500 * time.Millisecond))
		if err := mem.WriteSpans(ctx, spans); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			held = append(held, spans[5:]...)
			spans = spans[:5]
		}
		if err := s.WriteSpans(ctx, spans); err != nil {
			t.Fatal(err)
		}
		if i%600 == 599 {
			if len(held) > 0 && i < 2999 {
				if err := s.WriteSpans(ctx, held); err != nil {
					t.Fatal(err)
				}
				held = nil
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.WriteSpans(ctx, held); err != nil {
		t.Fatal(err)
	}
	return s, mem
}

func searchQueries(now time.Time) []store.TraceQuery {
	return []store.TraceQuery{
		{Service: "frontend", Limit: 20},
		{Service: "frontend", Limit: 500},
		{Service: "cart", Operation: "GET /api/items", Limit: 20},
		{Service: "frontend", Tags: map[string]string{"http.response.status_code": "503"}, Limit: 20},
		{Service: "frontend", Tags: map[string]string{"http.response.status_code": "503"}, Limit: 1000},
		{Service: "cart", Tags: map[string]string{"error": "true"}, Limit: 15},
		{Service: "frontend", Tags: map[string]string{"app.attr.1": "value-7"}, Limit: 10}, // a dropped key
		{Service: "frontend", Tags: map[string]string{"user.id": "value-3", "http.request.method": "GET"}, Limit: 5},
		{Service: "frontend", Tags: map[string]string{"user.id": "value-999"}, Limit: 20}, // rare, dropped key: blocks switch to a scan
		{Service: "frontend", DurationMin: 400 * time.Millisecond, Limit: 20},
		{Service: "frontend", DurationMin: 10 * time.Millisecond, DurationMax: 20 * time.Millisecond, Limit: 20},
		{Service: "frontend", StartMin: now.Add(-20 * time.Minute), StartMax: now.Add(-10 * time.Minute), Limit: 20},
		{Service: "frontend", Tags: map[string]string{"span.kind": "client"}, StartMin: now.Add(-25 * time.Minute), Limit: 30},
		{Service: "nosuch", Limit: 20},
		{Tags: map[string]string{"otel.status_code": "ERROR"}, Limit: 20},
		{Limit: 20},
	}
}

func traceIDs(ts []*model.Trace) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.TraceID.String()
	}
	return out
}

// TestFindTracesIndexMatchesReference checks the index-driven search
// against the memory store on the same spans: the same traces, in the same
// order, whole.
func TestFindTracesIndexMatchesReference(t *testing.T) {
	s, mem := searchLoad(t, t.TempDir())
	ctx := context.Background()
	for _, b := range s.blocks {
		if !b.r.HasSearchIndex() {
			t.Fatalf("block %s has no search index", b.meta.ID)
		}
	}
	check := func(t *testing.T) {
		for _, q := range searchQueries(time.Now()) {
			want, err := mem.FindTraces(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.FindTraces(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(traceIDs(want), traceIDs(got)); diff != "" {
				t.Errorf("%+v: traces (-memstore +local):\n%s", q, diff)
				continue
			}
			for i := range got {
				if len(got[i].Spans) != len(want[i].Spans) {
					t.Errorf("%+v: trace %s has %d spans, want %d", q, got[i].TraceID, len(got[i].Spans), len(want[i].Spans))
				}
			}
			if len(want) == 0 && q.Service != "nosuch" {
				t.Errorf("%+v: no traces: the query tests nothing", q)
			}
		}
	}
	t.Run("blocks and head", check)
	if did, err := s.Compact(ctx); err != nil || !did {
		t.Fatalf("Compact: %v %v", did, err)
	}
	for _, b := range s.blocks {
		if !b.r.HasSearchIndex() {
			t.Fatalf("compacted block %s has no search index", b.meta.ID)
		}
		if b.meta.Level > 0 {
			if err := b.r.Verify(ctx); err != nil {
				t.Errorf("compacted block %s: Verify: %v", b.meta.ID, err)
			}
		}
	}
	t.Run("compacted", check)
}

// TestFindTracesDamagedSearchIndex checks that a block whose search index
// is damaged or missing is still searched (by its columns) and reported.
func TestFindTracesDamagedSearchIndex(t *testing.T) {
	dir := t.TempDir()
	s, mem := searchLoad(t, dir)
	ctx := context.Background()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ids := slices2IDs(s.blocks)
	s.Close()
	// Flip a byte of the first block's index, remove the second's.
	p := filepath.Join(dir, "blocks", ids[0], block.SearchName)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x10
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "blocks", ids[1], block.SearchName)); err != nil {
		t.Fatal(err)
	}
	s = openT(t, testOptions(dir))
	defer s.Close()
	if len(s.blocks) != len(ids) {
		t.Fatalf("%d blocks open, want %d: a bad search index must not hide a block", len(s.blocks), len(ids))
	}
	for _, q := range searchQueries(time.Now()) {
		want, _ := mem.FindTraces(ctx, q)
		got, err := s.FindTraces(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(traceIDs(want), traceIDs(got)); diff != "" {
			t.Errorf("%+v: traces (-memstore +local):\n%s", q, diff)
		}
	}
	if n := testutil.ToFloat64(s.m.blockErrors); n == 0 {
		t.Error("damaged search indexes not counted as block errors")
	}
	tr, err := s.GetTrace(ctx, mustFirst(t, mem).TraceID)
	if err != nil || len(tr.Spans) == 0 {
		t.Errorf("GetTrace on a block with a damaged index: %v", err)
	}
}

func mustFirst(t *testing.T, mem *memstore.Store) *model.Trace {
	t.Helper()
	ts, err := mem.FindTraces(context.Background(), store.TraceQuery{Limit: 1})
	if err != nil || len(ts) == 0 {
		t.Fatal("no trace", err)
	}
	return ts[0]
}

// TestScanTracesIndexHints checks ScanTraces with hints against a scan
// without: every trace the full scan sees that meets the hints with one
// span is in the hinted scan.
func TestScanTracesIndexHints(t *testing.T) {
	s, _ := searchLoad(t, t.TempDir())
	ctx := context.Background()
	all := map[model.TraceID]*model.Trace{}
	if err := s.ScanTraces(ctx, store.ScanRequest{}, func(tr *model.Trace) bool { all[tr.TraceID] = tr; return true }); err != nil {
		t.Fatal(err)
	}
	for _, req := range []store.ScanRequest{
		{Service: "frontend", Tags: map[string]string{"http.response.status_code": "503"}},
		{Service: "cart", SpanName: "GET /api/items"},
		{Tags: map[string]string{"error": "true"}},
		{Service: "frontend", MinDuration: 300 * time.Millisecond},
		{Service: "frontend", Tags: map[string]string{"app.attr.2": "value-9"}},
	} {
		got := map[model.TraceID]bool{}
		if err := s.ScanTraces(ctx, req, func(tr *model.Trace) bool {
			if got[tr.TraceID] {
				t.Errorf("%+v: trace %s twice", req, tr.TraceID)
			}
			got[tr.TraceID] = true
			if len(tr.Spans) != len(all[tr.TraceID].Spans) {
				t.Errorf("%+v: trace %s not whole", req, tr.TraceID)
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		want := 0
		q := store.TraceQuery{Service: req.Service, Operation: req.SpanName, DurationMin: req.MinDuration, Tags: req.Tags}
		for id, tr := range all {
			for _, sp := range tr.Spans {
				if store.MatchSpan(sp, &q) {
					want++
					if !got[id] {
						t.Errorf("%+v: trace %s missed", req, id)
					}
					break
				}
			}
		}
		if want == 0 {
			t.Errorf("%+v: no trace matches: the case tests nothing", req)
		}
		t.Logf("%+v: %d traces scanned, %d match, %d in all", req, len(got), want, len(all))
	}
}

// TestSearchCacheForgetsRetiredBlocks checks that compaction and Close
// drop the search indexes of the blocks they retire from the shared cache.
func TestSearchCacheForgetsRetiredBlocks(t *testing.T) {
	before := searchCache.Bytes()
	s, _ := searchLoad(t, t.TempDir())
	ctx := context.Background()
	if _, err := s.FindTraces(ctx, store.TraceQuery{Service: "frontend", Limit: 10000}); err != nil {
		t.Fatal(err)
	}
	loaded := searchCache.Bytes()
	if loaded <= before {
		t.Fatalf("cache %d bytes after a search, %d before", loaded, before)
	}
	if did, err := s.Compact(ctx); err != nil || !did {
		t.Fatalf("Compact: %v %v", did, err)
	}
	if got := searchCache.Bytes(); got >= loaded {
		t.Errorf("cache %d bytes after compaction, %d before: replaced blocks kept", got, loaded)
	}
	if _, err := s.FindTraces(ctx, store.TraceQuery{Service: "frontend", Limit: 10000}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got := searchCache.Bytes(); got != before {
		t.Errorf("cache %d bytes after Close, %d before the store", got, before)
	}
}

// TestScanTracesStartFloor checks the StartFloor hint: every trace that
// meets the hints and starts at or after the floor is still handed out,
// and traces of the blocks older than the floor are not read.
func TestScanTracesStartFloor(t *testing.T) {
	s, mem := searchLoad(t, t.TempDir())
	ctx := context.Background()
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	all, err := mem.FindTraces(ctx, store.TraceQuery{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	floor := all[len(all)/5].Start() // the newest fifth is above it
	for _, req := range []store.ScanRequest{
		{Service: "frontend"},
		{Service: "frontend", Tags: map[string]string{"http.response.status_code": "503"}},
	} {
		full := 0
		if err := s.ScanTraces(ctx, req, func(*model.Trace) bool { full++; return true }); err != nil {
			t.Fatal(err)
		}
		req.StartFloor = func() uint64 { return floor }
		got := map[model.TraceID]bool{}
		if err := s.ScanTraces(ctx, req, func(tr *model.Trace) bool { got[tr.TraceID] = true; return true }); err != nil {
			t.Fatal(err)
		}
		q := store.TraceQuery{Service: req.Service, Tags: req.Tags}
		want := 0
		for _, tr := range all {
			if tr.Start() < floor {
				continue
			}
			for _, sp := range tr.Spans {
				if store.MatchSpan(sp, &q) {
					want++
					if !got[tr.TraceID] {
						t.Errorf("%+v: trace %s (start %d >= floor %d) not handed out", req.Tags, tr.TraceID, tr.Start(), floor)
					}
					break
				}
			}
		}
		if want == 0 || len(got) >= full {
			t.Errorf("%+v: %d traces with the floor, %d without, %d to find: the floor prunes nothing", req.Tags, len(got), full, want)
		}
		t.Logf("%+v: %d traces with the floor, %d without, %d match above it", req.Tags, len(got), full, want)
	}
}
