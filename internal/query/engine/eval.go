package engine

import (
	"cmp"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/query/traceql"
)

// Value is a runtime value: a TraceQL literal type with its payload. The
// zero Value is nil (a missing attribute).
type Value = traceql.Static

var (
	nilValue  = Value{}
	trueValue = Value{Type: traceql.TypeBool, B: true}
)

// traceCtx is one trace being evaluated, with the tree relations built on
// first use.
type traceCtx struct {
	t      *model.Trace
	root   *model.Span
	start  uint64
	end    uint64
	parent []int32 // index of each span's parent in t.Spans, -1 for none
	nested []nestedSet
}

// nestedSet is a span's place in a depth-first walk of the trace tree, as
// Tempo numbers it: left on entry, right on exit, parent the parent's left
// (-1 for a root span, 0 for a span whose parent is missing).
type nestedSet struct {
	left, right, parent int64
	children            int64
}

// nestedSets numbers the spans on first use. Trees are walked from each
// span without a parent in the trace, roots and children in start-time
// order, numbering continuing from one tree to the next.
func (tc *traceCtx) nestedSets() []nestedSet {
	if tc.nested != nil {
		return tc.nested
	}
	parent := tc.parents()
	n := len(parent)
	children := make([][]int32, n)
	var roots []int32
	for i, p := range parent {
		if p < 0 {
			roots = append(roots, int32(i))
		} else {
			children[p] = append(children[p], int32(i))
		}
	}
	byStart := func(a, b int32) int {
		return cmp.Compare(tc.t.Spans[a].StartTimeUnixNano, tc.t.Spans[b].StartTimeUnixNano)
	}
	slices.SortStableFunc(roots, byStart)
	for _, c := range children {
		slices.SortStableFunc(c, byStart)
	}
	ns := make([]nestedSet, n)
	counter := int64(0)
	type frame struct {
		i    int32
		next int
	}
	var stack []frame
	for _, r := range roots {
		counter++
		ns[r].left = counter
		ns[r].parent = -1
		if !tc.t.Spans[r].ParentSpanID.IsZero() {
			ns[r].parent = 0
		}
		stack = append(stack[:0], frame{i: r})
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.next < len(children[top.i]) {
				c := children[top.i][top.next]
				top.next++
				counter++
				ns[c].left = counter
				ns[c].parent = ns[top.i].left
				stack = append(stack, frame{i: c})
				continue
			}
			counter++
			ns[top.i].right = counter
			ns[top.i].children = int64(len(children[top.i]))
			stack = stack[:len(stack)-1]
		}
	}
	tc.nested = ns
	return ns
}

func newTraceCtx(t *model.Trace) *traceCtx {
	tc := &traceCtx{t: t, start: t.Start(), end: t.End()}
	if r := t.Root(); r != nil && r.IsRoot() {
		tc.root = r
	}
	return tc
}

func (tc *traceCtx) duration() time.Duration {
	if tc.end < tc.start {
		return 0
	}
	return time.Duration(tc.end - tc.start)
}

// parents returns each span's parent index, building it on first use.
func (tc *traceCtx) parents() []int32 {
	if tc.parent != nil {
		return tc.parent
	}
	spans := tc.t.Spans
	byID := make(map[model.SpanID]int32, len(spans))
	for i, s := range spans {
		byID[s.SpanID] = int32(i)
	}
	tc.parent = make([]int32, len(spans))
	for i, s := range spans {
		tc.parent[i] = -1
		if !s.ParentSpanID.IsZero() {
			if p, ok := byID[s.ParentSpanID]; ok && int(p) != i {
				tc.parent[i] = p
			}
		}
	}
	return tc.parent
}

// spanCtx is what a field expression sees: a span, and the event and link
// an event- or link-scoped condition is evaluated against.
type spanCtx struct {
	tc   *traceCtx
	s    *model.Span
	ev   *model.Event
	link *model.Link
	idx  int // index+1 of s in tc.t.Spans when known, 0 otherwise
}

// index returns the span's index in the trace, or -1.
func (c *spanCtx) index() int {
	if c.idx > 0 {
		return c.idx - 1
	}
	for i, s := range c.tc.t.Spans {
		if s == c.s {
			c.idx = i + 1
			return i
		}
	}
	return -1
}

type evalFn func(c *spanCtx) Value

// exprInfo records which per-span collections an expression ranges over.
type exprInfo struct {
	events, links bool
}

