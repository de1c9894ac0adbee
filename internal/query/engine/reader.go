package engine

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
)

// Reader is a store.Reader whose FindTraces (Jaeger's search) runs on the
// engine when the search has tags: the service, operation, tags, minimum
// duration and time window are pushed down to the store's scan as hints,
// spans are matched with store.MatchSpan (Jaeger's semantics), and the scan
// runs in parallel under the engine's deadline and caps. A search without
// tags asks only what a store's own index answers best (service,
// operation, duration, time), so it goes to the store's FindTraces, which
// reads only the traces it returns; so does every search of a store
// without store.Scanner. Every other method is the wrapped reader's.
type Reader struct {
	store.Reader
	e *Engine
}

var _ store.Reader = (*Reader)(nil)

// NewReader wraps r so that its searches run on e (an engine over r).
func NewReader(r store.Reader, e *Engine) *Reader { return &Reader{Reader: r, e: e} }

// TagIndexer is implemented by stores whose own FindTraces answers
// searches with tags from an index, reading only the traces it returns
// (the local store's block search index): engine.Reader sends them their
// Jaeger searches with tags too.
type TagIndexer interface {
	// IndexesTags reports whether FindTraces uses an index for tags.
	IndexesTags() bool
}

// FindTraces implements store.Reader: up to q.Limit whole traces with a
// span matching q, most recent trace start first (ties by trace id). When
// a cap or the deadline stops the scan, the traces found so far are
// returned.
func (r *Reader) FindTraces(ctx context.Context, q store.TraceQuery) ([]*model.Trace, error) {
	if ti, ok := r.Reader.(TagIndexer); ok && ti.IndexesTags() {
		return r.Reader.FindTraces(ctx, q)
	}
	if _, ok := r.Reader.(store.Scanner); !ok || len(q.Tags) == 0 {
		return r.Reader.FindTraces(ctx, q)
	}
	return r.scanSearch(ctx, q)
}

// scanSearch answers q with a scan of the store on the engine.
func (r *Reader) scanSearch(ctx context.Context, q store.TraceQuery) ([]*model.Trace, error) {
	limit := q.EffectiveLimit()
	req := store.ScanRequest{
		StartMin:    q.StartMin,
		StartMax:    q.StartMax,
		Service:     q.Service,
		SpanName:    q.Operation,
		MinDuration: q.DurationMin,
		Tags:        q.Tags,
	}
	type hit struct {
		t     *model.Trace
		start uint64
	}
	var mu sync.Mutex
	var hits []hit
	// Once limit traces are found, older traces cannot be returned.
	var threshold atomic.Uint64
	req.StartFloor = threshold.Load
	trim := func() {
		slices.SortFunc(hits, func(a, b hit) int {
			if c := cmp.Compare(b.start, a.start); c != 0 {
				return c
			}
			return cmp.Compare(string(a.t.TraceID[:]), string(b.t.TraceID[:]))
		})
		if len(hits) > limit {
			clear(hits[limit:])
			hits = hits[:limit]
		}
		if len(hits) == limit {
			threshold.Store(hits[limit-1].start)
		}
	}
	_, _, err := r.e.scan(ctx, kindJaeger, req, func(t *model.Trace) {
		start := t.Start()
		if start < threshold.Load() {
			return
		}
		for _, s := range t.Spans {
			if store.MatchSpan(s, &q) {
				mu.Lock()
				hits = append(hits, hit{t, start})
				if len(hits) >= 2*limit+64 || (len(hits) == limit && threshold.Load() == 0) {
					trim()
				}
				mu.Unlock()
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	trim()
	out := make([]*model.Trace, len(hits))
	for i, h := range hits {
		out[i] = h.t
	}
	return out, nil
}
