// Package engine evaluates TraceQL queries (internal/query/traceql) over the
// traces of a store: trace searches with spansets, metrics queries that
// return time series, tag and tag-value listings, and Jaeger-style searches
// (NewReader). It streams candidate traces from a store.Scanner, pushing
// the time range and single-span conditions down as pruning hints, and
// evaluates the query on each trace in parallel.
//
// Every query runs under a deadline and caps on the traces and spans it
// inspects and the results it returns; a query stopped by a cap or its
// deadline returns what it found, marked partial. A cancelled context
// stops the query with the context's error.
package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/query/traceql"
	"github.com/clew-dev/clew/internal/store"
)

// Options bound the engine. Zero values take the defaults.
type Options struct {
	// Timeout is the deadline of one query (default 30s).
	Timeout time.Duration
	// MaxTracesInspected caps the traces one query evaluates (default
	// 1,000,000).
	MaxTracesInspected int
	// MaxSpansInspected caps the spans of the traces one query evaluates
	// (default 10,000,000).
	MaxSpansInspected int
	// MaxLimit caps the traces a search returns (default 1500).
	MaxLimit int
	// DefaultLimit is the traces a search returns without a limit (20).
	DefaultLimit int
	// MaxSpansPerSpanSet caps the spans returned per spanset (100).
	MaxSpansPerSpanSet int
	// MaxSeries caps the series of a metrics query (1000).
	MaxSeries int
	// MaxPoints caps the samples per series of a metrics query (11000).
	MaxPoints int
	// MaxTagValues caps the distinct values a tag-values query returns
	// (5000), and the distinct names of a tag-names query.
	MaxTagValues int
	// Parallelism is the number of goroutines evaluating traces
	// (default GOMAXPROCS).
	Parallelism int
	// Logger receives nothing per trace or span; nil discards.
	Logger *slog.Logger
	// Registerer receives the engine's metrics when not nil.
	Registerer prometheus.Registerer
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	def(&o.MaxTracesInspected, 1_000_000)
	def(&o.MaxSpansInspected, 10_000_000)
	def(&o.MaxLimit, 1500)
	def(&o.DefaultLimit, 20)
	def(&o.MaxSpansPerSpanSet, 100)
	def(&o.MaxSeries, 1000)
	def(&o.MaxPoints, 11000)
	def(&o.MaxTagValues, 5000)
	def(&o.Parallelism, runtime.GOMAXPROCS(0))
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Engine answers queries over one store. It is safe for concurrent use.
type Engine struct {
	r store.Reader
	o Options
	m *engineMetrics
	// noIndex turns off indexSearch (tests compare both paths).
	noIndex bool
}

// New returns an engine over r. Searches need r to implement
// store.Scanner; without it they fail with an error wrapping
// errors.ErrUnsupported.
func New(r store.Reader, o Options) *Engine {
	o.defaults()
	return &Engine{r: r, o: o, m: newEngineMetrics(o.Registerer)}
}

// Options returns the engine's options with defaults applied.
func (e *Engine) Options() Options { return e.o }

// ErrBadRequest wraps errors about the request itself (a metrics query
// sent to search, a bad time range): APIs answer them with 400.
var ErrBadRequest = errors.New("bad request")

// SearchRequest is a TraceQL search.
type SearchRequest struct {
	Query *traceql.Query
	// Start and End bound the start of matching spans (each if non-zero).
	Start, End time.Time
	// MinDuration and MaxDuration bound the trace's duration (each if
	// non-zero).
	MinDuration, MaxDuration time.Duration
	// Limit is the most traces returned; 0 means Options.DefaultLimit,
	// more than Options.MaxLimit means MaxLimit.
	Limit int
	// SpansPerSpanSet is the most spans returned per spanset (default 3,
	// capped by Options.MaxSpansPerSpanSet).
	SpansPerSpanSet int
	// Tags, when set, are Tempo's legacy search tags: a trace matches when
	// one span carries every tag (compared as text, on the span, its
	// resource, scope, events or links, as store.SpanHasTag does; the key
	// "name" is the span name), and then Query runs on those spans.
	Tags map[string]string
}

// Stats counts what a query inspected.
type Stats struct {
	Traces int64
	Spans  int64
	// Bytes estimates the in-memory size of the inspected spans (each
	// trace's first span's size times its span count).
	Bytes int64
}

// SearchResponse is the result of a search.
type SearchResponse struct {
	// Traces are the matching traces, most recent start first.
	Traces []*TraceMatch
	Stats  Stats
	// Partial is true when a cap or the deadline stopped the scan early.
	Partial bool
}

// TraceMatch is one matching trace.
type TraceMatch struct {
	TraceID         model.TraceID
	RootServiceName string
	RootName        string
	Start           uint64 // unix nanoseconds
	Duration        time.Duration
	SpanSets        []SpanSet
	// ServiceStats counts spans and error spans per service.
	ServiceStats map[string]ServiceStats
}

// ServiceStats counts the spans of one service in a trace.
type ServiceStats struct {
	SpanCount  int
	ErrorCount int
}

// SpanSet is one matching spanset of a trace.
type SpanSet struct {
	// Spans are up to SpansPerSpanSet of the matched spans, by start time.
	Spans []MatchedSpan
	// Matched is the number of spans in the spanset.
	Matched int
	// Attributes are the by() groups and aggregate values of the spanset.
	Attributes []Attr
}

// MatchedSpan is a span of a spanset with the attributes the query
// referred to.
type MatchedSpan struct {
	Span       *model.Span
	Attributes []Attr
}

// RootPending is the root name Tempo gives traces whose root span has
// not been received.
const RootPending = "<root span not yet received>"

// Search runs a TraceQL search.
func (e *Engine) Search(ctx context.Context, req SearchRequest) (*SearchResponse, error) {
	if req.Query == nil {
		return nil, fmt.Errorf("%w: no query", ErrBadRequest)
	}
	if req.Query.Metrics != nil {
		return nil, fmt.Errorf("%w: %s() is a metrics query: use the metrics API (query_range)", ErrBadRequest, req.Query.Metrics.Func)
	}
	limit := req.Limit
	switch {
	case limit <= 0:
		limit = e.o.DefaultLimit
	case limit > e.o.MaxLimit:
		limit = e.o.MaxLimit
	}
	spss := req.SpansPerSpanSet
	switch {
	case spss <= 0:
		spss = 3
	case spss > e.o.MaxSpansPerSpanSet:
		spss = e.o.MaxSpansPerSpanSet
	}
	p := compile(req.Query)
	if len(req.Tags) > 0 {
		p.withTags(req.Tags)
	} else if tq, ok := indexQuery(req.Query); ok && req.MinDuration == 0 && req.MaxDuration == 0 && !e.noIndex {
		tq.StartMin, tq.StartMax, tq.Limit = req.Start, req.End, limit
		return e.indexSearch(ctx, p, tq, spss)
	}
	sreq := p.hints
	sreq.StartMin, sreq.StartMax = req.Start, req.End

	var mu sync.Mutex
	var found []*TraceMatch
	// Once limit traces are found, a trace starting before the oldest of
	// them cannot be returned: it is skipped before evaluation (and the
	// store may skip reading it).
	var threshold atomic.Uint64
	sreq.StartFloor = threshold.Load
	trim := func() {
		slices.SortFunc(found, func(a, b *TraceMatch) int {
			if c := cmp.Compare(b.Start, a.Start); c != 0 {
				return c
			}
			return cmp.Compare(string(a.TraceID[:]), string(b.TraceID[:]))
		})
		if len(found) > limit {
			clear(found[limit:])
			found = found[:limit]
		}
		if len(found) == limit {
			threshold.Store(found[limit-1].Start)
		}
	}
	stats, partial, err := e.scan(ctx, kindSearch, sreq, func(t *model.Trace) {
		if t.Start() < threshold.Load() {
			return
		}
		tc := newTraceCtx(t)
		d := tc.duration()
		if (req.MinDuration > 0 && d < req.MinDuration) || (req.MaxDuration > 0 && d > req.MaxDuration) {
			return
		}
		sets := p.evalTrace(tc)
		if len(sets) == 0 {
			return
		}
		m := p.match(tc, sets, spss)
		mu.Lock()
		found = append(found, m)
		if len(found) >= 2*limit+64 || (len(found) == limit && threshold.Load() == 0) {
			trim()
		}
		mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	trim()
	return &SearchResponse{Traces: found, Stats: stats, Partial: partial}, nil
}

// match renders one matching trace.
func (p *plan) match(tc *traceCtx, sets []spanset, spss int) *TraceMatch {
	m := &TraceMatch{
		TraceID:         tc.t.TraceID,
		RootServiceName: RootPending,
		RootName:        RootPending,
		Start:           tc.start,
		Duration:        tc.duration(),
		ServiceStats:    map[string]ServiceStats{},
	}
	if tc.root != nil {
		m.RootServiceName, m.RootName = tc.root.ServiceName(), tc.root.Name
	}
	for _, s := range tc.t.Spans {
		st := m.ServiceStats[s.ServiceName()]
		st.SpanCount++
		if s.Status.Code == model.StatusError {
			st.ErrorCount++
		}
		m.ServiceStats[s.ServiceName()] = st
	}
	for _, ss := range sets {
		idx := slices.Clone(ss.idx)
		slices.SortStableFunc(idx, func(a, b int32) int {
			return cmp.Compare(tc.t.Spans[a].StartTimeUnixNano, tc.t.Spans[b].StartTimeUnixNano)
		})
		out := SpanSet{Matched: len(idx), Attributes: ss.attrs}
		for _, i := range idx[:min(len(idx), spss)] {
			s := tc.t.Spans[i]
			ms := MatchedSpan{Span: s}
			c := spanCtx{tc: tc, s: s, idx: int(i) + 1}
			for _, a := range p.out {
				if v := a.fn(&c); v.Type != traceql.TypeNil {
					ms.Attributes = append(ms.Attributes, Attr{Key: a.key, Value: v})
				}
			}
			out.Spans = append(out.Spans, ms)
		}
		m.SpanSets = append(m.SpanSets, out)
	}
	return m
}

// scan streams the traces of req to work, from Options.Parallelism
// goroutines, until the store is exhausted, a cap is reached (partial) or
// the deadline passes (partial). work must be safe for concurrent use.
func (e *Engine) scan(ctx context.Context, kind string, req store.ScanRequest, work func(*model.Trace)) (stats Stats, partialOut bool, errOut error) {
	begin := time.Now()
	defer func() { e.m.observe(kind, begin, stats, partialOut, errOut) }()
	sc, ok := e.r.(store.Scanner)
	if !ok {
		return Stats{}, false, fmt.Errorf("query engine: the store cannot scan traces: %w", errors.ErrUnsupported)
	}
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	var partial atomic.Bool
	fn := func(t *model.Trace) bool {
		if stats.Traces >= int64(e.o.MaxTracesInspected) || stats.Spans+int64(len(t.Spans)) > int64(e.o.MaxSpansInspected) {
			partial.Store(true)
			return false
		}
		stats.Traces++
		stats.Spans += int64(len(t.Spans))
		if len(t.Spans) > 0 {
			// An estimate from the first span: sizing every span would
			// cost as much as evaluating the query.
			stats.Bytes += int64(t.Spans[0].Size()) * int64(len(t.Spans))
		}
		return true
	}
	var err error
	if e.o.Parallelism <= 1 {
		err = sc.ScanTraces(ctx, req, func(t *model.Trace) bool {
			if !fn(t) {
				return false
			}
			work(t)
			return ctx.Err() == nil
		})
	} else {
		ch := make(chan *model.Trace, 4*e.o.Parallelism)
		var wg sync.WaitGroup
		for range e.o.Parallelism {
			wg.Go(func() {
				for t := range ch {
					if ctx.Err() == nil {
						work(t)
					}
				}
			})
		}
		err = sc.ScanTraces(ctx, req, func(t *model.Trace) bool {
			if !fn(t) {
				return false
			}
			select {
			case ch <- t:
				return true
			case <-ctx.Done():
				return false
			}
		})
		close(ch)
		wg.Wait()
	}
	if err == nil {
		err = ctx.Err()
	}
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil && context.Cause(ctx) == context.DeadlineExceeded:
		// Our deadline (or the caller's): return what was found.
		partial.Store(true)
		err = nil
	default:
		return stats, false, err
	}
	return stats, partial.Load(), nil
}