// compiler turns field expressions into closures.
type compiler struct{}

func (cp *compiler) field(e traceql.FieldExpr, info *exprInfo) evalFn {
	switch e := e.(type) {
	case *traceql.Static:
		v := *e
		return func(*spanCtx) Value { return v }
	case *traceql.Attribute:
		return cp.attribute(e, info)
	case *traceql.UnaryExpr:
		x := cp.field(e.X, info)
		if e.Op == traceql.OpNot {
			return func(c *spanCtx) Value {
				v := x(c)
				if v.Type != traceql.TypeBool {
					return nilValue
				}
				return Value{Type: traceql.TypeBool, B: !v.B}
			}
		}
		return func(c *spanCtx) Value { return negateValue(x(c)) }
	case *traceql.BinaryExpr:
		l, r := cp.field(e.LHS, info), cp.field(e.RHS, info)
		switch op := e.Op; {
		case op == traceql.OpAnd:
			return func(c *spanCtx) Value {
				if a := l(c); a.Type != traceql.TypeBool || !a.B {
					return Value{Type: traceql.TypeBool}
				}
				b := r(c)
				return Value{Type: traceql.TypeBool, B: b.Type == traceql.TypeBool && b.B}
			}
		case op == traceql.OpOr:
			return func(c *spanCtx) Value {
				if a := l(c); a.Type == traceql.TypeBool && a.B {
					return trueValue
				}
				b := r(c)
				return Value{Type: traceql.TypeBool, B: b.Type == traceql.TypeBool && b.B}
			}
		case op == traceql.OpRe || op == traceql.OpNre:
			// The parser guarantees a string literal on the right.
			re := regexp.MustCompile(anchor(e.RHS.(*traceql.Static).S))
			want := op == traceql.OpRe
			if a, ok := e.LHS.(*traceql.Attribute); ok && a.Scope != traceql.ScopeIntrinsic {
				return cp.arrayAware(a, info, !want, func(_ *spanCtx, v Value) bool {
					return v.Type == traceql.TypeString && re.MatchString(v.S) == want
				})
			}
			return func(c *spanCtx) Value {
				v := l(c)
				if v.Type != traceql.TypeString {
					return Value{Type: traceql.TypeBool}
				}
				return Value{Type: traceql.TypeBool, B: re.MatchString(v.S) == want}
			}
		case op == traceql.OpEq || op == traceql.OpNeq:
			// "= nil" tests for absence, "!= nil" for presence; otherwise a
			// missing value makes every comparison false.
			if st, ok := e.RHS.(*traceql.Static); ok && st.Type == traceql.TypeNil {
				return nilTest(l, op)
			}
			if st, ok := e.LHS.(*traceql.Static); ok && st.Type == traceql.TypeNil {
				return nilTest(r, op)
			}
			if a, ok := e.LHS.(*traceql.Attribute); ok && a.Scope != traceql.ScopeIntrinsic {
				return cp.arrayAware(a, info, op == traceql.OpNeq, func(c *spanCtx, v Value) bool { return compare(op, v, r(c)) })
			}
			return func(c *spanCtx) Value {
				return Value{Type: traceql.TypeBool, B: compare(op, l(c), r(c))}
			}
		case op.IsComparison():
			if a, ok := e.LHS.(*traceql.Attribute); ok && a.Scope != traceql.ScopeIntrinsic {
				return cp.arrayAware(a, info, false, func(c *spanCtx, v Value) bool { return compare(op, v, r(c)) })
			}
			return func(c *spanCtx) Value {
				return Value{Type: traceql.TypeBool, B: compare(op, l(c), r(c))}
			}
		default:
			return func(c *spanCtx) Value { return arith(op, l(c), r(c)) }
		}
	}
	return func(*spanCtx) Value { return nilValue }
}

func nilTest(x evalFn, op traceql.Op) evalFn {
	want := op == traceql.OpEq
	return func(c *spanCtx) Value {
		return Value{Type: traceql.TypeBool, B: (x(c).Type == traceql.TypeNil) == want}
	}
}

// anchor makes a regular expression match whole values, as Tempo's
// TraceQL does.
func anchor(re string) string { return "^(?:" + re + ")$" }

