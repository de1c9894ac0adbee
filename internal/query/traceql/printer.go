package traceql

import (
	"strconv"
	"strings"
	"time"
	"unicode"
)

// String prints the query in canonical form: one space around binary
// operators, nested binary expressions in parentheses, literals in the
// spelling the lexer reads back. Parse(q.String()) yields a tree equal to q.
func (q *Query) String() string {
	var b strings.Builder
	writePipeline(&b, q.Pipeline)
	if q.Metrics != nil {
		b.WriteString(" | ")
		b.WriteString(q.Metrics.String())
	}
	if len(q.Hints) > 0 {
		b.WriteString(" with(")
		for i, h := range q.Hints {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(h.Name)
			b.WriteByte('=')
			b.WriteString(h.Value.String())
		}
		b.WriteByte(')')
	}
	return b.String()
}

func writePipeline(b *strings.Builder, p *Pipeline) {
	for i, s := range p.Stages {
		if i > 0 {
			b.WriteString(" | ")
		}
		writeStage(b, s)
	}
}

func writeStage(b *strings.Builder, s Stage) {
	switch s := s.(type) {
	case *Pipeline:
		b.WriteByte('(')
		writePipeline(b, s)
		b.WriteByte(')')
	case *SpansetFilter:
		if st, ok := s.Expr.(*Static); ok && st.Type == TypeBool && st.B {
			b.WriteString("{ }")
			return
		}
		b.WriteString("{ ")
		writeField(b, s.Expr)
		b.WriteString(" }")
	case *SpansetOp:
		writeSpansetOperand(b, s.LHS)
		b.WriteByte(' ')
		b.WriteString(s.Op.String())
		b.WriteByte(' ')
		writeSpansetOperand(b, s.RHS)
	case *ScalarFilter:
		writeScalar(b, s.LHS)
		b.WriteByte(' ')
		b.WriteString(s.Op.String())
		b.WriteByte(' ')
		writeScalar(b, s.RHS)
	case *GroupBy:
		b.WriteString("by(")
		writeField(b, s.Expr)
		b.WriteByte(')')
	case *Select:
		b.WriteString("select(")
		writeAttrList(b, s.Attrs)
		b.WriteByte(')')
	case *Coalesce:
		b.WriteString("coalesce()")
	}
}

func writeSpansetOperand(b *strings.Builder, e SpansetExpr) {
	if _, ok := e.(*SpansetOp); ok {
		b.WriteByte('(')
		writeStage(b, e)
		b.WriteByte(')')
		return
	}
	writeStage(b, e)
}

func writeAttrList(b *strings.Builder, attrs []*Attribute) {
	for i, a := range attrs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
}

func writeScalar(b *strings.Builder, e ScalarExpr) {
	switch e := e.(type) {
	case *Aggregate:
		b.WriteString(e.Func.String())
		b.WriteByte('(')
		if e.Expr != nil {
			writeField(b, e.Expr)
		}
		b.WriteByte(')')
	case *Static:
		b.WriteString(e.String())
	case *ScalarBinary:
		for i, x := range []ScalarExpr{e.LHS, e.RHS} {
			if i == 1 {
				b.WriteByte(' ')
				b.WriteString(e.Op.String())
				b.WriteByte(' ')
			}
			if st, ok := x.(*Static); ok && st.isNegative() && i == 0 && e.Op == OpPow {
				b.WriteString("(" + st.String() + ")")
			} else if _, ok := x.(*ScalarBinary); ok {
				b.WriteByte('(')
				writeScalar(b, x)
				b.WriteByte(')')
			} else {
				writeScalar(b, x)
			}
		}
	}
}

func writeField(b *strings.Builder, e FieldExpr) {
	switch e := e.(type) {
	case *Static:
		b.WriteString(e.String())
	case *Attribute:
		b.WriteString(e.String())
	case *UnaryExpr:
		b.WriteString(e.Op.String())
		writeFieldOperand(b, e.X, OpNot)
	case *BinaryExpr:
		writeFieldOperand(b, e.LHS, e.Op)
		b.WriteByte(' ')
		b.WriteString(e.Op.String())
		b.WriteByte(' ')
		writeFieldOperand(b, e.RHS, e.Op)
	}
}

