package engine

import (
	"slices"
	"time"

	"github.com/clew-dev/clew/internal/query/traceql"
)

// Attr is a named value attached to a spanset (by() groups, aggregates) or
// returned with a span (attributes the query looked at, select()).
type Attr struct {
	Key   string
	Value Value
}

// spanset is a set of spans of one trace: indexes into the trace's spans,
// ascending, with the attributes the pipeline attached.
type spanset struct {
	idx   []int32
	attrs []Attr
}

type stageFn func(tc *traceCtx, in []spanset) []spanset

type matchFn func(tc *traceCtx, i int32) bool

// compileFilter returns a span predicate. A condition over event (link)
// attributes holds for a span when it holds for one of its events (links).
func (cp *compiler) compileFilter(e traceql.FieldExpr) matchFn {
	if st, ok := e.(*traceql.Static); ok && st.Type == traceql.TypeBool {
		b := st.B
		return func(*traceCtx, int32) bool { return b }
	}
	var info exprInfo
	fn := cp.field(e, &info)
	return func(tc *traceCtx, i int32) bool {
		s := tc.t.Spans[i]
		c := spanCtx{tc: tc, s: s, idx: int(i) + 1}
		if !info.events && !info.links {
			v := fn(&c)
			return v.Type == traceql.TypeBool && v.B
		}
		evs, links := 1, 1
		if info.events && len(s.Events) > 0 {
			evs = len(s.Events)
		}
		if info.links && len(s.Links) > 0 {
			links = len(s.Links)
		}
		for e := 0; e < evs; e++ {
			c.ev = nil
			if info.events && len(s.Events) > 0 {
				c.ev = &s.Events[e]
			}
			for j := 0; j < links; j++ {
				c.link = nil
				if info.links && len(s.Links) > 0 {
					c.link = &s.Links[j]
				}
				if v := fn(&c); v.Type == traceql.TypeBool && v.B {
					return true
				}
			}
		}
		return false
	}
}

func (cp *compiler) stage(s traceql.Stage) stageFn {
	switch s := s.(type) {
	case *traceql.SpansetFilter:
		if st, ok := s.Expr.(*traceql.Static); ok && st.Type == traceql.TypeBool && st.B {
			return func(tc *traceCtx, in []spanset) []spanset { return in } // { }
		}
		match := cp.compileFilter(s.Expr)
		return func(tc *traceCtx, in []spanset) []spanset {
			out := in[:0:0]
			for _, ss := range in {
				var keep []int32
				for _, i := range ss.idx {
					if match(tc, i) {
						keep = append(keep, i)
					}
				}
				if len(keep) > 0 {
					out = append(out, spanset{idx: keep, attrs: ss.attrs})
				}
			}
			return out
		}
	case *traceql.Pipeline:
		stages := make([]stageFn, len(s.Stages))
		for i, st := range s.Stages {
			stages[i] = cp.stage(st)
		}
		return func(tc *traceCtx, in []spanset) []spanset {
			for _, st := range stages {
				if len(in) == 0 {
					return nil
				}
				in = st(tc, in)
			}
			return in
		}
	case *traceql.SpansetOp:
		return cp.spansetOp(s)
	case *traceql.ScalarFilter:
		l, r := cp.scalar(s.LHS), cp.scalar(s.RHS)
		key := traceql.ScalarString(s.LHS)
		if _, ok := s.LHS.(*traceql.Static); ok {
			key = traceql.ScalarString(s.RHS)
		}
		op := s.Op
		return func(tc *traceCtx, in []spanset) []spanset {
			out := in[:0:0]
			for _, ss := range in {
				a, b := l(tc, ss), r(tc, ss)
				if compare(op, a, b) {
					v := a
					if _, ok := s.LHS.(*traceql.Static); ok {
						v = b
					}
					ss.attrs = append(slices.Clip(ss.attrs), Attr{Key: key, Value: v})
					out = append(out, ss)
				}
			}
			return out
		}
	case *traceql.GroupBy:
		var info exprInfo
		fn := cp.field(s.Expr, &info)
		key := "by(" + traceql.FieldString(s.Expr) + ")"
		return func(tc *traceCtx, in []spanset) []spanset {
			var out []spanset
			for _, ss := range in {
				groups := map[Value]int{}
				for _, i := range ss.idx {
					sp := tc.t.Spans[i]
					c := spanCtx{tc: tc, s: sp, idx: int(i) + 1}
					if len(sp.Events) > 0 {
						c.ev = &sp.Events[0]
					}
					if len(sp.Links) > 0 {
						c.link = &sp.Links[0]
					}
					v := fn(&c)
					if v.Type == traceql.TypeNil {
						continue
					}
					g, ok := groups[v]
					if !ok {
						g = len(out)
						groups[v] = g
						out = append(out, spanset{attrs: append(slices.Clip(ss.attrs), Attr{Key: key, Value: v})})
					}
					out[g].idx = append(out[g].idx, i)
				}
			}
			return out
		}
	case *traceql.Coalesce:
		return func(tc *traceCtx, in []spanset) []spanset {
			if len(in) <= 1 {
				return in
			}
			var all []int32
			for _, ss := range in {
				all = append(all, ss.idx...)
			}
			slices.Sort(all)
			return []spanset{{idx: slices.Compact(all)}}
		}
	case *traceql.Select:
		// select() changes what is returned, not what matches: the plan
		// records its attributes.
		return func(tc *traceCtx, in []spanset) []spanset { return in }
	}
	return func(*traceCtx, []spanset) []spanset { return nil }
}

