package traceql

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clew-dev/clew/internal/model"
)

// ParseError is a syntax or type error, with the place it was found.
type ParseError struct {
	// Offset is the byte offset of the offending token in the query.
	Offset int
	// Line and Col are 1-based; Col counts characters, not bytes.
	Line, Col int
	Msg       string
}

// Error returns "parse error at line L, col C: message".
func (e *ParseError) Error() string {
	return fmt.Sprintf("parse error at line %d, col %d: %s", e.Line, e.Col, e.Msg)
}

// maxDepth bounds the nesting of parentheses and braces.
const maxDepth = 200

type parser struct {
	input  string
	tokens []token
	i      int
	depth  int
}

// errAbort carries a *ParseError through panics inside the parser; Parse
// recovers it. No other panic is recovered.
type errAbort struct{ err *ParseError }

// Parse parses a query.
func Parse(input string) (q *Query, err error) {
	if len(input) > MaxQueryBytes {
		return nil, &ParseError{Line: 1, Col: 1, Msg: fmt.Sprintf("query is longer than %d bytes", MaxQueryBytes)}
	}
	if !utf8.ValidString(input) {
		return nil, &ParseError{Line: 1, Col: 1, Msg: "query is not valid UTF-8"}
	}
	p := &parser{input: input, tokens: lex(input)}
	if last := p.tokens[len(p.tokens)-1]; last.typ == tokError {
		return nil, p.errorAt(last.pos, "%s", last.val)
	}
	defer func() {
		if r := recover(); r != nil {
			a, ok := r.(errAbort)
			if !ok {
				panic(r)
			}
			q, err = nil, a.err
		}
	}()
	if p.cur().typ == tokEOF {
		p.fail(p.cur(), "empty query, expected a spanset filter such as { }")
	}
	pl, m := p.parsePipeline(true)
	hints := p.parseHints()
	if t := p.cur(); t.typ != tokEOF {
		p.fail(t, "unexpected %s, expected \"|\", \"&&\", \"||\", a structural operator or end of query", t.describe())
	}
	return &Query{Pipeline: pl, Metrics: m, Hints: hints}, nil
}

// parseHints parses an optional trailing "with(name=value, ...)".
func (p *parser) parseHints() []Hint {
	if !p.isIdent("with") || p.peekAt(1).typ != tokLParen {
		return nil
	}
	p.advance()
	p.advance()
	var hints []Hint
	for {
		t := p.cur()
		if t.typ != tokIdent {
			p.fail(t, "unexpected %s, expected a hint name such as sample", t.describe())
		}
		p.advance()
		if !p.isOp(OpEq) {
			p.fail(p.cur(), "unexpected %s, expected \"=\" after hint %s", p.cur().describe(), t.val)
		}
		p.advance()
		vt := p.cur()
		v, ok := p.parseFieldUnary().(*Static)
		if !ok {
			p.fail(vt, "hint %s takes a literal value", t.val)
		}
		hints = append(hints, Hint{Name: t.val, Value: *v})
		if p.cur().typ != tokComma {
			break
		}
		p.advance()
	}
	p.expect(tokRParen, `"," or ")" in with(...)`)
	return hints
}

// MustParse is Parse for queries known to be valid; it panics on error.
func MustParse(input string) *Query {
	q, err := Parse(input)
	if err != nil {
		panic(err)
	}
	return q
}

