package block

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clew-dev/clew/internal/model"
)

// traceRanges returns every trace of a block with its rows, from the index.
func traceRanges(t *testing.T, be *Dir, m Meta) []IndexEntry {
	t.Helper()
	ib, err := be.Read(context.Background(), m.ID, IndexName)
	if err != nil {
		t.Fatal(err)
	}
	n, err := checkIndex(ib)
	if err != nil {
		t.Fatal(err)
	}
	return indexEntries(ib, n, m.Spans)
}

// TestReadTraceSkipsTraceID checks that a lookup's read (readTrace) of
// every trace of blocks of several page and row group sizes knows the
// trace_id column from its page bounds, so does not read it, and gives the
// same rows as reading every column. (Traces cut across row groups are
// looked up in TestPQWriterBoundsDictionaries.)
func TestReadTraceSkipsTraceID(t *testing.T) {
	for _, o := range []WriterOptions{{}, {PageBufferSize: 1024}, {RowGroupRows: 100, PageBufferSize: 2048}} {
		spans := genSpansLoad(t, 300)
		spans = append(spans, richSpans(50, 3)...)
		be, m := writeBlock(t, spans, o)
		rd, err := Open(context.Background(), be, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		src, err := rd.rowSource()
		if err != nil {
			t.Fatal(err)
		}
		for g := range src.groups {
			if src.groups[g].chunks[traceIDLeaf].idBounds == nil {
				t.Fatalf("%+v: row group %d has no trace id bounds", o, g)
			}
		}
		for _, e := range traceRanges(t, be, m) {
			lo, hi := int64(e.FirstRow), int64(e.FirstRow)+int64(e.Rows)
			var start int64
			for g := range src.groups {
				end := start + src.groups[g].rows
				if lo < end && hi > start {
					known, err := src.checkTraceBounds(g, max(lo, start)-start, min(hi, end)-start, &e.TraceID)
					if err != nil || !known {
						t.Fatalf("%+v: trace %v rows [%d, %d), row group %d: known %v, %v", o, e.TraceID, lo, hi, g, known, err)
					}
				}
				start = end
			}
			want := make([]Row, e.Rows)
			if err := src.readRange(lo, want, nil); err != nil {
				t.Fatal(err)
			}
			got := make([]Row, e.Rows)
			if err := src.readTrace(lo, got, e.TraceID); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmp.AllowUnexported(Row{})); diff != "" {
				t.Fatalf("%+v: trace %v: readTrace differs from readRange (-want +got):\n%s", o, e.TraceID, diff)
			}
		}
		rd.Close()
	}
}

// TestReadTraceWithoutBounds: a block whose trace_id chunks have no
// bounds (blocks of other writers may lack them) is read with its
// trace_id column, and the rows still checked against the id.
func TestReadTraceWithoutBounds(t *testing.T) {
	spans := genSpansLoad(t, 50)
	be, m := writeBlock(t, spans, WriterOptions{})
	rd := openBlock(t, be, m)
	src, err := rd.rowSource()
	if err != nil {
		t.Fatal(err)
	}
	for g := range src.groups {
		src.groups[g].chunks[traceIDLeaf].idBounds = nil
	}
	entries := traceRanges(t, be, m)
	e := entries[len(entries)/2]
	known, err := src.checkTraceBounds(0, int64(e.FirstRow), int64(e.FirstRow+e.Rows), &e.TraceID)
	if known || err != nil {
		t.Fatalf("without bounds: known %v, %v", known, err)
	}
	got, err := rd.FindTrace(context.Background(), e.TraceID)
	if err != nil || len(got) != int(e.Rows) {
		t.Fatalf("FindTrace: %d spans, %v; want %d", len(got), err, e.Rows)
	}
	// Read with its trace_id column, a wrong id is caught.
	rows := make([]Row, e.Rows)
	other := entries[0].TraceID
	if err := src.readTrace(int64(e.FirstRow), rows, other); err != nil {
		t.Fatal(err)
	}
	if model.TraceID(rows[0].TraceID) != e.TraceID {
		t.Errorf("without bounds, readTrace set the id asked for instead of reading it")
	}
}

