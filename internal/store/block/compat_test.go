package block

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
)

// v1BlockID is the block in testdata/v1: a block of format version 1,
// written by the writer of commit b105ba1 (before version 2) from
// compatSpans with WriterOptions{RowGroupRows: 100, PageBufferSize: 4096}.
const v1BlockID = "17a4c6b8f9e1d0000123456789abcdef"

// compatSpans returns the spans of the compatibility blocks: every kind
// of value, resource and scope (richSpans, whose parents are outside the
// trace) and traces of the benchmark load (whose parents are in it). The
// spans must never change: testdata/v1 holds them.
func compatSpans(tb testing.TB) []*model.Span {
	spans := richSpans(12, 7)
	g, err := gen.New(gen.DefaultOptions())
	if err != nil {
		tb.Fatal(err)
	}
	return append(spans, g.Batches(12, 0, time.Unix(1_700_000_000, 0), time.Millisecond)[0]...)
}

// TestReadV1Block reads the version 1 block of testdata/v1 every way a
// block is read (by trace id, by ordinal, Iter, ScanRows, Verify) and
// checks that it gives the spans it was written from, as a block of the
// current version written from the same spans does.
func TestReadV1Block(t *testing.T) {
	v1, err := NewDir(filepath.Join("testdata", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	want := compatSpans(t)
	slices.SortFunc(want, CompareSpans)
	cur, m := writeBlock(t, compatSpans(t), WriterOptions{RowGroupRows: 100, PageBufferSize: 4096})
	byKey := cmpopts.SortSlices(func(a, b model.KeyValue) bool {
		return a.Key < b.Key || (a.Key == b.Key && a.Value.AsString() < b.Value.AsString())
	})
	same := func(t *testing.T, what string, want, got []*model.Span) {
		t.Helper()
		if diff := cmp.Diff(want, got, valueCmp, byKey, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("%s (-want +got):\n%s", what, diff)
		}
	}
	for _, c := range []struct {
		name    string
		be      Backend
		id      string
		version int
	}{{"v1", v1, v1BlockID, 1}, {"current", cur, m.ID, FormatVersion}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			rd, err := Open(ctx, c.be, c.id)
			if err != nil {
				t.Fatal(err)
			}
			defer rd.Close()
			if v := rd.Meta().Version; v != c.version {
				t.Fatalf("version %d, want %d", v, c.version)
			}
			ord := 0
			for lo := 0; lo < len(want); ord++ {
				hi := lo
				for hi < len(want) && want[hi].TraceID == want[lo].TraceID {
					hi++
				}
				got, err := rd.FindTrace(ctx, want[lo].TraceID)
				if err != nil {
					t.Fatal(err)
				}
				same(t, fmt.Sprintf("FindTrace %v", want[lo].TraceID), want[lo:hi], got)
				id, got, err := rd.TraceAt(ctx, ord)
				if err != nil || id != want[lo].TraceID {
					t.Fatalf("TraceAt %d: %v, %v", ord, id, err)
				}
				same(t, fmt.Sprintf("TraceAt %d", ord), want[lo:hi], got)
				lo = hi
			}
			var all []*model.Span
			it := rd.Iter()
			for sp := it.Next(); sp != nil; sp = it.Next() {
				all = append(all, sp)
			}
			if err := it.Err(); err != nil {
				t.Fatal(err)
			}
			it.Close()
			same(t, "Iter", want, all)
			all = all[:0]
			var sb SpanBuilder
			if err := rd.ScanRows(ctx, func(r *Row) bool { all = append(all, sb.Span(r)); return true }); err != nil {
				t.Fatal(err)
			}
			same(t, "ScanRows", want, all)
			if err := rd.Verify(ctx); err != nil {
				t.Fatal(err)
			}
			// parquet-go's reader (the fallback) reads the same rows.
			src, err := rd.rowSource()
			if err != nil {
				t.Fatal(err)
			}
			ours, theirs := make([]Row, rd.Meta().Spans), make([]Row, rd.Meta().Spans)
			if err := src.readRange(0, ours, nil); err != nil {
				t.Fatal(err)
			}
			if err := rd.readRowsGeneric(0, theirs); err != nil {
				t.Fatal(err)
			}
			for i := range ours {
				normalizeRow(&ours[i])
				normalizeRow(&theirs[i])
				if !reflect.DeepEqual(ours[i], theirs[i]) {
					t.Fatalf("row %d: row reader %+v, parquet-go %+v", i, ours[i], theirs[i])
				}
			}
		})
	}
}
