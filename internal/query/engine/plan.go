package engine

import (
	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/query/traceql"
	"github.com/clew-dev/clew/internal/store"
)

// plan is a compiled query.
type plan struct {
	q   *traceql.Query
	run stageFn
	// out are the attributes returned with each matched span: those the
	// filters looked at, the select()ed ones and service.name.
	out []outAttr
	// hints are conditions one span must meet for the trace to match,
	// pushed down to the store as pruning hints.
	hints store.ScanRequest
}

type outAttr struct {
	key string
	fn  evalFn
}

func compile(q *traceql.Query) *plan {
	var cp compiler
	p := &plan{q: q, run: cp.stage(q.Pipeline)}
	seen := map[string]bool{}
	add := func(a *traceql.Attribute) {
		if a.Parent {
			return
		}
		var key string
		switch a.Scope {
		case traceql.ScopeEvent, traceql.ScopeLink:
			// The value of the first event (link) that has it.
			key = a.Name
			if seen[key] {
				return
			}
			seen[key] = true
			var info exprInfo
			fn := cp.attribute(a, &info)
			p.out = append(p.out, outAttr{key: key, fn: func(c *spanCtx) Value {
				e := *c
				if a.Scope == traceql.ScopeEvent {
					for i := range c.s.Events {
						e.ev = &c.s.Events[i]
						if v := fn(&e); v.Type != traceql.TypeNil {
							return v
						}
					}
					return nilValue
				}
				for i := range c.s.Links {
					e.link = &c.s.Links[i]
					if v := fn(&e); v.Type != traceql.TypeNil {
						return v
					}
				}
				return nilValue
			}})
			return
		case traceql.ScopeIntrinsic:
			switch a.Intrinsic {
			case traceql.IntrinsicStatus, traceql.IntrinsicStatusMessage, traceql.IntrinsicKind,
				traceql.IntrinsicInstrumentationName, traceql.IntrinsicInstrumentationVersion,
				traceql.IntrinsicNestedSetLeft, traceql.IntrinsicNestedSetRight, traceql.IntrinsicNestedSetParent,
				traceql.IntrinsicChildCount:
				key = a.Intrinsic.String()
			default:
				return
			}
		default:
			key = a.Name
		}
		if seen[key] {
			return
		}
		seen[key] = true
		var info exprInfo
		p.out = append(p.out, outAttr{key: key, fn: cp.attribute(a, &info)})
	}
	add(&traceql.Attribute{Scope: traceql.ScopeResource, Name: model.AttrServiceName})
	walkStages(q.Pipeline, func(a *traceql.Attribute) { add(a) }, func(s *traceql.Select) {
		for _, a := range s.Attrs {
			add(a)
		}
	})
	p.hints = hintsOf(q.Pipeline)
	return p
}

// walkStages calls attr for every attribute a filter of the pipeline
// refers to and sel for every select stage.
func walkStages(s traceql.Stage, attr func(*traceql.Attribute), sel func(*traceql.Select)) {
	switch s := s.(type) {
	case *traceql.Pipeline:
		for _, st := range s.Stages {
			walkStages(st, attr, sel)
		}
	case *traceql.SpansetOp:
		walkStages(s.LHS, attr, sel)
		walkStages(s.RHS, attr, sel)
	case *traceql.SpansetFilter:
		walkField(s.Expr, attr)
	case *traceql.Select:
		sel(s)
	}
}

func walkField(e traceql.FieldExpr, fn func(*traceql.Attribute)) {
	switch e := e.(type) {
	case *traceql.Attribute:
		fn(e)
	case *traceql.BinaryExpr:
		walkField(e.LHS, fn)
		walkField(e.RHS, fn)
	case *traceql.UnaryExpr:
		walkField(e.X, fn)
	}
}