func union(a, b []int32) []int32 {
	out := make([]int32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			out = append(out, a[i])
			i++
		case a[i] > b[j]:
			out = append(out, b[j])
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func mergeAttrs(a, b []Attr) []Attr {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	return append(slices.Clip(a), b...)
}

func (cp *compiler) spansetOp(s *traceql.SpansetOp) stageFn {
	l, r := cp.stage(s.LHS), cp.stage(s.RHS)
	op := s.Op
	return func(tc *traceCtx, in []spanset) []spanset {
		var out []spanset
		for _, ss := range in {
			one := []spanset{ss}
			ls := l(tc, one)
			rs := r(tc, []spanset{ss})
			switch op {
			case traceql.OpAnd:
				for _, a := range ls {
					for _, b := range rs {
						out = append(out, spanset{idx: union(a.idx, b.idx), attrs: mergeAttrs(a.attrs, b.attrs)})
					}
				}
			case traceql.OpOr:
				switch {
				case len(ls) == 0:
					out = append(out, rs...)
				case len(rs) == 0:
					out = append(out, ls...)
				default:
					for _, a := range ls {
						for _, b := range rs {
							out = append(out, spanset{idx: union(a.idx, b.idx), attrs: mergeAttrs(a.attrs, b.attrs)})
						}
					}
				}
			default:
				if len(ls) == 0 && isNegated(op) {
					ls = []spanset{{}}
				}
				for _, a := range ls {
					for _, b := range rs {
						if idx := structural(tc, op, a.idx, b.idx); len(idx) > 0 {
							out = append(out, spanset{idx: idx, attrs: mergeAttrs(a.attrs, b.attrs)})
						}
					}
				}
			}
		}
		return out
	}
}

func isNegated(op traceql.Op) bool { return op >= traceql.OpNotChild && op <= traceql.OpNotSibling }

// structural returns the spans of b related to spans of a by op ("a op b"
// selects from b), plus, for the union operators, the spans of a related
// to b.
func structural(tc *traceCtx, op traceql.Op, a, b []int32) []int32 {
	parent := tc.parents()
	n := len(parent)
	inA := make([]bool, n)
	for _, i := range a {
		inA[i] = true
	}
	inB := make([]bool, n)
	for _, i := range b {
		inB[i] = true
	}
	// hasAncestorIn reports whether some proper ancestor of i is in set.
	hasAncestorIn := func(i int32, set []bool) bool {
		for p, steps := parent[i], 0; p >= 0 && steps < n; p, steps = parent[p], steps+1 {
			if set[p] {
				return true
			}
		}
		return false
	}
	// ancestorsOf marks every proper ancestor of the spans of set.
	ancestorsOf := func(set []int32) []bool {
		m := make([]bool, n)
		for _, i := range set {
			for p, steps := parent[i], 0; p >= 0 && steps < n && !m[p]; p, steps = parent[p], steps+1 {
				m[p] = true
			}
		}
		return m
	}
	parentsOf := func(set []int32) []bool {
		m := make([]bool, n)
		for _, i := range set {
			if p := parent[i]; p >= 0 {
				m[p] = true
			}
		}
		return m
	}
	siblingOf := func(set []int32, in []bool) func(i int32) bool {
		count := map[int32]int{}
		for _, i := range set {
			if p := parent[i]; p >= 0 {
				count[p]++
			}
		}
		return func(i int32) bool {
			p := parent[i]
			if p < 0 {
				return false
			}
			c := count[p]
			if in[i] {
				c--
			}
			return c > 0
		}
	}
	var keepB func(i int32) bool
	var keepA func(i int32) bool // union operators only
	switch op {
	case traceql.OpChild, traceql.OpNotChild, traceql.OpUnionChild:
		keepB = func(i int32) bool { return parent[i] >= 0 && inA[parent[i]] }
		if op == traceql.OpUnionChild {
			pb := parentsOf(b)
			keepA = func(i int32) bool { return pb[i] }
		}
	case traceql.OpParent, traceql.OpNotParent, traceql.OpUnionParent:
		pa := parentsOf(a)
		keepB = func(i int32) bool { return pa[i] }
		if op == traceql.OpUnionParent {
			keepA = func(i int32) bool { return parent[i] >= 0 && inB[parent[i]] }
		}
	case traceql.OpDescendant, traceql.OpNotDescendant, traceql.OpUnionDescendant:
		keepB = func(i int32) bool { return hasAncestorIn(i, inA) }
		if op == traceql.OpUnionDescendant {
			ab := ancestorsOf(b)
			keepA = func(i int32) bool { return ab[i] }
		}
	case traceql.OpAncestor, traceql.OpNotAncestor, traceql.OpUnionAncestor:
		aa := ancestorsOf(a)
		keepB = func(i int32) bool { return aa[i] }
		if op == traceql.OpUnionAncestor {
			keepA = func(i int32) bool { return hasAncestorIn(i, inB) }
		}
	case traceql.OpSibling, traceql.OpNotSibling, traceql.OpUnionSibling:
		keepB = siblingOf(a, inA)
		if op == traceql.OpUnionSibling {
			keepA = siblingOf(b, inB)
		}
	default:
		return nil
	}
	neg := isNegated(op)
	var out []int32
	for _, i := range b {
		if keepB(i) != neg {
			out = append(out, i)
		}
	}
	if keepA != nil && len(out) > 0 {
		var fromA []int32
		for _, i := range a {
			if keepA(i) {
				fromA = append(fromA, i)
			}
		}
		out = union(fromA, out)
	}
	return out
}

type scalarFn func(tc *traceCtx, ss spanset) Value

func (cp *compiler) scalar(e traceql.ScalarExpr) scalarFn {
	switch e := e.(type) {
	case *traceql.Static:
		v := *e
		return func(*traceCtx, spanset) Value { return v }
	case *traceql.ScalarBinary:
		l, r := cp.scalar(e.LHS), cp.scalar(e.RHS)
		op := e.Op
		return func(tc *traceCtx, ss spanset) Value { return arith(op, l(tc, ss), r(tc, ss)) }
	case *traceql.Aggregate:
		if e.Func == traceql.AggCount {
			return func(_ *traceCtx, ss spanset) Value { return Value{Type: traceql.TypeInt, I: int64(len(ss.idx))} }
		}
		var info exprInfo
		fn := cp.field(e.Expr, &info)
		f := e.Func
		return func(tc *traceCtx, ss spanset) Value {
			var acc aggregator
			for _, i := range ss.idx {
				acc.add(fn(&spanCtx{tc: tc, s: tc.t.Spans[i], idx: int(i) + 1}))
			}
			return acc.result(f)
		}
	}
	return func(*traceCtx, spanset) Value { return nilValue }
}

// aggregator accumulates numeric values of one type (the first numeric
// value seen decides; values of other types are skipped).
type aggregator struct {
	typ      traceql.StaticType
	n        int
	sumI     int64
	sumF     float64
	min, max Value
}

func (a *aggregator) add(v Value) {
	if !isNumber(v.Type) && v.Type != traceql.TypeDuration {
		return
	}
	if a.n == 0 {
		a.typ = v.Type
		a.min, a.max = v, v
	} else if v.Type != a.typ && !(isNumber(v.Type) && isNumber(a.typ)) {
		return
	}
	if isNumber(v.Type) && v.Type != a.typ {
		a.typ = traceql.TypeFloat
	}
	a.n++
	switch v.Type {
	case traceql.TypeInt:
		a.sumI += v.I
		a.sumF += float64(v.I)
	case traceql.TypeFloat:
		a.sumF += v.F
	case traceql.TypeDuration:
		a.sumI += int64(v.D)
		a.sumF += float64(v.D)
	}
	if compare(traceql.OpLt, v, a.min) {
		a.min = v
	}
	if compare(traceql.OpGt, v, a.max) {
		a.max = v
	}
}

func (a *aggregator) result(f traceql.AggregateFunc) Value {
	if a.n == 0 {
		return nilValue
	}
	switch f {
	case traceql.AggMin:
		return a.min
	case traceql.AggMax:
		return a.max
	case traceql.AggSum:
		switch a.typ {
		case traceql.TypeInt:
			return Value{Type: traceql.TypeInt, I: a.sumI}
		case traceql.TypeDuration:
			return dur(time.Duration(a.sumI))
		}
		return Value{Type: traceql.TypeFloat, F: a.sumF}
	case traceql.AggAvg:
		avg := a.sumF / float64(a.n)
		if a.typ == traceql.TypeDuration {
			return dur(time.Duration(int64(avg)))
		}
		return Value{Type: traceql.TypeFloat, F: avg}
	}
	return nilValue
}
