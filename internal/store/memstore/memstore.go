// Package memstore is a bounded in-memory span store: the engine for tests,
// demos and `--storage=memory`. It keeps whole traces and evicts the traces
// that arrived first when a span or byte budget is exceeded. Nothing survives
// a restart.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store"
)

// Options bound the store. Zero values take the defaults.
type Options struct {
	// MaxSpans is the most spans kept (default 1,000,000).
	MaxSpans int
	// MaxBytes is the most estimated bytes kept (default 512 MiB).
	MaxBytes int64
	// Registerer receives the store's metrics when not nil.
	Registerer prometheus.Registerer
}

// Defaults for Options.
const (
	DefaultMaxSpans = 1_000_000
	DefaultMaxBytes = 512 << 20
)

type traceEntry struct {
	spans []*model.Span
	ids   map[model.SpanID]struct{} // built once the trace grows past a few spans
	bytes int64
	start uint64 // earliest span start
}

type opKey struct {
	name string
	kind model.SpanKind
}

// Store is the in-memory engine. The zero value is not usable; call New.
type Store struct {
	maxSpans int
	maxBytes int64

	mu     sync.RWMutex
	traces map[model.TraceID]*traceEntry
	order  []model.TraceID // arrival order of traces; order[head:] are live or evicted-pending
	head   int
	spans  int
	bytes  int64
	ops    map[string]map[opKey]int // service -> operation -> span count
	closed bool

	evictedTraces prometheus.Counter
	evictedSpans  prometheus.Counter
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New(o Options) *Store {
	if o.MaxSpans <= 0 {
		o.MaxSpans = DefaultMaxSpans
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	s := &Store{
		maxSpans: o.MaxSpans,
		maxBytes: o.MaxBytes,
		traces:   map[model.TraceID]*traceEntry{},
		ops:      map[string]map[opKey]int{},
		evictedTraces: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clew_memstore_evicted_traces_total",
			Help: "Traces evicted from the memory store to stay within its limits.",
		}),
		evictedSpans: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "clew_memstore_evicted_spans_total",
			Help: "Spans evicted from the memory store to stay within its limits.",
		}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.evictedTraces, s.evictedSpans,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "clew_memstore_spans",
				Help: "Spans held by the memory store.",
			}, func() float64 { n, _ := s.Usage(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "clew_memstore_bytes",
				Help: "Estimated bytes held by the memory store.",
			}, func() float64 { _, b := s.Usage(); return float64(b) }),
		)
	}
	return s
}

// Usage returns the spans and estimated bytes held.
func (s *Store) Usage() (spans int, bytes int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.spans, s.bytes
}

var errClosed = errors.New("memstore: closed")

// WriteSpans implements store.Writer. Spans are visible to readers when it
// returns. A batch larger than the whole budget is refused with store.ErrFull.
func (s *Store) WriteSpans(ctx context.Context, spans []*model.Span) error {
	var batchBytes int64
	for _, sp := range spans {
		batchBytes += int64(sp.Size())
	}
	if len(spans) > s.maxSpans || batchBytes > s.maxBytes {
		return fmt.Errorf("memstore: batch of %d spans (%d bytes) exceeds the store's limits: %w", len(spans), batchBytes, store.ErrFull)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	for _, sp := range spans {
		s.addLocked(sp)
	}
	s.evictLocked()
	return nil
}

func (s *Store) addLocked(sp *model.Span) {
	t := s.traces[sp.TraceID]
	if t == nil {
		t = &traceEntry{start: sp.StartTimeUnixNano}
		s.traces[sp.TraceID] = t
		s.order = append(s.order, sp.TraceID)
	} else if t.hasSpan(sp.SpanID) {
		return
	}
	// The store keeps the span for long: a copy of its own, not one that
	// keeps the receiver's whole request alive (Size counts only the span).
	sp = sp.Detached()
	t.add(sp)
	size := int64(sp.Size())
	t.bytes += size
	s.bytes += size
	s.spans++
	svc := sp.ServiceName()
	m := s.ops[svc]
	if m == nil {
		m = map[opKey]int{}
		s.ops[strings.Clone(svc)] = m
	}
	k := opKey{sp.Name, sp.Kind}
	if _, ok := m[k]; !ok {
		// The index outlives the span: a copy, so that it keeps no
		// request's bytes alive (receivers decode without copying).
		k.name = strings.Clone(k.name)
	}
	m[k]++
}

func (t *traceEntry) hasSpan(id model.SpanID) bool {
	if t.ids != nil {
		_, ok := t.ids[id]
		return ok
	}
	for _, sp := range t.spans {
		if sp.SpanID == id {
			return true
		}
	}
	return false
}

func (t *traceEntry) add(sp *model.Span) {
	t.spans = append(t.spans, sp)
	if sp.StartTimeUnixNano < t.start {
		t.start = sp.StartTimeUnixNano
	}
	switch {
	case t.ids != nil:
		t.ids[sp.SpanID] = struct{}{}
	case len(t.spans) > 16:
		t.ids = make(map[model.SpanID]struct{}, 2*len(t.spans))
		for _, x := range t.spans {
			t.ids[x.SpanID] = struct{}{}
		}
	}
}

// evictLocked drops the traces that arrived first until the store is within
// its limits.
func (s *Store) evictLocked() {
	for (s.spans > s.maxSpans || s.bytes > s.maxBytes) && s.head < len(s.order) {
		id := s.order[s.head]
		s.order[s.head] = model.TraceID{}
		s.head++
		t := s.traces[id]
		if t == nil {
			continue
		}
		delete(s.traces, id)
		s.spans -= len(t.spans)
		s.bytes -= t.bytes
		for _, sp := range t.spans {
			svc := sp.ServiceName()
			m := s.ops[svc]
			k := opKey{sp.Name, sp.Kind}
			if m[k]--; m[k] <= 0 {
				delete(m, k)
				if len(m) == 0 {
					delete(s.ops, svc)
				}
			}
		}
		s.evictedTraces.Inc()
		s.evictedSpans.Add(float64(len(t.spans)))
	}
	// Compact the arrival queue once its dead prefix dominates.
	if s.head > 1024 && s.head > len(s.order)/2 {
		s.order = append([]model.TraceID(nil), s.order[s.head:]...)
		s.head = 0
	}
}

// GetTrace implements store.Reader.
func (s *Store) GetTrace(ctx context.Context, id model.TraceID) (*model.Trace, error) {
	s.mu.RLock()
	t := s.traces[id]
	var spans []*model.Span
	if t != nil {
		spans = slices.Clone(t.spans)
	}
	s.mu.RUnlock()
	if t == nil {
		return nil, store.ErrTraceNotFound
	}
	model.SortSpans(spans)
	return &model.Trace{TraceID: id, Spans: spans}, nil
}

// GetServices implements store.Reader.
func (s *Store) GetServices(ctx context.Context) ([]string, error) {
	s.mu.RLock()
	out := make([]string, 0, len(s.ops))
	for svc := range s.ops {
		out = append(out, svc)
	}
	s.mu.RUnlock()
	slices.Sort(out)
	return out, nil
}

// GetOperations implements store.Reader.
func (s *Store) GetOperations(ctx context.Context, q store.OperationQuery) ([]store.Operation, error) {
	s.mu.RLock()
	out := []store.Operation{}
	for k := range s.ops[q.Service] {
		kind := k.kind.String()
		if q.SpanKind != "" && kind != q.SpanKind {
			continue
		}
		out = append(out, store.Operation{Name: k.name, SpanKind: kind})
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.Operation) int {
		if c := cmp.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.SpanKind, b.SpanKind)
	})
	return out, nil
}