// hintsOf derives pruning hints from the first stage of a pipeline: the
// conditions of one spanset filter that every matching trace must have a
// span meeting all at once.
func hintsOf(s traceql.Stage) store.ScanRequest {
	switch s := s.(type) {
	case *traceql.Pipeline:
		if len(s.Stages) > 0 {
			return hintsOf(s.Stages[0])
		}
	case *traceql.SpansetFilter:
		var h store.ScanRequest
		conjuncts(s.Expr, func(b *traceql.BinaryExpr) {
			a, ok1 := b.LHS.(*traceql.Attribute)
			v, ok2 := b.RHS.(*traceql.Static)
			if !ok1 || !ok2 || a.Parent {
				return
			}
			switch {
			case b.Op == traceql.OpEq && v.Type == traceql.TypeString && a.Scope == traceql.ScopeResource && a.Name == model.AttrServiceName:
				h.Service = v.S
			case b.Op == traceql.OpEq && v.Type == traceql.TypeString && a.Scope == traceql.ScopeIntrinsic && a.Intrinsic == traceql.IntrinsicName:
				h.SpanName = v.S
			case b.Op == traceql.OpEq && a.Scope != traceql.ScopeIntrinsic &&
				(v.Type == traceql.TypeString || v.Type == traceql.TypeInt || v.Type == traceql.TypeBool):
				// An attribute equal to a string, integer or boolean
				// (or with such an array element) has that text form:
				// store.SpanMayHaveTag holds.
				if h.Tags == nil {
					h.Tags = map[string]string{}
				}
				if _, dup := h.Tags[a.Name]; !dup {
					h.Tags[a.Name] = ValueText(*v)
				}
			case (b.Op == traceql.OpGt || b.Op == traceql.OpGte) && v.Type == traceql.TypeDuration &&
				a.Scope == traceql.ScopeIntrinsic && a.Intrinsic == traceql.IntrinsicDuration && v.D > 0:
				if v.D > h.MinDuration {
					h.MinDuration = v.D
				}
			}
		})
		return h
	case *traceql.SpansetOp:
		switch {
		case s.Op == traceql.OpOr:
		case isNegated(s.Op):
			return hintsOf(s.RHS)
		default: // &&, structural and union operators need both sides
			l, r := hintsOf(s.LHS), hintsOf(s.RHS)
			if hintCount(r) > hintCount(l) {
				return r
			}
			return l
		}
	}
	return store.ScanRequest{}
}

func hintCount(h store.ScanRequest) int {
	n := 0
	if h.Service != "" {
		n++
	}
	if h.SpanName != "" {
		n++
	}
	if h.MinDuration > 0 {
		n++
	}
	return n + len(h.Tags)
}

func conjuncts(e traceql.FieldExpr, fn func(*traceql.BinaryExpr)) {
	b, ok := e.(*traceql.BinaryExpr)
	if !ok {
		return
	}
	if b.Op == traceql.OpAnd {
		conjuncts(b.LHS, fn)
		conjuncts(b.RHS, fn)
		return
	}
	fn(b)
}

// evalTrace runs the plan on one trace and returns its non-empty spansets.
func (p *plan) evalTrace(tc *traceCtx) []spanset {
	all := make([]int32, len(tc.t.Spans))
	for i := range all {
		all[i] = int32(i)
	}
	return p.run(tc, []spanset{{idx: all}})
}

// withTags makes the plan keep only the spans that carry every tag before
// its pipeline runs, and takes its hints from the tags.
func (p *plan) withTags(tags map[string]string) {
	match := func(s *model.Span) bool {
		for k, v := range tags {
			if k == "name" {
				if s.Name != v {
					return false
				}
				continue
			}
			if !store.SpanHasTag(s, k, v) {
				return false
			}
		}
		return true
	}
	run := p.run
	p.run = func(tc *traceCtx, in []spanset) []spanset {
		out := in[:0:0]
		for _, ss := range in {
			var keep []int32
			for _, i := range ss.idx {
				if match(tc.t.Spans[i]) {
					keep = append(keep, i)
				}
			}
			if len(keep) > 0 {
				out = append(out, spanset{idx: keep, attrs: ss.attrs})
			}
		}
		if len(out) == 0 {
			return nil
		}
		return run(tc, out)
	}
	p.hints = store.ScanRequest{SpanName: tags["name"]}
	for k, v := range tags {
		if k != "name" {
			if p.hints.Tags == nil {
				p.hints.Tags = map[string]string{}
			}
			p.hints.Tags[k] = v
		}
	}
	for k := range tags {
		if k != model.AttrServiceName && k != "name" {
			p.out = append(p.out, outAttr{key: k, fn: (&compiler{}).attribute(&traceql.Attribute{Name: k}, &exprInfo{})})
		}
	}
}