// writeFieldOperand parenthesises binary operands of parent (OpNot for a
// unary operator), and operands that would otherwise read back
// differently: unary operands of unary operators and of * / % ^ ("!a * b"
// would read back as !(a * b)), and negative literals after a unary
// operator.
func writeFieldOperand(b *strings.Builder, e FieldExpr, parent Op) {
	tight := parent == OpNot || parent == OpMul || parent == OpDiv || parent == OpMod || parent == OpPow
	paren := false
	switch x := e.(type) {
	case *BinaryExpr:
		paren = true
	case *UnaryExpr:
		paren = tight
	case *Static:
		paren = parent == OpNot && x.isNegative()
	}
	if paren {
		b.WriteByte('(')
		writeField(b, e)
		b.WriteByte(')')
		return
	}
	writeField(b, e)
}

func (s *Static) isNegative() bool {
	switch s.Type {
	case TypeInt:
		return s.I < 0
	case TypeFloat:
		return s.F < 0 || (s.F == 0 && 1/s.F < 0)
	case TypeDuration:
		return s.D < 0
	}
	return false
}

// String prints the literal as the lexer reads it back.
func (s *Static) String() string {
	switch s.Type {
	case TypeNil:
		return "nil"
	case TypeString:
		return strconv.Quote(s.S)
	case TypeInt:
		return strconv.FormatInt(s.I, 10)
	case TypeFloat:
		t := strconv.FormatFloat(s.F, 'f', -1, 64)
		if !strings.ContainsAny(t, ".") {
			t += ".0"
		}
		return t
	case TypeDuration:
		return formatDuration(s.D)
	case TypeBool:
		return strconv.FormatBool(s.B)
	case TypeStatus:
		return s.Status.String()
	case TypeKind:
		if s.Kind.String() == "" {
			return "unspecified"
		}
		return s.Kind.String()
	}
	return "nil"
}

// formatDuration prints d in the largest unit that keeps it an integer
// (150ms, 2s, 90m), which time.ParseDuration reads back exactly.
func formatDuration(d time.Duration) string {
	n := int64(d)
	sign := ""
	if n < 0 {
		if n == -n { // math.MinInt64
			return "-9223372036854775808ns"
		}
		sign, n = "-", -n
	}
	units := []struct {
		name string
		ns   int64
	}{{"h", 3600e9}, {"m", 60e9}, {"s", 1e9}, {"ms", 1e6}, {"us", 1e3}}
	for _, u := range units {
		if n != 0 && n%u.ns == 0 {
			return sign + strconv.FormatInt(n/u.ns, 10) + u.name
		}
	}
	return sign + strconv.FormatInt(n, 10) + "ns"
}

// String prints the attribute or intrinsic as written in a query.
func (a *Attribute) String() string {
	if a.Scope == ScopeIntrinsic {
		return a.Intrinsic.String()
	}
	prefix := "."
	if a.Scope != ScopeNone {
		prefix = a.Scope.String() + "."
	}
	if a.Parent {
		prefix = "parent." + strings.TrimPrefix(prefix, ".")
	}
	name := a.Name
	if quoteNeeded(name) || (a.Scope == ScopeNone && startsWithDigit(name)) ||
		(a.Parent && a.Scope == ScopeNone && (strings.HasPrefix(name, "span.") || strings.HasPrefix(name, "resource."))) {
		name = strconv.Quote(name)
	}
	return prefix + name
}

func startsWithDigit(s string) bool {
	for _, r := range s {
		return unicode.IsDigit(r)
	}
	return false
}

// String prints the metrics function with its arguments and by().
func (m *MetricsFunc) String() string {
	var b strings.Builder
	b.WriteString(m.Func.String())
	b.WriteByte('(')
	if m.Attr != nil {
		b.WriteString(m.Attr.String())
		for _, q := range m.Quantiles {
			b.WriteString(", ")
			b.WriteString((&Static{Type: TypeFloat, F: q}).String())
		}
	}
	b.WriteByte(')')
	if len(m.By) > 0 {
		b.WriteString(" by (")
		writeAttrList(&b, m.By)
		b.WriteByte(')')
	}
	for _, s := range m.Second {
		if s.Op != OpNone {
			b.WriteString(" " + s.Op.String() + " ")
			b.WriteString(strconv.FormatFloat(s.Value, 'g', -1, 64))
			continue
		}
		if s.Bottom {
			b.WriteString(" | bottomk(")
		} else {
			b.WriteString(" | topk(")
		}
		b.WriteString(strconv.Itoa(s.N))
		b.WriteByte(')')
	}
	return b.String()
}

// FieldString prints a field expression in canonical form.
func FieldString(e FieldExpr) string {
	var b strings.Builder
	writeField(&b, e)
	return b.String()
}

// ScalarString prints a scalar expression in canonical form.
func ScalarString(e ScalarExpr) string {
	var b strings.Builder
	writeScalar(&b, e)
	return b.String()
}