// FindTraces implements store.Reader by scanning every trace.
func (s *Store) FindTraces(ctx context.Context, q store.TraceQuery) ([]*model.Trace, error) {
	type hit struct {
		id    model.TraceID
		start uint64
	}
	var hits []hit
	s.mu.RLock()
	n := 0
	for id, t := range s.traces {
		if n++; n%4096 == 0 && ctx.Err() != nil {
			s.mu.RUnlock()
			return nil, ctx.Err()
		}
		for _, sp := range t.spans {
			if store.MatchSpan(sp, &q) {
				hits = append(hits, hit{id, t.start})
				break
			}
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(b.start, a.start); c != 0 {
			return c
		}
		return cmp.Compare(string(a.id[:]), string(b.id[:]))
	})
	if limit := q.EffectiveLimit(); len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]*model.Trace, 0, len(hits))
	for _, h := range hits {
		t, err := s.GetTrace(ctx, h.id)
		if errors.Is(err, store.ErrTraceNotFound) {
			continue // evicted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// GetDependencies implements store.Reader.
func (s *Store) GetDependencies(ctx context.Context, end time.Time, lookback time.Duration) ([]store.DependencyLink, error) {
	lo, hi := uint64(end.Add(-lookback).UnixNano()), uint64(end.UnixNano())
	var traces []*model.Trace
	s.mu.RLock()
	for id, t := range s.traces {
		for _, sp := range t.spans {
			if sp.StartTimeUnixNano >= lo && sp.StartTimeUnixNano <= hi {
				traces = append(traces, &model.Trace{TraceID: id, Spans: slices.Clone(t.spans)})
				break
			}
		}
	}
	s.mu.RUnlock()
	return store.Dependencies(traces), nil
}

// Close implements store.Store. It drops all data.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.traces = map[model.TraceID]*traceEntry{}
	s.ops = map[string]map[opKey]int{}
	s.order, s.head, s.spans, s.bytes = nil, 0, 0, 0
	return nil
}

var _ store.Scanner = (*Store)(nil)

// ScanTraces implements store.Scanner.
func (s *Store) ScanTraces(ctx context.Context, req store.ScanRequest, fn func(*model.Trace) bool) error {
	var lo, hi uint64 = 0, ^uint64(0)
	if !req.StartMin.IsZero() {
		lo = uint64(req.StartMin.UnixNano())
	}
	if !req.StartMax.IsZero() {
		hi = uint64(req.StartMax.UnixNano())
	}
	// Collect candidates under the lock, call fn outside it.
	var cands []*model.Trace
	s.mu.RLock()
	for id, t := range s.traces {
		inRange, hinted := false, false
		for _, sp := range t.spans {
			if sp.StartTimeUnixNano >= lo && sp.StartTimeUnixNano <= hi {
				inRange = true
			}
			if (req.Service == "" || sp.ServiceName() == req.Service) &&
				(req.SpanName == "" || sp.Name == req.SpanName) &&
				(req.MinDuration == 0 || sp.Duration() >= req.MinDuration) &&
				hasTags(sp, req.Tags) {
				hinted = true
			}
			if inRange && hinted {
				cands = append(cands, &model.Trace{TraceID: id, Spans: slices.Clone(t.spans)})
				break
			}
		}
	}
	s.mu.RUnlock()
	for i, t := range cands {
		if i%256 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		model.SortSpans(t.Spans)
		if !fn(t) {
			return nil
		}
	}
	return nil
}

// hasTags reports whether sp may carry every tag (store.SpanMayHaveTag).
func hasTags(sp *model.Span, tags map[string]string) bool {
	for k, v := range tags {
		if !store.SpanMayHaveTag(sp, k, v) {
			return false
		}
	}
	return true
}