// rewriteIndex rewrites the first rows of block m's index with fn (and
// fixes its checksum).
func rewriteIndex(t *testing.T, be *Dir, m Meta, fn func(i int, first uint32) uint32) {
	t.Helper()
	p, err := be.path(m.ID, IndexName)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	n, err := checkIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		f := b[len(indexMagic)+i*IndexEntrySize+16:][:4]
		binary.LittleEndian.PutUint32(f, fn(i, binary.LittleEndian.Uint32(f)))
	}
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFindTraceWrongIndex gives FindTrace indexes (with valid checksums)
// that point at other rows than the trace's: one row late, one row early,
// and the rows of another trace. Every lookup must report damage and none
// return spans: with the trace_id column no longer read, the page bounds
// and the parent offsets are what catch it.
func TestFindTraceWrongIndex(t *testing.T) {
	spans := genSpansLoad(t, 2000)
	for _, tc := range []struct {
		name string
		fn   func(i int, first uint32) uint32
	}{
		{"late", func(i int, f uint32) uint32 {
			if i == 0 {
				return f
			}
			return f + 1
		}},
		{"early", func(i int, f uint32) uint32 { return max(f, 1) - 1 }},
		{"other trace", func(i int, f uint32) uint32 {
			// Each entry points at the rows of the entry 300 traces
			// (about 3,000 rows, more than a trace_id page) away.
			return uint32((int(f) + 3000) % 20000 / 10 * 10)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be, m := writeBlock(t, slices.Clone(spans), WriterOptions{})
			entries := traceRanges(t, be, m)
			for _, e := range entries {
				if e.Rows != 10 {
					t.Fatalf("trace of %d rows: the test wants traces of 10", e.Rows)
				}
			}
			rewriteIndex(t, be, m, tc.fn)
			rd := openBlock(t, be, m)
			for _, e := range entries[1 : len(entries)-1] {
				got, err := rd.FindTrace(context.Background(), e.TraceID)
				if !errors.Is(err, ErrCorrupt) || got != nil {
					t.Fatalf("trace %v: %d spans, %v; want ErrCorrupt", e.TraceID, len(got), err)
				}
			}
		})
	}
}

// TestMappedLookups: on a local directory the data file is mapped, and
// lookups read their pages from the mapping; after Close they fail
// (they neither crash nor read a released mapping), and a data file cut
// short under the mapping gives damage errors, not a crash.
func TestMappedLookups(t *testing.T) {
	spans := genSpansLoad(t, 2000)
	be, m := writeBlock(t, spans, WriterOptions{})
	entries := traceRanges(t, be, m)
	rd, err := Open(context.Background(), be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	src, err := rd.rowSource()
	if err != nil {
		t.Fatal(err)
	}
	if src.mapped == nil {
		t.Skip("no mapping on this platform")
	}
	for _, e := range entries[:50] {
		got, err := rd.FindTrace(context.Background(), e.TraceID)
		if err != nil || len(got) != int(e.Rows) {
			t.Fatalf("trace %v: %d spans, %v", e.TraceID, len(got), err)
		}
	}
	if err := rd.Close(); err != nil {
		t.Fatal(err)
	}
	if src.mapped != nil {
		t.Fatal("mapping kept after Close")
	}
	if got, err := rd.FindTrace(context.Background(), entries[0].TraceID); err == nil {
		t.Fatalf("after Close: %d spans, no error", len(got))
	}

	// Cut the data file to a tenth under an open reader's mapping: the
	// traces whose pages are gone fault, which must be reported.
	rd, err = Open(context.Background(), be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	rd.Prepare()
	p, err := be.path(m.ID, DataName)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, m.DataSize/10); err != nil {
		t.Fatal(err)
	}
	var failed int
	for _, e := range entries {
		if _, err := rd.FindTrace(context.Background(), e.TraceID); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("trace %v: %v, want ErrCorrupt", e.TraceID, err)
			}
			failed++
		}
	}
	if failed < len(entries)/2 {
		t.Errorf("%d of %d lookups failed on a file cut to a tenth", failed, len(entries))
	}
}

