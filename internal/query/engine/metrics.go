package engine

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/query/traceql"
)

// MetricsRequest is a metrics query over [Start, End) in steps of Step.
type MetricsRequest struct {
	Query      *traceql.Query
	Start, End time.Time
	// Step is the width of each sample's interval; 0 chooses one giving
	// about 100 samples (at least one second).
	Step time.Duration
	// Exemplars is the most exemplars returned per series (0: none).
	Exemplars int
}

// MetricsResponse holds the series of a metrics query.
type MetricsResponse struct {
	// Series are ordered by their labels' text (PromLabels).
	Series  []Series
	Stats   Stats
	Partial bool
	// Step is the step used; Start the aligned start.
	Step  time.Duration
	Start time.Time
}

// Series is one time series. Labels are the by() values in order, then "p"
// (the quantile) for quantile_over_time and "__bucket" (the bucket's upper
// bound, in seconds for durations) for histogram_over_time.
type Series struct {
	Labels    []Attr
	Samples   []Sample
	Exemplars []Exemplar
}

// Exemplar is one span behind a series: its trace and span, its start,
// and a value (the span's measured value, or for rate, count_over_time and
// histogram_over_time the series' sample at that step).
type Exemplar struct {
	TraceID     model.TraceID
	SpanID      model.SpanID
	TimestampMs int64
	Value       float64
}

// Sample is one point of a series: the interval starting at TimestampMs.
type Sample struct {
	TimestampMs int64
	Value       float64
}

// PromLabels renders labels as Prometheus does: {a="x", b="y"}.
func PromLabels(labels []Attr) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range labels {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(l.Key)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(ValueText(l.Value)))
	}
	b.WriteByte('}')
	return b.String()
}

// ValueText renders a value as plain text: strings unquoted, durations in
// Go's notation, floats in shortest form.
func ValueText(v Value) string {
	switch v.Type {
	case traceql.TypeString:
		return v.S
	case traceql.TypeFloat:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case traceql.TypeDuration:
		return v.D.String()
	}
	return v.String()
}

// QueryRange evaluates a metrics query over a time range.
func (e *Engine) QueryRange(ctx context.Context, req MetricsRequest) (*MetricsResponse, error) {
	if req.Query == nil || req.Query.Metrics == nil {
		return nil, fmt.Errorf("%w: not a metrics query: end the query with a metrics function such as | rate()", ErrBadRequest)
	}
	if !req.End.After(req.Start) {
		return nil, fmt.Errorf("%w: end must be after start", ErrBadRequest)
	}
	step := req.Step
	if step <= 0 {
		step = max(time.Second, req.End.Sub(req.Start)/100).Truncate(time.Second)
	}
	start := time.Unix(0, req.Start.UnixNano()/int64(step)*int64(step))
	n := int((req.End.Sub(start) + step - 1) / step)
	if n > e.o.MaxPoints {
		return nil, fmt.Errorf("%w: %d samples per series exceed the limit of %d: raise step", ErrBadRequest, n, e.o.MaxPoints)
	}
	return e.metrics(ctx, req.Query, start, req.End, step, n, min(max(req.Exemplars, 0), MaxExemplars))
}

// QueryInstant evaluates a metrics query over [Start, End) as one sample
// per series, stamped at Start.
func (e *Engine) QueryInstant(ctx context.Context, req MetricsRequest) (*MetricsResponse, error) {
	if req.Query == nil || req.Query.Metrics == nil {
		return nil, fmt.Errorf("%w: not a metrics query: end the query with a metrics function such as | rate()", ErrBadRequest)
	}
	if !req.End.After(req.Start) {
		return nil, fmt.Errorf("%w: end must be after start", ErrBadRequest)
	}
	return e.metrics(ctx, req.Query, req.Start, req.End, req.End.Sub(req.Start), 1, 0)
}

type seriesAcc struct {
	labels []Attr
	count  []float64
	sum    []float64
	min    []float64
	max    []float64
	vals   [][]float64           // quantile_over_time
	hist   map[float64][]float64 // histogram_over_time: bucket -> counts
	ex     []exemplarSlot        // the first span of each step, when exemplars are asked for
}

