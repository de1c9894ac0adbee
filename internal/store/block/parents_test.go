package block

import (
	"context"
	"errors"
	"math/rand"
	"testing"

	"github.com/clew-dev/clew/internal/model"
)

// TestParentOffsets writes traces whose parents are earlier rows (near,
// far, past the rows an offset may reach), later rows, the span itself,
// a duplicated span id, and spans of no trace in the block, and checks
// that every way of reading gives each span its parent back, and that
// offsets replaced the ids where they could.
func TestParentOffsets(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var spans []*model.Span
	trace := func(tid model.TraceID, n int, base uint64) {
		first := len(spans)
		for i := 0; i < n; i++ {
			sp := &model.Span{TraceID: tid, SpanID: model.SpanIDFromUint64(rng.Uint64() | 1), Name: "op",
				StartTimeUnixNano: base + uint64(i), EndTimeUnixNano: base + uint64(i) + 10}
			switch r := rng.Intn(10); {
			case i == 0:
			case r < 5: // an earlier row, often near
				sp.ParentSpanID = spans[first+max(0, i-1-rng.Intn(min(i, 20)))].SpanID
			case r < 7: // any earlier row, possibly past maxParentRows
				sp.ParentSpanID = spans[first+rng.Intn(i)].SpanID
			case r == 7: // outside the block
				sp.ParentSpanID = model.SpanIDFromUint64(rng.Uint64() | 1)
			case r == 8: // itself
				sp.ParentSpanID = sp.SpanID
			default: // a duplicated span id: the parent is either row
				sp.SpanID = spans[first+rng.Intn(i)].SpanID
				sp.ParentSpanID = spans[first+rng.Intn(i)].SpanID
			}
			spans = append(spans, sp)
		}
		// A few parents that start after their child.
		for k := 0; k < n/10; k++ {
			i := first + rng.Intn(n-1)
			spans[i].ParentSpanID = spans[i+1+rng.Intn(first+n-i-1)].SpanID
		}
	}
	trace(model.TraceIDFromUint64s(1, 1), maxParentRows+3000, 1e18)
	for i := 0; i < 50; i++ {
		trace(model.TraceIDFromUint64s(2, uint64(i)), 1+rng.Intn(200), 1e18)
	}
	want := map[model.TraceID]map[int]model.SpanID{} // by trace, then position
	for _, sp := range spans {
		m := want[sp.TraceID]
		if m == nil {
			m = map[int]model.SpanID{}
			want[sp.TraceID] = m
		}
		m[len(m)] = sp.ParentSpanID
	}
	be, m := writeBlock(t, spans, WriterOptions{RowGroupRows: 500, PageBufferSize: 2048})
	rd, err := Open(context.Background(), be, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	check := func(what string, tid model.TraceID, pos int, parent model.SpanID) {
		t.Helper()
		if w := want[tid][pos]; parent != w {
			t.Fatalf("%s: trace %v row %d: parent %v, want %v", what, tid, pos, parent, w)
		}
	}
	for tid := range want {
		got, err := rd.FindTrace(context.Background(), tid)
		if err != nil || len(got) != len(want[tid]) {
			t.Fatalf("FindTrace %v: %d spans, %v", tid, len(got), err)
		}
		for i, sp := range got {
			check("FindTrace", tid, i, sp.ParentSpanID)
		}
	}
	var pos, offsets, far int
	var cur model.TraceID
	err = rd.ScanRows(context.Background(), func(r *Row) bool {
		if r.TraceID != cur {
			cur, pos = r.TraceID, 0
		}
		check("ScanRows", r.TraceID, pos, r.ParentSpanID)
		if r.ParentOffset != 0 {
			offsets++
			if pos-int(r.ParentOffset) >= maxParentRows-1000 {
				far++
			}
		} else if r.ParentSpanID != want[r.TraceID][pos] {
			t.Fatalf("row %d: no offset and parent %v", pos, r.ParentSpanID)
		}
		pos++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if offsets < len(spans)/2 || far == 0 {
		t.Errorf("%d of %d parents given as offsets (%d near the limit)", offsets, len(spans), far)
	}
	it := rd.Iter()
	pos, cur = 0, model.TraceID{}
	for sp := it.Next(); sp != nil; sp = it.Next() {
		if sp.TraceID != cur {
			cur, pos = sp.TraceID, 0
		}
		check("Iter", sp.TraceID, pos, sp.ParentSpanID)
		pos++
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
	it.Close()
	if err := rd.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestParentResolverDamage checks that offsets out of the trace are
// ErrCorrupt, for lookups (resolveParents) and scans (parentResolver).
func TestParentResolverDamage(t *testing.T) {
	rowsOf := func(offsets []int32) []Row {
		rows := make([]Row, len(offsets))
		for i, o := range offsets {
			rows[i] = Row{TraceID: [16]byte{1}, SpanID: [8]byte{byte(i + 1)}, ParentOffset: o}
		}
		return rows
	}
	resolvers := map[string]func([]Row) error{
		"lookup": func(rows []Row) error { return resolveParents(rows, nil) },
		"scan": func(rows []Row) error {
			p := newParentResolver(nil)
			for i := range rows { // one row per batch
				if err := p.resolve(rows[i : i+1]); err != nil {
					return err
				}
			}
			return nil
		},
	}
	for name, resolve := range resolvers {
		for _, bad := range [][]int32{{1}, {0, 2}, {0, -1}, {0, 1, 3}, {0, 1 << 30}} {
			if err := resolve(rowsOf(bad)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: offsets %v: %v, want ErrCorrupt", name, bad, err)
			}
		}
		rows := rowsOf([]int32{0, 1, 2, 1})
		rows[3].TraceID = [16]byte{2} // a new trace: its offset points before it
		if err := resolve(rows); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: offset into the previous trace: %v, want ErrCorrupt", name, err)
		}
		rows = rowsOf([]int32{0, 1, 2, 1})
		if err := resolve(rows); err != nil {
			t.Errorf("%s: valid offsets: %v", name, err)
		}
		if want := [...][8]byte{{}, {1}, {1}, {3}}; rows[0].ParentSpanID != want[0] || rows[1].ParentSpanID != want[1] ||
			rows[2].ParentSpanID != want[2] || rows[3].ParentSpanID != want[3] {
			t.Errorf("%s: parents %v, want %v", name, []model.SpanID{rows[0].ParentSpanID, rows[1].ParentSpanID, rows[2].ParentSpanID, rows[3].ParentSpanID}, want)
		}
	}
}