// TestPageCache checks the page cache's bound and recency order.
func TestPageCache(t *testing.T) {
	c := newPageCache(10 * (1000 + pageEntryBytes))
	for i := 0; i < 30; i++ {
		c.put(pageKey{page: i}, make([]byte, 1000))
		if i%3 == 0 && c.get(pageKey{page: 0}) == nil {
			t.Fatalf("page 0, used every third put, evicted at put %d", i)
		}
	}
	if c.size > c.max || len(c.m) != 10 || c.lru.Len() != 10 {
		t.Errorf("size %d of %d, %d entries", c.size, c.max, len(c.m))
	}
	if c.get(pageKey{page: 1}) != nil || c.get(pageKey{page: 29}) == nil {
		t.Error("least recently used kept, or most recent dropped")
	}
	c.put(pageKey{page: 99}, make([]byte, c.max))
	if c.get(pageKey{page: 99}) != nil {
		t.Error("a page past an eighth of the cache was kept")
	}
}

// TestLookupsPageCache reads every trace of a block three ways: with the
// page cache off, then with it (filling it), then again (from it). The
// rows must be the same, and the last pass must find its pages there.
// The passes after the first also use the page headers the first kept.
func TestLookupsPageCache(t *testing.T) {
	spans := genSpansLoad(t, 1500)
	be, m := writeBlock(t, spans, WriterOptions{})
	rd := openBlock(t, be, m)
	src, err := rd.rowSource()
	if err != nil {
		t.Fatal(err)
	}
	entries := traceRanges(t, be, m)
	read := func() [][]Row {
		var out [][]Row
		for _, e := range entries {
			rows := make([]Row, e.Rows)
			if err := src.readTrace(int64(e.FirstRow), rows, e.TraceID); err != nil {
				t.Fatal(err)
			}
			out = append(out, rows)
		}
		return out
	}
	saved := pageVals
	defer func() { pageVals = saved }()
	pageVals = newPageCache(0)
	want := read()
	pageVals = newPageCache(PageCacheBytes)
	first := read()
	if pageVals.size == 0 {
		t.Fatal("nothing cached")
	}
	hits := pageVals.hits.Load()
	var headers int
	for g := range src.groups {
		for c := range src.groups[g].chunks {
			for i := range src.groups[g].chunks[c].headers {
				if src.groups[g].chunks[c].headers[i].Load() != nil {
					headers++
				}
			}
		}
	}
	if headers == 0 {
		t.Error("no page header kept by the lookups")
	}
	again := read()
	if pageVals.hits.Load()-hits < int64(len(entries)) {
		t.Errorf("%d cache hits over %d lookups", pageVals.hits.Load()-hits, len(entries))
	}
	for i := range want {
		for _, got := range [][]Row{first[i], again[i]} {
			if !reflect.DeepEqual(want[i], got) {
				t.Fatalf("trace %v with the cache (-without +with):\n%s", entries[i].TraceID, cmp.Diff(want[i], got, cmp.AllowUnexported(Row{})))
			}
		}
	}
}

// TestCloseDuringLookups closes a reader while lookups run on it: each
// lookup either gives the trace whole or fails; none crashes or reads a
// released mapping (run with -race).
func TestCloseDuringLookups(t *testing.T) {
	spans := genSpansLoad(t, 500)
	be, m := writeBlock(t, spans, WriterOptions{})
	entries := traceRanges(t, be, m)
	for round := 0; round < 5; round++ {
		rd, err := Open(context.Background(), be, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		rd.Prepare()
		errs := make(chan error, 4)
		for w := 0; w < 4; w++ {
			go func(w int) {
				for i := w; i < len(entries); i += 4 {
					e := entries[i]
					got, err := rd.FindTrace(context.Background(), e.TraceID)
					if err == nil && len(got) != int(e.Rows) {
						errs <- fmt.Errorf("trace %v: %d spans, want %d", e.TraceID, len(got), e.Rows)
						return
					}
				}
				errs <- nil
			}(w)
		}
		rd.Close()
		for w := 0; w < 4; w++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
}