type exemplarSlot struct {
	set bool
	v   float64 // the measured value (1 for rate and count)
	ex  Exemplar
}

func (e *Engine) metrics(ctx context.Context, q *traceql.Query, start, end time.Time, step time.Duration, n, exemplars int) (*MetricsResponse, error) {
	p := compile(q)
	mf := q.Metrics
	sreq := p.hints
	sreq.StartMin, sreq.StartMax = start, end
	lo, hi := uint64(start.UnixNano()), uint64(end.UnixNano())

	var cp compiler
	by := make([]evalFn, len(mf.By))
	for i, a := range mf.By {
		var info exprInfo
		by[i] = cp.attribute(a, &info)
	}
	byNames := make([]string, len(mf.By))
	for i, a := range mf.By {
		byNames[i] = a.String()
	}
	var measure evalFn
	if mf.Attr != nil {
		var info exprInfo
		measure = cp.attribute(mf.Attr, &info)
	}

	var mu sync.Mutex
	series := map[string]*seriesAcc{}
	var partialSeries bool
	stats, partial, err := e.scan(ctx, kindMetrics, sreq, func(t *model.Trace) {
		tc := newTraceCtx(t)
		sets := p.evalTrace(tc)
		if len(sets) == 0 {
			return
		}
		var seen []bool // spans already counted, when spansets overlap
		if len(sets) > 1 {
			seen = make([]bool, len(t.Spans))
		}
		// Aggregate the trace's points by series locally (in a scratch
		// reused across traces), then merge them under the lock: labels
		// are built only for series not seen before.
		sc := scratchPool.Get().(*metricsScratch)
		defer scratchPool.Put(sc)
		sc.reset(len(by))
		for _, ss := range sets {
			for _, i := range ss.idx {
				if seen != nil {
					if seen[i] {
						continue
					}
					seen[i] = true
				}
				s := t.Spans[i]
				if s.StartTimeUnixNano < lo || s.StartTimeUnixNano >= hi {
					continue
				}
				c := spanCtx{tc: tc, s: s, idx: int(i) + 1}
				v := 1.0
				if measure != nil {
					mv := measure(&c)
					switch mv.Type {
					case traceql.TypeDuration:
						v = mv.D.Seconds()
					case traceql.TypeInt, traceql.TypeFloat:
						v = toFloat(mv)
					default:
						continue
					}
				}
				sc.kb = sc.kb[:0]
				for j, f := range by {
					sc.vals[j] = f(&c)
					sc.kb = appendKey(sc.kb, sc.vals[j])
				}
				gi, ok := sc.index[string(sc.kb)]
				if !ok {
					gi = sc.newGroup(sc.kb, sc.vals)
				}
				g := &sc.groups[gi]
				g.pts = append(g.pts, bpoint{int((s.StartTimeUnixNano - lo) / uint64(step)), i, v})
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for gi := range sc.groups {
			g := &sc.groups[gi]
			acc := series[string(g.key)]
			if acc == nil {
				if len(series) >= e.o.MaxSeries {
					partialSeries = true
					continue
				}
				var labels []Attr
				for j, x := range g.vals {
					if x.Type != traceql.TypeNil {
						labels = append(labels, Attr{Key: byNames[j], Value: x})
					}
				}
				acc = newSeriesAcc(mf.Func, labels, n)
				if exemplars > 0 {
					acc.ex = make([]exemplarSlot, n)
				}
				series[string(g.key)] = acc
			}
			for _, pt := range g.pts {
				acc.add(mf.Func, pt.bucket, pt.v, n)
				if acc.ex != nil && pt.bucket >= 0 && pt.bucket < n && !acc.ex[pt.bucket].set {
					sp := t.Spans[pt.span]
					acc.ex[pt.bucket] = exemplarSlot{set: true, v: pt.v, ex: Exemplar{
						TraceID: t.TraceID, SpanID: sp.SpanID,
						TimestampMs: int64(sp.StartTimeUnixNano / 1e6), Value: pt.v,
					}}
				}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	resp := &MetricsResponse{Stats: stats, Partial: partial || partialSeries, Step: step, Start: start}
	for _, acc := range series {
		out := acc.render(mf, start, step, n)
		acc.attachExemplars(mf, out, exemplars, start, step)
		resp.Series = append(resp.Series, out...)
	}
	slices.SortFunc(resp.Series, func(a, b Series) int { return strings.Compare(PromLabels(a.Labels), PromLabels(b.Labels)) })
	for _, st := range mf.Second {
		if st.Op != traceql.OpNone {
			resp.Series = filterSamples(resp.Series, st)
			continue
		}
		resp.Series = topK(resp.Series, st)
	}
	return resp, nil
}

func newSeriesAcc(f traceql.MetricsFuncName, labels []Attr, n int) *seriesAcc {
	acc := &seriesAcc{labels: labels, count: make([]float64, n)}
	switch f {
	case traceql.MetricsAvgOverTime, traceql.MetricsSumOverTime:
		acc.sum = make([]float64, n)
	case traceql.MetricsMinOverTime:
		acc.min = make([]float64, n)
	case traceql.MetricsMaxOverTime:
		acc.max = make([]float64, n)
	case traceql.MetricsQuantileOverTime:
		acc.vals = make([][]float64, n)
	case traceql.MetricsHistogramOverTime:
		acc.hist = map[float64][]float64{}
	}
	return acc
}

type bpoint struct {
	bucket int
	span   int32
	v      float64
}

type metricsGroup struct {
	key  []byte
	vals []Value
	pts  []bpoint
}

// metricsScratch is one worker's per-trace state of a metrics query.
type metricsScratch struct {
	kb     []byte
	vals   []Value
	groups []metricsGroup
	index  map[string]int
}

var scratchPool = sync.Pool{New: func() any { return &metricsScratch{index: map[string]int{}} }}

func (sc *metricsScratch) reset(nby int) {
	clear(sc.index)
	for i := range sc.groups {
		sc.groups[i].pts = sc.groups[i].pts[:0]
	}
	sc.groups = sc.groups[:0]
	if cap(sc.vals) < nby {
		sc.vals = make([]Value, nby)
	}
	sc.vals = sc.vals[:nby]
}

func (sc *metricsScratch) newGroup(key []byte, vals []Value) int {
	if len(sc.groups) < cap(sc.groups) {
		sc.groups = sc.groups[:len(sc.groups)+1]
	} else {
		sc.groups = append(sc.groups, metricsGroup{})
	}
	g := &sc.groups[len(sc.groups)-1]
	g.key = append(g.key[:0], key...)
	g.vals = append(g.vals[:0], vals...)
	g.pts = g.pts[:0]
	sc.index[string(key)] = len(sc.groups) - 1
	return len(sc.groups) - 1
}

// appendKey appends a value's type and payload, distinct for distinct
// values, to a series key.
func appendKey(b []byte, v Value) []byte {
	b = append(b, byte(v.Type))
	switch v.Type {
	case traceql.TypeInt:
		b = strconv.AppendInt(b, v.I, 10)
	case traceql.TypeDuration:
		b = strconv.AppendInt(b, int64(v.D), 10)
	case traceql.TypeFloat:
		b = strconv.AppendFloat(b, v.F, 'g', -1, 64)
	case traceql.TypeBool:
		b = strconv.AppendBool(b, v.B)
	case traceql.TypeStatus:
		b = strconv.AppendInt(b, int64(v.Status), 10)
	case traceql.TypeKind:
		b = strconv.AppendInt(b, int64(v.Kind), 10)
	case traceql.TypeString:
		b = strconv.AppendInt(b, int64(len(v.S)), 10)
		b = append(b, ':')
		b = append(b, v.S...)
	}
	return append(b, 0)
}

// histogramBucket is the power of two at or above v (0 for v <= 0).
func histogramBucket(v float64) float64 {
	if v <= 0 {
		return 0
	}
	return math.Pow(2, math.Ceil(math.Log2(v)))
}

func (acc *seriesAcc) add(f traceql.MetricsFuncName, b int, v float64, n int) {
	if b < 0 || b >= n {
		return
	}
	first := acc.count[b] == 0
	acc.count[b]++
	switch f {
	case traceql.MetricsAvgOverTime, traceql.MetricsSumOverTime:
		acc.sum[b] += v
	case traceql.MetricsMinOverTime:
		if first || v < acc.min[b] {
			acc.min[b] = v
		}
	case traceql.MetricsMaxOverTime:
		if first || v > acc.max[b] {
			acc.max[b] = v
		}
	case traceql.MetricsQuantileOverTime:
		acc.vals[b] = append(acc.vals[b], v)
	case traceql.MetricsHistogramOverTime:
		k := histogramBucket(v)
		h := acc.hist[k]
		if h == nil {
			h = make([]float64, n)
			acc.hist[k] = h
		}
		h[b]++
	}
}

// quantile returns the q-quantile of sorted values, interpolating
// linearly between the nearest ranks.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(i)
	return sorted[i] + frac*(sorted[i+1]-sorted[i])
}

func (acc *seriesAcc) render(mf *traceql.MetricsFunc, start time.Time, step time.Duration, n int) []Series {
	ts := func(b int) int64 { return start.Add(time.Duration(b) * step).UnixMilli() }
	one := func(labels []Attr, value func(b int) (float64, bool)) Series {
		s := Series{Labels: labels}
		for b := 0; b < n; b++ {
			if v, ok := value(b); ok {
				s.Samples = append(s.Samples, Sample{TimestampMs: ts(b), Value: v})
			}
		}
		return s
	}
	has := func(b int) bool { return acc.count[b] > 0 }
	switch mf.Func {
	case traceql.MetricsRate:
		return []Series{one(acc.labels, func(b int) (float64, bool) { return acc.count[b] / step.Seconds(), true })}
	case traceql.MetricsCountOverTime:
		return []Series{one(acc.labels, func(b int) (float64, bool) { return acc.count[b], true })}
	case traceql.MetricsSumOverTime:
		return []Series{one(acc.labels, func(b int) (float64, bool) { return acc.sum[b], has(b) })}
	case traceql.MetricsAvgOverTime:
		return []Series{one(acc.labels, func(b int) (float64, bool) { return acc.sum[b] / acc.count[b], has(b) })}
	case traceql.MetricsMinOverTime:
		return []Series{one(acc.labels, func(b int) (float64, bool) { return acc.min[b], has(b) })}
	case traceql.MetricsMaxOverTime:
		return []Series{one(acc.labels, func(b int) (float64, bool) { return acc.max[b], has(b) })}
	case traceql.MetricsQuantileOverTime:
		for _, v := range acc.vals {
			slices.Sort(v)
		}
		out := make([]Series, 0, len(mf.Quantiles))
		for _, q := range mf.Quantiles {
			labels := append(slices.Clip(acc.labels), Attr{Key: "p", Value: Value{Type: traceql.TypeFloat, F: q}})
			out = append(out, one(labels, func(b int) (float64, bool) { return quantile(acc.vals[b], q), has(b) }))
		}
		return out
	case traceql.MetricsHistogramOverTime:
		keys := make([]float64, 0, len(acc.hist))
		for k := range acc.hist {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make([]Series, 0, len(keys))
		for _, k := range keys {
			h := acc.hist[k]
			labels := append(slices.Clip(acc.labels), Attr{Key: "__bucket", Value: Value{Type: traceql.TypeFloat, F: k}})
			out = append(out, one(labels, func(b int) (float64, bool) { return h[b], h[b] > 0 }))
		}
		return out
	}
	return nil
}

// topK keeps, at each timestamp, the samples of the st.N series with the
// highest values (lowest for bottomk; ties go to the series first in
// order), and drops series left without samples.
func topK(series []Series, st traceql.SecondStage) []Series {
	type cand struct {
		i int
		v float64
	}
	byTS := map[int64][]cand{}
	for i, s := range series {
		for _, smp := range s.Samples {
			if !math.IsNaN(smp.Value) {
				byTS[smp.TimestampMs] = append(byTS[smp.TimestampMs], cand{i, smp.Value})
			}
		}
	}
	type key struct {
		i  int
		ts int64
	}
	keep := map[key]bool{}
	for ts, cs := range byTS {
		slices.SortStableFunc(cs, func(a, b cand) int {
			if st.Bottom {
				return cmpFloat(a.v, b.v)
			}
			return cmpFloat(b.v, a.v)
		})
		for _, c := range cs[:min(len(cs), st.N)] {
			keep[key{c.i, ts}] = true
		}
	}
	out := series[:0]
	for i, s := range series {
		var samples []Sample
		for _, smp := range s.Samples {
			if keep[key{i, smp.TimestampMs}] {
				samples = append(samples, smp)
			}
		}
		if len(samples) > 0 {
			s.Samples = samples
			out = append(out, s)
		}
	}
	return out
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MaxExemplars caps MetricsRequest.Exemplars.
const MaxExemplars = 1000

// attachExemplars gives the rendered series of acc their exemplars: one
// span per step at most, spread evenly when more than limit.
func (acc *seriesAcc) attachExemplars(mf *traceql.MetricsFunc, out []Series, limit int, start time.Time, step time.Duration) {
	if acc.ex == nil || limit <= 0 || len(out) == 0 {
		return
	}
	sampleAt := make([]map[int64]float64, len(out))
	for i, s := range out {
		sampleAt[i] = make(map[int64]float64, len(s.Samples))
		for _, smp := range s.Samples {
			sampleAt[i][smp.TimestampMs] = smp.Value
		}
	}
	for b, slot := range acc.ex {
		if !slot.set {
			continue
		}
		ts := start.Add(time.Duration(b) * step).UnixMilli()
		target, value := 0, slot.v
		switch mf.Func {
		case traceql.MetricsRate, traceql.MetricsCountOverTime:
			value = sampleAt[0][ts]
		case traceql.MetricsHistogramOverTime:
			target = -1
			k := histogramBucket(slot.v)
			for i, s := range out {
				if l := s.Labels[len(s.Labels)-1]; l.Key == "__bucket" && l.Value.F == k {
					target = i
				}
			}
			if target >= 0 {
				value = sampleAt[target][ts]
			}
		case traceql.MetricsQuantileOverTime:
			best := math.Inf(1)
			for i := range out {
				if v, ok := sampleAt[i][ts]; ok && math.Abs(v-slot.v) < best {
					best, target = math.Abs(v-slot.v), i
				}
			}
		}
		if target < 0 {
			continue
		}
		if _, ok := sampleAt[target][ts]; !ok {
			continue
		}
		ex := slot.ex
		ex.Value = value
		out[target].Exemplars = append(out[target].Exemplars, ex)
	}
	for i := range out {
		if n := len(out[i].Exemplars); n > limit {
			kept := make([]Exemplar, limit)
			for j := range kept {
				kept[j] = out[i].Exemplars[j*n/limit]
			}
			out[i].Exemplars = kept
		}
	}
}

// filterSamples keeps the samples for which "value Op st.Value" holds and
// drops series left without samples.
func filterSamples(series []Series, st traceql.SecondStage) []Series {
	bound := Value{Type: traceql.TypeFloat, F: st.Value}
	out := series[:0]
	for _, s := range series {
		var samples []Sample
		for _, smp := range s.Samples {
			if compare(st.Op, Value{Type: traceql.TypeFloat, F: smp.Value}, bound) {
				samples = append(samples, smp)
			}
		}
		if len(samples) > 0 {
			s.Samples = samples
			out = append(out, s)
		}
	}
	return out
}