func (cp *compiler) attribute(a *traceql.Attribute, info *exprInfo) evalFn {
	if a.Scope == traceql.ScopeIntrinsic {
		return cp.intrinsic(a.Intrinsic, info)
	}
	raw := cp.rawAttribute(a, info)
	return func(c *spanCtx) Value {
		v, ok := raw(c)
		if !ok {
			return nilValue
		}
		return fromModel(v)
	}
}

// rawFn returns an attribute's stored value and whether it is present.
type rawFn func(c *spanCtx) (model.Value, bool)

// rawAttribute looks up a scoped or unscoped (span, then resource)
// attribute.
func (cp *compiler) rawAttribute(a *traceql.Attribute, info *exprInfo) rawFn {
	if a.Parent {
		own := *a
		own.Parent = false
		raw := cp.rawAttribute(&own, info)
		return func(c *spanCtx) (model.Value, bool) {
			i := c.index()
			if i < 0 {
				return model.Value{}, false
			}
			p := c.tc.parents()[i]
			if p < 0 {
				return model.Value{}, false
			}
			pc := spanCtx{tc: c.tc, s: c.tc.t.Spans[p], idx: int(p) + 1}
			return raw(&pc)
		}
	}
	name := a.Name
	switch a.Scope {
	case traceql.ScopeSpan:
		return func(c *spanCtx) (model.Value, bool) { return c.s.Attributes.Get(name) }
	case traceql.ScopeResource:
		return func(c *spanCtx) (model.Value, bool) {
			if c.s.Resource == nil {
				return model.Value{}, false
			}
			return c.s.Resource.Attributes.Get(name)
		}
	case traceql.ScopeEvent:
		info.events = true
		return func(c *spanCtx) (model.Value, bool) {
			if c.ev == nil {
				return model.Value{}, false
			}
			return c.ev.Attributes.Get(name)
		}
	case traceql.ScopeLink:
		info.links = true
		return func(c *spanCtx) (model.Value, bool) {
			if c.link == nil {
				return model.Value{}, false
			}
			return c.link.Attributes.Get(name)
		}
	case traceql.ScopeInstrumentation:
		return func(c *spanCtx) (model.Value, bool) {
			if c.s.Scope == nil {
				return model.Value{}, false
			}
			return c.s.Scope.Attributes.Get(name)
		}
	}
	return func(c *spanCtx) (model.Value, bool) {
		if v, ok := c.s.Attributes.Get(name); ok {
			return v, true
		}
		if c.s.Resource == nil {
			return model.Value{}, false
		}
		return c.s.Resource.Attributes.Get(name)
	}
}

// arrayAware wraps a comparison whose left side is an attribute so that an
// array attribute compares element by element, as Tempo does: "=", "=~",
// "<" ... hold when one element satisfies them, "!=" and "!~" when every
// element does (no element equals or matches). cmpElem compares one value.
func (cp *compiler) arrayAware(a *traceql.Attribute, info *exprInfo, negated bool, cmpElem func(c *spanCtx, v Value) bool) evalFn {
	raw := cp.rawAttribute(a, info)
	return func(c *spanCtx) Value {
		mv, ok := raw(c)
		if !ok {
			return Value{Type: traceql.TypeBool}
		}
		if mv.Type() != model.ValueSlice {
			return Value{Type: traceql.TypeBool, B: cmpElem(c, fromModel(mv))}
		}
		elems := mv.Slice()
		for _, el := range elems {
			if cmpElem(c, fromModel(el)) != negated {
				return Value{Type: traceql.TypeBool, B: !negated}
			}
		}
		return Value{Type: traceql.TypeBool, B: negated && len(elems) > 0}
	}
}

func str(s string) Value { return Value{Type: traceql.TypeString, S: s} }

func dur(d time.Duration) Value { return Value{Type: traceql.TypeDuration, D: d} }

