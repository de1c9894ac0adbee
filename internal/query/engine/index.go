package engine

import (
	"context"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/query/traceql"
	"github.com/clew-dev/clew/internal/store"
)

// indexQuery returns the Jaeger search equivalent to q when q is one
// spanset filter of conditions that store.MatchSpan checks exactly on one
// span: resource.service.name and name equal to strings, and bounds on
// duration ({ } too: every trace). Such a search is answered by the store's
// own FindTraces, which uses its index and reads only the traces it
// returns, instead of a scan. One difference: the store also wants the
// matching span itself, not just some span of the trace, to start in the
// time range.
func indexQuery(q *traceql.Query) (store.TraceQuery, bool) {
	var tq store.TraceQuery
	if q.Metrics != nil || len(q.Pipeline.Stages) != 1 {
		return tq, false
	}
	f, ok := q.Pipeline.Stages[0].(*traceql.SpansetFilter)
	if !ok {
		return tq, false
	}
	exact := true
	var walk func(e traceql.FieldExpr)
	walk = func(e traceql.FieldExpr) {
		if st, ok := e.(*traceql.Static); ok && st.Type == traceql.TypeBool && st.B {
			return // { } and "&& true"
		}
		b, ok := e.(*traceql.BinaryExpr)
		if !ok {
			exact = false
			return
		}
		if b.Op == traceql.OpAnd {
			walk(b.LHS)
			walk(b.RHS)
			return
		}
		a, ok1 := b.LHS.(*traceql.Attribute)
		v, ok2 := b.RHS.(*traceql.Static)
		if !ok1 || !ok2 || a.Parent {
			exact = false
			return
		}
		switch {
		case b.Op == traceql.OpEq && v.Type == traceql.TypeString && a.Scope == traceql.ScopeResource && a.Name == model.AttrServiceName &&
			(tq.Service == "" || tq.Service == v.S):
			tq.Service = v.S
		case b.Op == traceql.OpEq && v.Type == traceql.TypeString && a.Scope == traceql.ScopeIntrinsic && a.Intrinsic == traceql.IntrinsicName &&
			(tq.Operation == "" || tq.Operation == v.S):
			tq.Operation = v.S
		case a.Scope == traceql.ScopeIntrinsic && a.Intrinsic == traceql.IntrinsicDuration && v.Type == traceql.TypeDuration && v.D > 0:
			switch b.Op {
			case traceql.OpGt:
				tq.DurationMin = max(tq.DurationMin, v.D+1)
			case traceql.OpGte:
				tq.DurationMin = max(tq.DurationMin, v.D)
			case traceql.OpLt:
				tq.DurationMax = minPositive(tq.DurationMax, v.D-1)
			case traceql.OpLte:
				tq.DurationMax = minPositive(tq.DurationMax, v.D)
			default:
				exact = false
			}
		default:
			exact = false
		}
	}
	walk(f.Expr)
	if tq.DurationMax > 0 && tq.DurationMin > tq.DurationMax {
		exact = false // nothing matches; let the scan say so
	}
	return tq, exact
}

func minPositive(a, b time.Duration) time.Duration {
	if a <= 0 || b < a {
		return b
	}
	return a
}

// indexSearch answers a search through the store's FindTraces (see
// indexQuery), then evaluates the query on the traces it returns to build
// their spansets.
func (e *Engine) indexSearch(ctx context.Context, p *plan, tq store.TraceQuery, spss int) (resp *SearchResponse, err error) {
	begin := time.Now()
	resp = &SearchResponse{}
	defer func() { e.m.observe(kindSearch, begin, resp.Stats, false, err) }()
	if err := ctx.Err(); err != nil {
		return resp, err
	}
	ctx, cancel := context.WithTimeout(ctx, e.o.Timeout)
	defer cancel()
	traces, err := e.r.FindTraces(ctx, tq)
	if err != nil {
		return resp, err
	}
	for _, t := range traces {
		resp.Stats.Traces++
		resp.Stats.Spans += int64(len(t.Spans))
		if len(t.Spans) > 0 {
			resp.Stats.Bytes += int64(t.Spans[0].Size()) * int64(len(t.Spans))
		}
		tc := newTraceCtx(t)
		if sets := p.evalTrace(tc); len(sets) > 0 {
			resp.Traces = append(resp.Traces, p.match(tc, sets, spss))
		}
	}
	return resp, nil
}