func (p *parser) errorAt(offset int, format string, args ...any) *ParseError {
	line, col := 1, 1
	for _, r := range p.input[:min(offset, len(p.input))] {
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return &ParseError{Offset: offset, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) fail(t token, format string, args ...any) {
	panic(errAbort{p.errorAt(t.pos, format, args...)})
}

func (p *parser) cur() token { return p.tokens[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.tokens) {
		return p.tokens[p.i+n]
	}
	return p.tokens[len(p.tokens)-1]
}

func (p *parser) advance() token {
	t := p.tokens[p.i]
	if p.i < len(p.tokens)-1 {
		p.i++
	}
	return t
}

func (p *parser) expect(typ tokenType, what string) token {
	t := p.cur()
	if t.typ != typ {
		p.fail(t, "unexpected %s, expected %s", t.describe(), what)
	}
	return p.advance()
}

func (p *parser) enter() {
	if p.depth++; p.depth > maxDepth {
		p.fail(p.cur(), "query nests deeper than %d levels", maxDepth)
	}
}

func (p *parser) leave() { p.depth-- }

func (p *parser) isOp(op Op) bool { t := p.cur(); return t.typ == tokOp && t.op == op }

func (p *parser) isIdent(name string) bool {
	t := p.cur()
	return t.typ == tokIdent && t.val == name
}

var metricsByName = map[string]MetricsFuncName{
	"rate": MetricsRate, "count_over_time": MetricsCountOverTime,
	"quantile_over_time": MetricsQuantileOverTime, "histogram_over_time": MetricsHistogramOverTime,
	"avg_over_time": MetricsAvgOverTime, "min_over_time": MetricsMinOverTime,
	"max_over_time": MetricsMaxOverTime, "sum_over_time": MetricsSumOverTime,
}

var aggregateByName = map[string]AggregateFunc{"count": AggCount, "avg": AggAvg, "min": AggMin, "max": AggMax, "sum": AggSum}

func (p *parser) parsePipeline(top bool) (*Pipeline, *MetricsFunc) {
	pl := &Pipeline{Stages: []Stage{p.parseStage()}}
	for p.cur().typ == tokPipe {
		p.advance()
		if t := p.cur(); t.typ == tokIdent {
			if _, ok := metricsByName[t.val]; ok {
				if !top {
					p.fail(t, "metrics function %s() is only allowed as the last stage of the whole query", t.val)
				}
				m := p.parseMetrics()
				for {
					if c := p.cur(); c.typ == tokOp && c.op >= OpEq && c.op <= OpGte {
						m.Second = append(m.Second, p.parseSecondStage())
						continue
					}
					if p.cur().typ != tokPipe {
						break
					}
					p.advance()
					m.Second = append(m.Second, p.parseSecondStage())
				}
				return pl, m
			}
		}
		pl.Stages = append(pl.Stages, p.parseStage())
	}
	return pl, nil
}

func (p *parser) parseStage() Stage {
	t := p.cur()
	switch t.typ {
	case tokIdent:
		if _, ok := aggregateByName[t.val]; ok && p.peekAt(1).typ == tokLParen {
			return p.parseScalarFilter()
		}
		switch t.val {
		case "by":
			p.advance()
			p.expect(tokLParen, `"(" after by`)
			e := p.parseFieldExpr()
			p.expect(tokRParen, `")" to close by(`)
			return &GroupBy{Expr: e}
		case "select":
			p.advance()
			p.expect(tokLParen, `"(" after select`)
			s := &Select{Attrs: p.parseAttributeList("select")}
			p.expect(tokRParen, `"," or ")" in select(...)`)
			return s
		case "coalesce":
			p.advance()
			p.expect(tokLParen, `"(" after coalesce`)
			p.expect(tokRParen, `")": coalesce takes no arguments`)
			return &Coalesce{}
		}
		if _, ok := metricsByName[t.val]; ok {
			p.fail(t, "metrics function %s() must follow a spanset pipeline, as in { } | %s()", t.val, t.val)
		}
	case tokInt, tokFloat, tokDuration:
		return p.parseScalarFilter()
	case tokLParen:
		// "(count() + 1) * 2 > 4" is a scalar filter, "({ } | ...)" a
		// nested pipeline: the first token after the parentheses decides.
		n := 0
		for p.peekAt(n).typ == tokLParen {
			n++
		}
		if t := p.peekAt(n); t.typ == tokInt || t.typ == tokFloat || t.typ == tokDuration ||
			(t.typ == tokIdent && aggregateByName[t.val] != 0) || (t.typ == tokOp && t.op == OpSub) {
			return p.parseScalarFilter()
		}
	}
	return p.parseSpansetExpr()
}

func (p *parser) parseAttributeList(fn string) []*Attribute {
	var out []*Attribute
	if t := p.cur(); t.typ == tokRParen {
		p.fail(t, "%s() takes attributes or intrinsics, found %s", fn, t.describe())
	}
	for {
		t := p.cur()
		a, ok := p.parseFieldPrimary().(*Attribute)
		if !ok {
			p.fail(t, "%s() takes attributes or intrinsics, found %s", fn, t.describe())
		}
		out = append(out, a)
		if p.cur().typ != tokComma {
			return out
		}
		p.advance()
	}
}

// Spanset expressions: "&&" and "||" bind loosest (same precedence, left
// associative, as in Tempo), the structural operators tighter.

func (p *parser) parseSpansetExpr() SpansetExpr {
	l := p.parseSpansetStructural()
	for p.isOp(OpAnd) || p.isOp(OpOr) {
		op := p.advance().op
		r := p.parseSpansetStructural()
		l = &SpansetOp{Op: op, LHS: l, RHS: r}
	}
	return l
}

var structuralOps = map[Op]Op{
	OpGt: OpChild, OpLt: OpParent, OpDescendant: OpDescendant, OpAncestor: OpAncestor,
	OpSibling: OpSibling, OpNotChild: OpNotChild, OpNotParent: OpNotParent,
	OpNotDescendant: OpNotDescendant, OpNotAncestor: OpNotAncestor, OpNre: OpNotSibling,
	OpUnionChild: OpUnionChild, OpUnionParent: OpUnionParent, OpUnionDescendant: OpUnionDescendant,
	OpUnionAncestor: OpUnionAncestor, OpUnionSibling: OpUnionSibling,
}

func (p *parser) parseSpansetStructural() SpansetExpr {
	l := p.parseSpansetPrimary()
	for {
		t := p.cur()
		if t.typ != tokOp {
			return l
		}
		op, ok := structuralOps[t.op]
		if !ok {
			return l
		}
		p.advance()
		r := p.parseSpansetPrimary()
		l = &SpansetOp{Op: op, LHS: l, RHS: r}
	}
}

func (p *parser) parseSpansetPrimary() SpansetExpr {
	t := p.cur()
	switch t.typ {
	case tokLBrace:
		p.enter()
		defer p.leave()
		p.advance()
		if p.cur().typ == tokRBrace {
			p.advance()
			return &SpansetFilter{Expr: &Static{Type: TypeBool, B: true}}
		}
		et := p.cur()
		e := p.parseFieldExpr()
		if c := p.cur(); c.typ != tokRBrace {
			p.fail(c, "unexpected %s, expected an operator or \"}\" to close the spanset filter", c.describe())
		}
		if !maybeBool(e) {
			p.fail(et, "a spanset filter needs a condition (true or false), not a value")
		}
		p.advance()
		return &SpansetFilter{Expr: e}
	case tokLParen:
		p.enter()
		defer p.leave()
		p.advance()
		pl, _ := p.parsePipeline(false)
		if c := p.cur(); c.typ != tokRParen {
			p.fail(c, "unexpected %s, expected \"|\", a spanset operator or \")\"", c.describe())
		}
		p.advance()
		if len(pl.Stages) == 1 {
			if e, ok := pl.Stages[0].(SpansetExpr); ok {
				return e
			}
		}
		return pl
	}
	p.fail(t, "unexpected %s, expected a spanset filter \"{ ... }\" or \"(\"", t.describe())
	return nil
}

// Scalar filters: "count() > 2", "avg(duration) > 1s", "sum(.a) / count() > 3".

func (p *parser) parseScalarFilter() Stage {
	start := p.cur()
	l := p.parseScalarAdd()
	t := p.cur()
	if t.typ != tokOp || t.op < OpEq || t.op > OpGte {
		p.fail(t, "unexpected %s, expected a comparison (=, !=, <, <=, >, >=) after the aggregate", t.describe())
	}
	p.advance()
	r := p.parseScalarAdd()
	if !hasAggregate(l) && !hasAggregate(r) {
		p.fail(start, "a scalar filter needs an aggregate such as count() or avg(duration)")
	}
	return &ScalarFilter{Op: t.op, LHS: l, RHS: r}
}

func hasAggregate(e ScalarExpr) bool {
	switch e := e.(type) {
	case *Aggregate:
		return true
	case *ScalarBinary:
		return hasAggregate(e.LHS) || hasAggregate(e.RHS)
	}
	return false
}

func (p *parser) parseScalarAdd() ScalarExpr {
	l := p.parseScalarMul()
	for p.isOp(OpAdd) || p.isOp(OpSub) {
		op := p.advance().op
		l = &ScalarBinary{Op: op, LHS: l, RHS: p.parseScalarMul()}
	}
	return l
}

func (p *parser) parseScalarMul() ScalarExpr {
	l := p.parseScalarPow()
	for p.isOp(OpMul) || p.isOp(OpDiv) || p.isOp(OpMod) {
		op := p.advance().op
		l = &ScalarBinary{Op: op, LHS: l, RHS: p.parseScalarPow()}
	}
	return l
}

func (p *parser) parseScalarPow() ScalarExpr {
	b := p.parseScalarPrimary()
	if p.isOp(OpPow) {
		p.advance()
		return &ScalarBinary{Op: OpPow, LHS: b, RHS: p.parseScalarPow()}
	}
	return b
}

func (p *parser) parseScalarPrimary() ScalarExpr {
	t := p.cur()
	switch t.typ {
	case tokIdent:
		f, ok := aggregateByName[t.val]
		if !ok {
			break
		}
		p.advance()
		p.expect(tokLParen, `"(" after `+t.val)
		a := &Aggregate{Func: f}
		if f == AggCount {
			p.expect(tokRParen, `")": count() takes no argument`)
			return a
		}
		if p.cur().typ == tokRParen {
			p.fail(p.cur(), "%s() needs an argument, as in %s(duration)", t.val, t.val)
		}
		a.Expr = p.parseFieldExpr()
		p.expect(tokRParen, `")" to close `+t.val+"(")
		return a
	case tokInt, tokFloat, tokDuration:
		s := p.parseFieldPrimary().(*Static)
		return s
	case tokOp:
		if t.op == OpSub {
			p.advance()
			x := p.parseScalarPrimary()
			if s, ok := x.(*Static); ok {
				return negate(s)
			}
			return &ScalarBinary{Op: OpSub, LHS: &Static{Type: TypeInt}, RHS: x}
		}
	case tokLParen:
		p.enter()
		defer p.leave()
		p.advance()
		e := p.parseScalarAdd()
		p.expect(tokRParen, `")"`)
		return e
	}
	p.fail(t, "unexpected %s, expected an aggregate (count, avg, min, max, sum) or a number", t.describe())
	return nil
}

// Field expressions, loosest first, as in Tempo's grammar: && || ;
// comparisons ; + - ; ! ; * / % ; ^ (right associative) ; unary minus.

func (p *parser) parseFieldExpr() FieldExpr {
	p.enter()
	defer p.leave()
	lt := p.cur()
	l := p.parseFieldCmp()
	for p.isOp(OpAnd) || p.isOp(OpOr) {
		t := p.advance()
		rt := p.cur()
		r := p.parseFieldCmp()
		if !maybeBool(l) {
			p.fail(lt, "the left side of %s must be a condition, not a value", t.op)
		}
		if !maybeBool(r) {
			p.fail(rt, "the right side of %s must be a condition, not a value", t.op)
		}
		l = &BinaryExpr{Op: t.op, LHS: l, RHS: r}
	}
	return l
}

// maybeBool reports whether e may evaluate to a boolean: it is not a
// non-boolean literal, an intrinsic of another type, or arithmetic.
func maybeBool(e FieldExpr) bool {
	switch e := e.(type) {
	case *Static:
		return e.Type == TypeBool
	case *Attribute:
		_, typed := staticTypeOf(e)
		return !typed
	case *BinaryExpr:
		return !e.Op.IsArithmetic()
	case *UnaryExpr:
		return e.Op == OpNot
	}
	return true
}

func (p *parser) parseFieldCmp() FieldExpr {
	l := p.parseFieldAdd()
	for {
		t := p.cur()
		if t.typ != tokOp || !t.op.IsComparison() {
			return l
		}
		p.advance()
		rt := p.cur()
		r := p.parseFieldAdd()
		if t.op == OpRe || t.op == OpNre {
			s, ok := r.(*Static)
			if !ok || s.Type != TypeString {
				p.fail(rt, "the right side of %s must be a string (a regular expression), found %s", t.op, rt.describe())
			}
			if _, err := regexp.Compile(s.S); err != nil {
				p.fail(rt, "invalid regular expression: %v", err)
			}
		}
		checkComparable(p, t, l, r)
		l = &BinaryExpr{Op: t.op, LHS: l, RHS: r}
	}
}

// checkComparable rejects comparisons between literals and intrinsics of
// types that can never be equal, such as status = 200.
func checkComparable(p *parser, t token, l, r FieldExpr) {
	lt, lok := staticTypeOf(l)
	rt, rok := staticTypeOf(r)
	if !lok || !rok || lt == TypeNil || rt == TypeNil || lt == rt {
		return
	}
	num := func(t StaticType) bool { return t == TypeInt || t == TypeFloat }
	if num(lt) && num(rt) {
		return
	}
	p.fail(t, "cannot compare %s with %s", lt, rt)
}

// staticTypeOf returns the type of literals and of intrinsics whose type is
// fixed.
func staticTypeOf(e FieldExpr) (StaticType, bool) {
	switch e := e.(type) {
	case *Static:
		return e.Type, true
	case *Attribute:
		switch e.Intrinsic {
		case IntrinsicStatus:
			return TypeStatus, true
		case IntrinsicKind:
			return TypeKind, true
		case IntrinsicDuration, IntrinsicTraceDuration, IntrinsicEventTimeSinceStart:
			return TypeDuration, true
		case IntrinsicName, IntrinsicStatusMessage, IntrinsicRootName, IntrinsicRootServiceName,
			IntrinsicTraceID, IntrinsicSpanID, IntrinsicParentID, IntrinsicEventName,
			IntrinsicLinkTraceID, IntrinsicLinkSpanID, IntrinsicInstrumentationName, IntrinsicInstrumentationVersion:
			return TypeString, true
		case IntrinsicNestedSetLeft, IntrinsicNestedSetRight, IntrinsicNestedSetParent, IntrinsicChildCount:
			return TypeInt, true
		}
	}
	return 0, false
}

func (p *parser) parseFieldAdd() FieldExpr {
	l := p.parseFieldNot()
	for p.isOp(OpAdd) || p.isOp(OpSub) {
		op := p.advance().op
		l = &BinaryExpr{Op: op, LHS: l, RHS: p.parseFieldNot()}
	}
	return l
}

// parseFieldNot: as in Tempo, "!" binds looser than * / % and ^, so
// "!a * b" is !(a * b).
func (p *parser) parseFieldNot() FieldExpr {
	if p.isOp(OpNot) {
		p.enter()
		defer p.leave()
		p.advance()
		xt := p.cur()
		x := p.parseFieldNot()
		if !maybeBool(x) {
			p.fail(xt, "! needs a condition, not a value")
		}
		return &UnaryExpr{Op: OpNot, X: x}
	}
	return p.parseFieldMul()
}

func (p *parser) parseFieldMul() FieldExpr {
	l := p.parseFieldPow()
	for p.isOp(OpMul) || p.isOp(OpDiv) || p.isOp(OpMod) {
		op := p.advance().op
		l = &BinaryExpr{Op: op, LHS: l, RHS: p.parseFieldPow()}
	}
	return l
}

// parseFieldPow: "^" is right associative and binds looser than unary
// minus, as in Tempo: "-2 ^ 2" is (-2) ^ 2.
func (p *parser) parseFieldPow() FieldExpr {
	b := p.parseFieldUnary()
	if p.isOp(OpPow) {
		p.enter()
		defer p.leave()
		p.advance()
		return &BinaryExpr{Op: OpPow, LHS: b, RHS: p.parseFieldPow()}
	}
	return b
}

// parseFieldUnary parses a primary with leading minus signs, and a "!"
// where an operand starts ("a * !b").
func (p *parser) parseFieldUnary() FieldExpr {
	switch {
	case p.isOp(OpNot):
		p.enter()
		defer p.leave()
		p.advance()
		xt := p.cur()
		x := p.parseFieldUnary()
		if !maybeBool(x) {
			p.fail(xt, "! needs a condition, not a value")
		}
		return &UnaryExpr{Op: OpNot, X: x}
	case p.isOp(OpSub):
		p.enter()
		defer p.leave()
		p.advance()
		x := p.parseFieldUnary()
		if s, ok := x.(*Static); ok && (s.Type == TypeInt || s.Type == TypeFloat || s.Type == TypeDuration) {
			return negate(s)
		}
		return &UnaryExpr{Op: OpSub, X: x}
	}
	return p.parseFieldPrimary()
}

func negate(s *Static) *Static {
	n := *s
	switch s.Type {
	case TypeInt:
		n.I = -s.I
	case TypeFloat:
		n.F = -s.F
	case TypeDuration:
		n.D = -s.D
	}
	return &n
}

var identStatics = map[string]Static{
	"true": {Type: TypeBool, B: true}, "false": {Type: TypeBool},
	"nil": {Type: TypeNil},
	"ok":  {Type: TypeStatus, Status: model.StatusOK}, "error": {Type: TypeStatus, Status: model.StatusError},
	"unset":       {Type: TypeStatus, Status: model.StatusUnset},
	"unspecified": {Type: TypeKind, Kind: model.SpanKindUnspecified},
	"internal":    {Type: TypeKind, Kind: model.SpanKindInternal},
	"server":      {Type: TypeKind, Kind: model.SpanKindServer},
	"client":      {Type: TypeKind, Kind: model.SpanKindClient},
	"producer":    {Type: TypeKind, Kind: model.SpanKindProducer},
	"consumer":    {Type: TypeKind, Kind: model.SpanKindConsumer},
}

func (p *parser) parseFieldPrimary() FieldExpr {
	t := p.cur()
	switch t.typ {
	case tokLParen:
		p.advance()
		e := p.parseFieldExpr()
		if c := p.cur(); c.typ != tokRParen {
			p.fail(c, "unexpected %s, expected an operator or \")\"", c.describe())
		}
		p.advance()
		return e
	case tokString:
		p.advance()
		return &Static{Type: TypeString, S: t.val}
	case tokInt:
		p.advance()
		n, _ := strconv.ParseInt(t.val, 10, 64)
		return &Static{Type: TypeInt, I: n}
	case tokFloat:
		p.advance()
		f, _ := strconv.ParseFloat(t.val, 64)
		return &Static{Type: TypeFloat, F: f}
	case tokDuration:
		p.advance()
		n, _ := strconv.ParseInt(t.val, 10, 64)
		return &Static{Type: TypeDuration, D: time.Duration(n)}
	case tokAttr:
		p.advance()
		return &Attribute{Scope: t.scope, Name: t.val, Parent: t.parent}
	case tokIntrinsicColon:
		p.advance()
		return &Attribute{Scope: ScopeIntrinsic, Intrinsic: intrinsicByName[t.val]}
	case tokIdent:
		if s, ok := identStatics[t.val]; ok {
			p.advance()
			return &s
		}
		if in, ok := intrinsicByName[t.val]; ok {
			p.advance()
			return &Attribute{Scope: ScopeIntrinsic, Intrinsic: in}
		}
		p.fail(t, "unknown identifier %s: attributes start with \".\" or a scope (span., resource., event., link., instrumentation.)", t.describe())
	}
	p.fail(t, "unexpected %s, expected a value, an attribute or an intrinsic", t.describe())
	return nil
}

// Metrics: "rate() by (resource.service.name)",
// "quantile_over_time(duration, 0.5, 0.99)".

// MaxTopK bounds n of topk(n) and bottomk(n).
const MaxTopK = 10000

// parseSecondStage parses topk(n) or bottomk(n) after a metrics function.
func (p *parser) parseSecondStage() SecondStage {
	t := p.cur()
	if t.typ == tokOp && t.op >= OpEq && t.op <= OpGte {
		p.advance()
		vt := p.cur()
		v, ok := p.parseFieldUnary().(*Static)
		if !ok || (v.Type != TypeInt && v.Type != TypeFloat) {
			p.fail(vt, "a comparison after a metrics function needs a number, found %s", vt.describe())
		}
		f := v.F
		if v.Type == TypeInt {
			f = float64(v.I)
		}
		return SecondStage{Op: t.op, Value: f}
	}
	if t.typ != tokIdent || (t.val != "topk" && t.val != "bottomk") {
		p.fail(t, "unexpected %s: after a metrics function only topk(n), bottomk(n) or a comparison may follow", t.describe())
	}
	p.advance()
	p.expect(tokLParen, `"(" after `+t.val)
	nt := p.expect(tokInt, "a number of series")
	n, _ := strconv.ParseInt(nt.val, 10, 64)
	if n < 1 || n > MaxTopK {
		p.fail(nt, "%s(%s): want 1 to %d series", t.val, nt.text, MaxTopK)
	}
	p.expect(tokRParen, `")" to close `+t.val+"(")
	return SecondStage{Bottom: t.val == "bottomk", N: int(n)}
}

func (p *parser) parseMetrics() *MetricsFunc {
	t := p.advance()
	m := &MetricsFunc{Func: metricsByName[t.val]}
	p.expect(tokLParen, `"(" after `+t.val)
	switch m.Func {
	case MetricsRate, MetricsCountOverTime:
		p.expect(tokRParen, `")": `+t.val+"() takes no arguments")
	default:
		at := p.cur()
		a, ok := p.parseFieldPrimary().(*Attribute)
		if !ok {
			p.fail(at, "%s() measures an attribute or intrinsic such as duration, found %s", t.val, at.describe())
		}
		m.Attr = a
		if m.Func == MetricsQuantileOverTime {
			if p.cur().typ != tokComma {
				p.fail(p.cur(), "quantile_over_time() needs at least one quantile, as in quantile_over_time(duration, 0.99)")
			}
			for p.cur().typ == tokComma {
				p.advance()
				qt := p.cur()
				var q float64
				switch qt.typ {
				case tokFloat:
					q, _ = strconv.ParseFloat(qt.val, 64)
				case tokInt:
					n, _ := strconv.ParseInt(qt.val, 10, 64)
					q = float64(n)
				default:
					p.fail(qt, "unexpected %s, expected a quantile between 0 and 1", qt.describe())
				}
				if q < 0 || q > 1 || math.IsNaN(q) {
					p.fail(qt, "quantile %s is outside [0, 1]", qt.text)
				}
				p.advance()
				m.Quantiles = append(m.Quantiles, q)
			}
		}
		p.expect(tokRParen, `")" to close `+t.val+"(")
	}
	if p.isIdent("by") {
		p.advance()
		p.expect(tokLParen, `"(" after by`)
		m.By = p.parseAttributeList("by")
		p.expect(tokRParen, `"," or ")" in by(...)`)
	}
	return m
}

// quoteNeeded reports whether an attribute name must be printed quoted.
func quoteNeeded(name string) bool {
	if name == "" {
		return true
	}
	for _, r := range name {
		if !isAttributeRune(r) {
			return true
		}
	}
	return strings.HasPrefix(name, "\"")
}