func (cp *compiler) intrinsic(in traceql.Intrinsic, info *exprInfo) evalFn {
	switch in {
	case traceql.IntrinsicName:
		return func(c *spanCtx) Value { return str(c.s.Name) }
	case traceql.IntrinsicStatus:
		return func(c *spanCtx) Value { return Value{Type: traceql.TypeStatus, Status: c.s.Status.Code} }
	case traceql.IntrinsicStatusMessage:
		return func(c *spanCtx) Value { return str(c.s.Status.Message) }
	case traceql.IntrinsicKind:
		return func(c *spanCtx) Value { return Value{Type: traceql.TypeKind, Kind: c.s.Kind} }
	case traceql.IntrinsicDuration:
		return func(c *spanCtx) Value { return dur(c.s.Duration()) }
	case traceql.IntrinsicRootName:
		return func(c *spanCtx) Value {
			if c.tc.root == nil {
				return nilValue
			}
			return str(c.tc.root.Name)
		}
	case traceql.IntrinsicRootServiceName:
		return func(c *spanCtx) Value {
			if c.tc.root == nil {
				return nilValue
			}
			return str(c.tc.root.ServiceName())
		}
	case traceql.IntrinsicTraceDuration:
		return func(c *spanCtx) Value { return dur(c.tc.duration()) }
	case traceql.IntrinsicTraceID:
		return func(c *spanCtx) Value { return str(c.s.TraceID.String()) }
	case traceql.IntrinsicSpanID:
		return func(c *spanCtx) Value { return str(c.s.SpanID.String()) }
	case traceql.IntrinsicParentID:
		return func(c *spanCtx) Value {
			if c.s.ParentSpanID.IsZero() {
				return nilValue
			}
			return str(c.s.ParentSpanID.String())
		}
	case traceql.IntrinsicEventName:
		info.events = true
		return func(c *spanCtx) Value {
			if c.ev == nil {
				return nilValue
			}
			return str(c.ev.Name)
		}
	case traceql.IntrinsicEventTimeSinceStart:
		info.events = true
		return func(c *spanCtx) Value {
			if c.ev == nil || c.ev.TimeUnixNano < c.s.StartTimeUnixNano {
				return nilValue
			}
			return dur(time.Duration(c.ev.TimeUnixNano - c.s.StartTimeUnixNano))
		}
	case traceql.IntrinsicLinkTraceID:
		info.links = true
		return func(c *spanCtx) Value {
			if c.link == nil {
				return nilValue
			}
			return str(c.link.TraceID.String())
		}
	case traceql.IntrinsicLinkSpanID:
		info.links = true
		return func(c *spanCtx) Value {
			if c.link == nil {
				return nilValue
			}
			return str(c.link.SpanID.String())
		}
	case traceql.IntrinsicInstrumentationName:
		return func(c *spanCtx) Value {
			if c.s.Scope == nil {
				return nilValue
			}
			return str(c.s.Scope.Name)
		}
	case traceql.IntrinsicNestedSetLeft, traceql.IntrinsicNestedSetRight, traceql.IntrinsicNestedSetParent, traceql.IntrinsicChildCount:
		return func(c *spanCtx) Value {
			i := c.index()
			if i < 0 {
				return nilValue
			}
			ns := c.tc.nestedSets()[i]
			v := ns.left
			switch in {
			case traceql.IntrinsicNestedSetRight:
				v = ns.right
			case traceql.IntrinsicNestedSetParent:
				v = ns.parent
			case traceql.IntrinsicChildCount:
				v = ns.children
			}
			return Value{Type: traceql.TypeInt, I: v}
		}
	case traceql.IntrinsicInstrumentationVersion:
		return func(c *spanCtx) Value {
			if c.s.Scope == nil {
				return nilValue
			}
			return str(c.s.Scope.Version)
		}
	}
	return func(*spanCtx) Value { return nilValue }
}

// fromModel converts an attribute value to a runtime value. Strings,
// booleans, integers and doubles keep their type; bytes, arrays and maps
// become their text form.
func fromModel(v model.Value) Value {
	switch v.Type() {
	case model.ValueString:
		return str(v.Str())
	case model.ValueBool:
		return Value{Type: traceql.TypeBool, B: v.Bool()}
	case model.ValueInt:
		return Value{Type: traceql.TypeInt, I: v.Int()}
	case model.ValueDouble:
		return Value{Type: traceql.TypeFloat, F: v.Double()}
	case model.ValueEmpty:
		return nilValue
	}
	return str(v.AsString())
}

func isNumber(t traceql.StaticType) bool { return t == traceql.TypeInt || t == traceql.TypeFloat }

func toFloat(v Value) float64 {
	switch v.Type {
	case traceql.TypeInt:
		return float64(v.I)
	case traceql.TypeFloat:
		return v.F
	case traceql.TypeDuration:
		return float64(v.D)
	}
	return math.NaN()
}

