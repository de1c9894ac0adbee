// Package traceql parses Clew's TraceQL-compatible query language into a
// syntax tree and prints trees back as text. The language follows Grafana
// Tempo's TraceQL: spanset filters over intrinsics and scoped attributes,
// spanset and structural operators, pipelines with aggregates, by(),
// select() and coalesce(), and metrics functions such as rate() and
// quantile_over_time(). docs/traceql.md describes it, with every difference
// from Tempo.
//
// Parse turns text into a *Query or a *ParseError that names the line,
// column and what was expected; Query.String prints a query in a canonical
// form that parses back to the same tree. The package does no evaluation:
// internal/query/engine does.
package traceql

import (
	"slices"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// Query is a parsed query: a spanset pipeline, optionally ended by a metrics
// function that turns the matched spans into time series, and optional
// hints ("with(sample=true)").
type Query struct {
	Pipeline *Pipeline
	// Metrics, when not nil, makes the query a metrics query.
	Metrics *MetricsFunc
	// Hints are the query's with(...) hints, in order. Clew accepts and
	// ignores them (its results are exact).
	Hints []Hint
}

// Hint is one name=value of a with(...) clause.
type Hint struct {
	Name  string
	Value Static
}

// Stage is one element of a pipeline: a SpansetExpr, *ScalarFilter,
// *GroupBy, *Select or *Coalesce.
type Stage interface{ stage() }

// SpansetExpr is an expression that selects spansets: *SpansetFilter,
// *SpansetOp or a parenthesised *Pipeline.
type SpansetExpr interface {
	Stage
	spansetExpr()
}

// Pipeline is a sequence of stages separated by "|"; each stage consumes the
// spansets the previous one produced. A Pipeline with more than one stage may
// appear in parentheses inside a spanset expression.
type Pipeline struct {
	Stages []Stage
}

// SpansetFilter is "{ expr }": the spans of a spanset for which Expr is true.
// An empty filter "{}" has Expr = true.
type SpansetFilter struct {
	Expr FieldExpr
}

// SpansetOp combines two spanset expressions with a logical (&&, ||) or a
// structural operator.
type SpansetOp struct {
	Op       Op
	LHS, RHS SpansetExpr
}

// ScalarFilter keeps the spansets for which "LHS Op RHS" holds, where at
// least one side is an aggregate such as count() or avg(duration).
type ScalarFilter struct {
	Op       Op
	LHS, RHS ScalarExpr
}

// GroupBy is "by(expr)": it splits each spanset into one spanset per value
// of Expr.
type GroupBy struct {
	Expr FieldExpr
}

// Select is "select(attrs...)": the listed attributes are returned with
// each matched span.
type Select struct {
	Attrs []*Attribute
}

// Coalesce is "coalesce()": it merges all spansets of a trace into one.
type Coalesce struct{}

func (*Pipeline) stage()      {}
func (*SpansetFilter) stage() {}
func (*SpansetOp) stage()     {}
func (*ScalarFilter) stage()  {}
func (*GroupBy) stage()       {}
func (*Select) stage()        {}
func (*Coalesce) stage()      {}

func (*Pipeline) spansetExpr()      {}
func (*SpansetFilter) spansetExpr() {}
func (*SpansetOp) spansetExpr()     {}

// ScalarExpr is an expression over a whole spanset: *Aggregate, *Static or
// *ScalarBinary.
type ScalarExpr interface{ scalarExpr() }

// Aggregate is count(), avg(x), min(x), max(x) or sum(x) over a spanset.
// Expr is nil for count().
type Aggregate struct {
	Func AggregateFunc
	Expr FieldExpr
}

// ScalarBinary is arithmetic between scalar expressions.
type ScalarBinary struct {
	Op       Op
	LHS, RHS ScalarExpr
}

func (*Aggregate) scalarExpr()    {}
func (*ScalarBinary) scalarExpr() {}
func (*Static) scalarExpr()       {}

// AggregateFunc names a pipeline aggregate.
type AggregateFunc uint8

// The aggregates.
const (
	AggCount AggregateFunc = iota + 1
	AggAvg
	AggMin
	AggMax
	AggSum
)

var aggregateNames = map[AggregateFunc]string{AggCount: "count", AggAvg: "avg", AggMin: "min", AggMax: "max", AggSum: "sum"}

// String returns the aggregate's name (count, avg, ...).
func (f AggregateFunc) String() string { return aggregateNames[f] }

// FieldExpr is an expression evaluated on one span: *Static, *Attribute,
// *BinaryExpr or *UnaryExpr.
type FieldExpr interface{ fieldExpr() }

// BinaryExpr is "LHS Op RHS" over span values: logical, comparison, regex or
// arithmetic.
type BinaryExpr struct {
	Op       Op
	LHS, RHS FieldExpr
}

// UnaryExpr is "!X" (OpNot) or "-X" (OpSub).
type UnaryExpr struct {
	Op Op
	X  FieldExpr
}

func (*Static) fieldExpr()     {}
func (*Attribute) fieldExpr()  {}
func (*BinaryExpr) fieldExpr() {}
func (*UnaryExpr) fieldExpr()  {}

// Op is an operator.
type Op uint8

// The operators. Logical and comparison operators serve both field and
// spanset expressions; the structural ones only spanset expressions.
const (
	OpNone Op = iota
	OpAnd     // &&
	OpOr      // ||
	OpNot     // !
	OpEq      // =
	OpNeq     // !=
	OpLt      // <
	OpLte     // <=
	OpGt      // >
	OpGte     // >=
	OpRe      // =~
	OpNre     // !~
	OpAdd     // +
	OpSub     // -
	OpMul     // *
	OpDiv     // /
	OpMod     // %
	OpPow     // ^

	// Structural operators. In a spanset expression ">" and "<" are
	// OpChild and OpParent, "!~" is OpNotSibling.
	OpChild           // >
	OpParent          // <
	OpDescendant      // >>
	OpAncestor        // <<
	OpSibling         // ~
	OpNotChild        // !>
	OpNotParent       // !<
	OpNotDescendant   // !>>
	OpNotAncestor     // !<<
	OpNotSibling      // !~
	OpUnionChild      // &>
	OpUnionParent     // &<
	OpUnionDescendant // &>>
	OpUnionAncestor   // &<<
	OpUnionSibling    // &~
)

var opText = [...]string{
	OpAnd: "&&", OpOr: "||", OpNot: "!", OpEq: "=", OpNeq: "!=", OpLt: "<", OpLte: "<=",
	OpGt: ">", OpGte: ">=", OpRe: "=~", OpNre: "!~", OpAdd: "+", OpSub: "-", OpMul: "*",
	OpDiv: "/", OpMod: "%", OpPow: "^",
	OpChild: ">", OpParent: "<", OpDescendant: ">>", OpAncestor: "<<", OpSibling: "~",
	OpNotChild: "!>", OpNotParent: "!<", OpNotDescendant: "!>>", OpNotAncestor: "!<<", OpNotSibling: "!~",
	OpUnionChild: "&>", OpUnionParent: "&<", OpUnionDescendant: "&>>", OpUnionAncestor: "&<<", OpUnionSibling: "&~",
}

// String returns the operator as written in a query.
func (o Op) String() string {
	if int(o) < len(opText) {
		return opText[o]
	}
	return "?"
}

// IsComparison reports whether o compares two values.
func (o Op) IsComparison() bool { return o >= OpEq && o <= OpNre }

// IsArithmetic reports whether o is + - * / % or ^.
func (o Op) IsArithmetic() bool { return o >= OpAdd && o <= OpPow }

// IsStructural reports whether o relates spans by their place in the tree.
func (o Op) IsStructural() bool { return o >= OpChild && o <= OpUnionSibling }

// StaticType is the type of a literal.
type StaticType uint8

// The literal types.
const (
	TypeNil StaticType = iota
	TypeString
	TypeInt
	TypeFloat
	TypeDuration
	TypeBool
	TypeStatus
	TypeKind
)

var staticTypeNames = [...]string{"nil", "string", "int", "float", "duration", "bool", "status", "kind"}

// String returns the type's name (string, int, duration, ...).
func (t StaticType) String() string {
	if int(t) < len(staticTypeNames) {
		return staticTypeNames[t]
	}
	return "unknown"
}

// Static is a literal. Only the field of its Type is set.
type Static struct {
	Type   StaticType
	S      string
	I      int64 // TypeInt
	F      float64
	D      time.Duration
	B      bool
	Status model.StatusCode
	Kind   model.SpanKind
}

// Scope is where an attribute is looked up.
type Scope uint8

// The scopes. ScopeNone is an unscoped ".name" (span, then resource);
// ScopeIntrinsic is a span, trace, event, link or scope field.
const (
	ScopeNone Scope = iota
	ScopeSpan
	ScopeResource
	ScopeEvent
	ScopeLink
	ScopeInstrumentation
	ScopeIntrinsic
)

var scopeNames = [...]string{"", "span", "resource", "event", "link", "instrumentation", "intrinsic"}

// String returns the scope as written before an attribute (span, resource, ...).
func (s Scope) String() string {
	if int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return "unknown"
}

// Intrinsic identifies a built-in field.
type Intrinsic uint8

// The intrinsics.
const (
	IntrinsicNone Intrinsic = iota
	IntrinsicName
	IntrinsicStatus
	IntrinsicStatusMessage
	IntrinsicKind
	IntrinsicDuration
	IntrinsicRootName
	IntrinsicRootServiceName
	IntrinsicTraceDuration
	IntrinsicTraceID
	IntrinsicSpanID
	IntrinsicParentID
	IntrinsicEventName
	IntrinsicEventTimeSinceStart
	IntrinsicLinkTraceID
	IntrinsicLinkSpanID
	IntrinsicInstrumentationName
	IntrinsicInstrumentationVersion
	IntrinsicNestedSetLeft
	IntrinsicNestedSetRight
	IntrinsicNestedSetParent
	IntrinsicChildCount
)

// intrinsicNames are the canonical spellings, printed by String.
var intrinsicNames = [...]string{
	IntrinsicName:                   "name",
	IntrinsicStatus:                 "status",
	IntrinsicStatusMessage:          "statusMessage",
	IntrinsicKind:                   "kind",
	IntrinsicDuration:               "duration",
	IntrinsicRootName:               "rootName",
	IntrinsicRootServiceName:        "rootServiceName",
	IntrinsicTraceDuration:          "traceDuration",
	IntrinsicTraceID:                "trace:id",
	IntrinsicSpanID:                 "span:id",
	IntrinsicParentID:               "span:parentID",
	IntrinsicEventName:              "event:name",
	IntrinsicEventTimeSinceStart:    "event:timeSinceStart",
	IntrinsicLinkTraceID:            "link:traceID",
	IntrinsicLinkSpanID:             "link:spanID",
	IntrinsicInstrumentationName:    "instrumentation:name",
	IntrinsicInstrumentationVersion: "instrumentation:version",
	IntrinsicNestedSetLeft:          "nestedSetLeft",
	IntrinsicNestedSetRight:         "nestedSetRight",
	IntrinsicNestedSetParent:        "nestedSetParent",
	IntrinsicChildCount:             "span:childCount",
}

// intrinsicByName maps every accepted spelling, canonical or alias, to its
// intrinsic.
var intrinsicByName = map[string]Intrinsic{
	"name": IntrinsicName, "span:name": IntrinsicName,
	"status": IntrinsicStatus, "span:status": IntrinsicStatus,
	"statusMessage": IntrinsicStatusMessage, "span:statusMessage": IntrinsicStatusMessage,
	"kind": IntrinsicKind, "span:kind": IntrinsicKind,
	"duration": IntrinsicDuration, "span:duration": IntrinsicDuration,
	"rootName": IntrinsicRootName, "trace:rootName": IntrinsicRootName,
	"rootServiceName": IntrinsicRootServiceName, "trace:rootService": IntrinsicRootServiceName,
	"traceDuration": IntrinsicTraceDuration, "trace:duration": IntrinsicTraceDuration,
	"trace:id": IntrinsicTraceID,
	"span:id":  IntrinsicSpanID, "span:parentID": IntrinsicParentID,
	"event:name": IntrinsicEventName, "event:timeSinceStart": IntrinsicEventTimeSinceStart,
	"link:traceID": IntrinsicLinkTraceID, "link:spanID": IntrinsicLinkSpanID,
	"instrumentation:name": IntrinsicInstrumentationName, "instrumentation:version": IntrinsicInstrumentationVersion,
	"nestedSetLeft": IntrinsicNestedSetLeft, "nestedSetRight": IntrinsicNestedSetRight,
	"nestedSetParent": IntrinsicNestedSetParent, "span:childCount": IntrinsicChildCount,
}

// String returns the intrinsic's canonical spelling.
func (i Intrinsic) String() string {
	if int(i) < len(intrinsicNames) {
		return intrinsicNames[i]
	}
	return "unknown"
}

// LookupIntrinsic returns the intrinsic spelled s ("duration",
// "span:duration", "trace:id", ...).
func LookupIntrinsic(s string) (Intrinsic, bool) {
	i, ok := intrinsicByName[s]
	return i, ok
}

// IntrinsicSpellings returns every accepted spelling of every intrinsic
// (canonical names and aliases such as span:duration), sorted, as Tempo's
// tag API lists them; the nested-set intrinsics are left out.
func IntrinsicSpellings() []string {
	out := make([]string, 0, len(intrinsicByName))
	for n, i := range intrinsicByName {
		switch i {
		case IntrinsicNestedSetLeft, IntrinsicNestedSetRight, IntrinsicNestedSetParent:
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// IntrinsicNames returns the canonical spellings of every intrinsic.
func IntrinsicNames() []string {
	out := make([]string, 0, len(intrinsicNames))
	for _, n := range intrinsicNames {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Attribute references an attribute (Scope and Name) or an intrinsic
// (Scope = ScopeIntrinsic and Intrinsic set, Name empty).
type Attribute struct {
	Scope     Scope
	Name      string
	Intrinsic Intrinsic
	// Parent looks the attribute up on the span's parent ("parent.x",
	// "parent.span.x", "parent.resource.x"; Scope is None, Span or
	// Resource).
	Parent bool
}

// MetricsFunc is the metrics stage that ends a metrics query.
type MetricsFunc struct {
	Func MetricsFuncName
	// Attr is the measured attribute of quantile_over_time,
	// histogram_over_time and the avg/min/max/sum_over_time functions.
	Attr *Attribute
	// Quantiles of quantile_over_time, each in [0, 1].
	Quantiles []float64
	// By lists the attributes series are grouped by.
	By []*Attribute
	// Second are the topk/bottomk stages that follow, in order.
	Second []SecondStage
}

// SecondStage follows a metrics function: "topk(N)" or "bottomk(N)"
// (Bottom) keep, at each step, the N series with the highest (lowest)
// values; a comparison ("> 10", Op set) keeps the samples it holds for.
type SecondStage struct {
	Bottom bool
	N      int
	Op     Op
	Value  float64
}

// MetricsFuncName names a metrics function.
type MetricsFuncName uint8

// The metrics functions.
const (
	MetricsRate MetricsFuncName = iota + 1
	MetricsCountOverTime
	MetricsQuantileOverTime
	MetricsHistogramOverTime
	MetricsAvgOverTime
	MetricsMinOverTime
	MetricsMaxOverTime
	MetricsSumOverTime
)

var metricsNames = map[MetricsFuncName]string{
	MetricsRate: "rate", MetricsCountOverTime: "count_over_time",
	MetricsQuantileOverTime: "quantile_over_time", MetricsHistogramOverTime: "histogram_over_time",
	MetricsAvgOverTime: "avg_over_time", MetricsMinOverTime: "min_over_time",
	MetricsMaxOverTime: "max_over_time", MetricsSumOverTime: "sum_over_time",
}

// String returns the metrics function's name (rate, quantile_over_time, ...).
func (f MetricsFuncName) String() string { return metricsNames[f] }
