package local

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/clew-dev/clew/internal/model"
)

// TestReadUnits checks how readWhole shares out a batch: a block's
// candidates by ordinal in runs of neighbours (about two per reader), the
// candidates known by id one by one.
func TestReadUnits(t *testing.T) {
	a := &blockRef{}
	a.meta.ID = "a"
	b := &blockRef{}
	b.meta.ID = "b"
	cands := []candRead{
		{from: b, ord: 7}, {id: model.TraceIDFromUint64s(0, 1), known: true}, {from: a, ord: 30}, {from: a, ord: 2},
		{from: a, ord: 11}, {from: b, ord: 1}, {from: a, ord: 5}, {id: model.TraceIDFromUint64s(0, 2), known: true},
	}
	type unit struct {
		block string
		ords  []int
		known int
	}
	var got []unit
	for _, u := range (&Store{}).readUnits(cands, 2) {
		var x unit
		for _, c := range u {
			if c.known {
				x.known++
				continue
			}
			x.block = c.from.meta.ID
			x.ords = append(x.ords, c.ord)
		}
		got = append(got, x)
	}
	// 6 candidates by ordinal for 2 readers: runs of at most 2, never
	// across blocks.
	want := []unit{{"a", []int{2, 5}, 0}, {"a", []int{11, 30}, 0}, {"b", []int{1, 7}, 0}, {"", nil, 1}, {"", nil, 1}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(unit{})); diff != "" {
		t.Errorf("units (-want +got):\n%s", diff)
	}
}

// TestReadByOrdinalDamage checks that a run of candidates holding a bad
// one (an ordinal past the block's index, as a damaged search index could
// give) loses only that one: the run is read again one by one, and the
// damage counted.
func TestReadByOrdinalDamage(t *testing.T) {
	s := openT(t, testOptions(t.TempDir()))
	defer s.Close()
	ctx := context.Background()
	var want []model.TraceID
	for _, bt := range genLoad(t, 200) {
		if err := s.WriteSpans(ctx, bt); err != nil {
			t.Fatal(err)
		}
		for _, sp := range bt {
			if n := len(want); n == 0 || want[n-1] != sp.TraceID {
				want = append(want, sp.TraceID)
			}
		}
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.blocks) != 1 {
		t.Fatalf("%d blocks, want 1", len(s.blocks))
	}
	b := s.blocks[0]
	ids, err := b.r.TraceIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := []candRead{{from: b, ord: 3}, {from: b, ord: 4}, {from: b, ord: len(ids) + 5}, {from: b, ord: 150}}
	s.readByOrdinal(ctx, u)
	for _, c := range u {
		bad := c.ord >= len(ids)
		if c.read == bad {
			t.Errorf("ordinal %d: read %v", c.ord, c.read)
			continue
		}
		if !bad && (c.id != ids[c.ord] || len(c.spans) != 10) {
			t.Errorf("ordinal %d: trace %v with %d spans, want %v with 10", c.ord, c.id, len(c.spans), ids[c.ord])
		}
	}
	if n := testutil.ToFloat64(s.m.blockErrors); n != 1 {
		t.Errorf("%v block errors counted, want 1", n)
	}
	// Without damage, one read gives the same traces.
	good := []candRead{{from: b, ord: 150}, {from: b, ord: 3}, {from: b, ord: 4}, {from: b, ord: 3}}
	s.readByOrdinal(ctx, good)
	for _, c := range good {
		if !c.read || c.id != ids[c.ord] || len(c.spans) != 10 {
			t.Errorf("ordinal %d: read %v, trace %v with %d spans", c.ord, c.read, c.id, len(c.spans))
		}
	}
	if n := testutil.ToFloat64(s.m.blockErrors); n != 1 {
		t.Errorf("%v block errors counted after a good read, want 1", n)
	}
}