// compare applies a comparison operator. Values of different types are
// unequal and unordered (every comparison is false) except integers and
// floats, which compare as numbers. A nil (missing) value makes every
// comparison false, "!=" included.
func compare(op traceql.Op, a, b Value) bool {
	if a.Type == traceql.TypeNil || b.Type == traceql.TypeNil {
		return false
	}
	var c int
	switch {
	case a.Type == traceql.TypeInt && b.Type == traceql.TypeInt:
		c = cmp3(a.I, b.I)
	case isNumber(a.Type) && isNumber(b.Type):
		x, y := toFloat(a), toFloat(b)
		if math.IsNaN(x) || math.IsNaN(y) {
			return op == traceql.OpNeq
		}
		c = cmp3(x, y)
	case a.Type != b.Type:
		return false
	case a.Type == traceql.TypeDuration:
		c = cmp3(a.D, b.D)
	case a.Type == traceql.TypeString:
		c = strings.Compare(a.S, b.S)
	case a.Type == traceql.TypeBool:
		if op != traceql.OpEq && op != traceql.OpNeq {
			return false
		}
		return (a.B == b.B) == (op == traceql.OpEq)
	case a.Type == traceql.TypeStatus:
		if op != traceql.OpEq && op != traceql.OpNeq {
			return false
		}
		return (a.Status == b.Status) == (op == traceql.OpEq)
	case a.Type == traceql.TypeKind:
		if op != traceql.OpEq && op != traceql.OpNeq {
			return false
		}
		return (a.Kind == b.Kind) == (op == traceql.OpEq)
	default:
		return false
	}
	switch op {
	case traceql.OpEq:
		return c == 0
	case traceql.OpNeq:
		return c != 0
	case traceql.OpLt:
		return c < 0
	case traceql.OpLte:
		return c <= 0
	case traceql.OpGt:
		return c > 0
	case traceql.OpGte:
		return c >= 0
	}
	return false
}

func cmp3[T int64 | float64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func negateValue(v Value) Value {
	switch v.Type {
	case traceql.TypeInt:
		v.I = -v.I
	case traceql.TypeFloat:
		v.F = -v.F
	case traceql.TypeDuration:
		v.D = -v.D
	default:
		return nilValue
	}
	return v
}

// arith applies + - * / % ^. Integers stay integers except in "/" and "^";
// a duration with a duration adds and subtracts, a duration times or
// divided by a number stays a duration; anything else is nil.
func arith(op traceql.Op, a, b Value) Value {
	switch {
	case a.Type == traceql.TypeInt && b.Type == traceql.TypeInt && op != traceql.OpDiv && op != traceql.OpPow:
		switch op {
		case traceql.OpAdd:
			return Value{Type: traceql.TypeInt, I: a.I + b.I}
		case traceql.OpSub:
			return Value{Type: traceql.TypeInt, I: a.I - b.I}
		case traceql.OpMul:
			return Value{Type: traceql.TypeInt, I: a.I * b.I}
		case traceql.OpMod:
			if b.I == 0 {
				return nilValue
			}
			return Value{Type: traceql.TypeInt, I: a.I % b.I}
		}
	case isNumber(a.Type) && isNumber(b.Type):
		f := arithFloat(op, toFloat(a), toFloat(b))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nilValue
		}
		return Value{Type: traceql.TypeFloat, F: f}
	case a.Type == traceql.TypeDuration && b.Type == traceql.TypeDuration && (op == traceql.OpAdd || op == traceql.OpSub):
		if op == traceql.OpAdd {
			return dur(a.D + b.D)
		}
		return dur(a.D - b.D)
	case a.Type == traceql.TypeDuration && isNumber(b.Type) && (op == traceql.OpMul || op == traceql.OpDiv):
		f := arithFloat(op, float64(a.D), toFloat(b))
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > math.MaxInt64 {
			return nilValue
		}
		return dur(time.Duration(f))
	case isNumber(a.Type) && b.Type == traceql.TypeDuration && op == traceql.OpMul:
		return arith(op, b, a)
	}
	return nilValue
}

func arithFloat(op traceql.Op, x, y float64) float64 {
	switch op {
	case traceql.OpAdd:
		return x + y
	case traceql.OpSub:
		return x - y
	case traceql.OpMul:
		return x * y
	case traceql.OpDiv:
		if y == 0 {
			return math.NaN()
		}
		return x / y
	case traceql.OpMod:
		if y == 0 {
			return math.NaN()
		}
		return math.Mod(x, y)
	case traceql.OpPow:
		return math.Pow(x, y)
	}
	return math.NaN()
}
