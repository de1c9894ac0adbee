package engine

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/memstore"
	"github.com/clew-dev/clew/internal/store/storetest"
)

// engineStore is memstore with its searches answered by the engine.
type engineStore struct {
	*memstore.Store
	r *Reader
}

func (s engineStore) FindTraces(ctx context.Context, q store.TraceQuery) ([]*model.Trace, error) {
	return s.r.scanSearch(ctx, q)
}

// TestReaderConformance runs the store conformance suite with FindTraces
// answered by the engine's scan, tags or not.
func TestReaderConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		m := memstore.New(memstore.Options{})
		return engineStore{Store: m, r: NewReader(m, New(m, Options{}))}
	})
}

// TestReaderMatchesMemstore compares the engine's Jaeger search with
// memstore's own over the fixture (searches without tags go to memstore
// itself; the engine's scan is compared through engineSearch).
func TestReaderMatchesMemstore(t *testing.T) {
	fx := loadFixture(t)
	m := memstore.New(memstore.Options{})
	if err := m.WriteSpans(context.Background(), fx.spans); err != nil {
		t.Fatal(err)
	}
	r := NewReader(m, New(m, Options{Parallelism: 3}))
	queries := []store.TraceQuery{
		{},
		{Service: "frontend"},
		{Service: "frontend", Operation: "GET /health"},
		{Service: "cart", Limit: 1},
		{Tags: map[string]string{"http.status_code": "500"}},
		{Tags: map[string]string{"error": "true", "span.kind": "server"}},
		{Tags: map[string]string{"exception.type": "CardError"}},
		{DurationMin: 500 * time.Millisecond},
		{DurationMin: 10 * time.Millisecond, DurationMax: 100 * time.Millisecond, Service: "catalog"},
		{StartMin: fx.Base.Add(30 * time.Second), StartMax: fx.Base.Add(150 * time.Second)},
		{Service: "nope"},
	}
	for _, q := range queries {
		want, err := m.FindTraces(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.scanSearch(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		viaReader, err := r.FindTraces(context.Background(), q)
		if err != nil || len(viaReader) != len(want) {
			t.Fatalf("%+v: FindTraces gave %d traces (%v), want %d", q, len(viaReader), err, len(want))
		}
		ids := func(ts []*model.Trace) []string {
			out := []string{}
			for _, tr := range ts {
				out = append(out, fx.traces[tr.TraceID])
			}
			return out
		}
		if diff := cmp.Diff(ids(want), ids(got)); diff != "" {
			t.Errorf("%+v (-memstore +engine):\n%s", q, diff)
		}
		for i := range got {
			if i < len(want) && len(got[i].Spans) != len(want[i].Spans) {
				t.Errorf("%+v: trace %d has %d spans, want %d", q, i, len(got[i].Spans), len(want[i].Spans))
			}
		}
	}
}
