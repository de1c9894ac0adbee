package traceql

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/clew-dev/clew/internal/model"
)

// corpusLines returns the non-comment, non-blank lines of a testdata file.
func corpusLines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if strings.TrimSpace(line) == "" && !strings.Contains(line, "###") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkRoundTrip parses q, prints it, parses the printed form and expects
// the same tree and a stable printed form.
func checkRoundTrip(t *testing.T, q string) {
	t.Helper()
	tree, err := Parse(q)
	if err != nil {
		t.Errorf("Parse(%q): %v", q, err)
		return
	}
	printed := tree.String()
	again, err := Parse(printed)
	if err != nil {
		t.Errorf("Parse(printed %q of %q): %v", printed, q, err)
		return
	}
	if diff := cmp.Diff(tree, again); diff != "" {
		t.Errorf("%q printed as %q parses to another tree (-first +second):\n%s", q, printed, diff)
	}
	if p2 := again.String(); p2 != printed {
		t.Errorf("printing is not stable: %q then %q", printed, p2)
	}
}

func TestValidCorpus(t *testing.T) {
	lines := corpusLines(t, "valid.txt")
	if len(lines) < 50 {
		t.Fatalf("valid corpus has only %d queries", len(lines))
	}
	for _, q := range lines {
		checkRoundTrip(t, q)
	}
}

func TestInvalidCorpus(t *testing.T) {
	lines := corpusLines(t, "invalid.txt")
	if len(lines) < 30 {
		t.Fatalf("invalid corpus has only %d queries", len(lines))
	}
	for _, line := range lines {
		q, want, ok := strings.Cut(line, " ### ")
		if !ok {
			t.Fatalf("corpus line without ' ### ': %q", line)
		}
		_, err := Parse(q)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error containing %q", q, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", q, err, want)
		}
		if _, ok := err.(*ParseError); !ok {
			t.Errorf("Parse(%q) error is %T, want *ParseError", q, err)
		}
	}
}

func TestMultiLine(t *testing.T) {
	q := "{\n  .a = 1 &&\n  # not a comment in TraceQL\n}"
	_, err := Parse(q)
	if err == nil || !strings.Contains(err.Error(), "line 3, col 3") {
		t.Errorf("error = %v, want one at line 3, col 3", err)
	}
	checkRoundTrip(t, "{\n\t.a = 1\n\t&& .b = 2\n}\n| count() > 1")
	_, err = Parse("{ .a = \"é\" && ")
	if err == nil || !strings.Contains(err.Error(), "col 15") {
		t.Errorf("error = %v, want col 15 (columns count characters)", err)
	}
}

func TestTrees(t *testing.T) {
	f := func(q string, want *Query) {
		t.Helper()
		got, err := Parse(q)
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", q, diff)
		}
	}
	attr := func(s Scope, n string) *Attribute { return &Attribute{Scope: s, Name: n} }
	intr := func(i Intrinsic) *Attribute { return &Attribute{Scope: ScopeIntrinsic, Intrinsic: i} }
	str := func(s string) *Static { return &Static{Type: TypeString, S: s} }
	integer := func(n int64) *Static { return &Static{Type: TypeInt, I: n} }
	filter := func(e FieldExpr) *SpansetFilter { return &SpansetFilter{Expr: e} }
	one := func(stages ...Stage) *Query { return &Query{Pipeline: &Pipeline{Stages: stages}} }

	f(`{}`, one(filter(&Static{Type: TypeBool, B: true})))
	f(`{ resource.service.name = "a" }`, one(filter(&BinaryExpr{Op: OpEq, LHS: attr(ScopeResource, "service.name"), RHS: str("a")})))
	f(`{ span:duration > 1.5s }`, one(filter(&BinaryExpr{Op: OpGt, LHS: intr(IntrinsicDuration), RHS: &Static{Type: TypeDuration, D: 1500 * time.Millisecond}})))
	f(`{ status = error && kind = server }`, one(filter(&BinaryExpr{Op: OpAnd,
		LHS: &BinaryExpr{Op: OpEq, LHS: intr(IntrinsicStatus), RHS: &Static{Type: TypeStatus, Status: model.StatusError}},
		RHS: &BinaryExpr{Op: OpEq, LHS: intr(IntrinsicKind), RHS: &Static{Type: TypeKind, Kind: model.SpanKindServer}}})))
	// && and || have one precedence and associate to the left, as in Tempo.
	f(`{ .a = 1 || .b = 2 && .c = 3 }`, one(filter(&BinaryExpr{Op: OpAnd,
		LHS: &BinaryExpr{Op: OpOr, LHS: &BinaryExpr{Op: OpEq, LHS: attr(ScopeNone, "a"), RHS: integer(1)}, RHS: &BinaryExpr{Op: OpEq, LHS: attr(ScopeNone, "b"), RHS: integer(2)}},
		RHS: &BinaryExpr{Op: OpEq, LHS: attr(ScopeNone, "c"), RHS: integer(3)}})))
	// Arithmetic binds tighter than comparison; * tighter than +.
	f(`{ .a = 1 + 2 * 3 }`, one(filter(&BinaryExpr{Op: OpEq, LHS: attr(ScopeNone, "a"),
		RHS: &BinaryExpr{Op: OpAdd, LHS: integer(1), RHS: &BinaryExpr{Op: OpMul, LHS: integer(2), RHS: integer(3)}}})))
	f(`{ .a = -1 }`, one(filter(&BinaryExpr{Op: OpEq, LHS: attr(ScopeNone, "a"), RHS: integer(-1)})))
	// Structural operators bind tighter than && and ||.
	a, b, c := filter(&BinaryExpr{Op: OpEq, LHS: attr(ScopeNone, "a"), RHS: integer(1)}), filter(&BinaryExpr{Op: OpEq, LHS: attr(ScopeNone, "b"), RHS: integer(1)}), filter(&BinaryExpr{Op: OpEq, LHS: attr(ScopeNone, "c"), RHS: integer(1)})
	f(`{.a=1} && {.b=1} > {.c=1}`, one(&SpansetOp{Op: OpAnd, LHS: a, RHS: &SpansetOp{Op: OpChild, LHS: b, RHS: c}}))
	f(`{.a=1} !~ {.b=1}`, one(&SpansetOp{Op: OpNotSibling, LHS: a, RHS: b}))
	f(`{.a=1} | count() > 2 | by(name) | select(.b) | coalesce()`, one(a,
		&ScalarFilter{Op: OpGt, LHS: &Aggregate{Func: AggCount}, RHS: integer(2)},
		&GroupBy{Expr: intr(IntrinsicName)},
		&Select{Attrs: []*Attribute{attr(ScopeNone, "b")}},
		&Coalesce{}))
	f(`({.a=1} | count() > 2) && {.b=1}`, one(&SpansetOp{Op: OpAnd,
		LHS: &Pipeline{Stages: []Stage{a, &ScalarFilter{Op: OpGt, LHS: &Aggregate{Func: AggCount}, RHS: integer(2)}}}, RHS: b}))
	f(`{} | quantile_over_time(duration, 0.5, 0.99) by (resource.service.name, name)`, &Query{
		Pipeline: &Pipeline{Stages: []Stage{filter(&Static{Type: TypeBool, B: true})}},
		Metrics: &MetricsFunc{Func: MetricsQuantileOverTime, Attr: intr(IntrinsicDuration), Quantiles: []float64{0.5, 0.99},
			By: []*Attribute{attr(ScopeResource, "service.name"), intr(IntrinsicName)}}})
}

func TestPrint(t *testing.T) {
	f := func(q, want string) {
		t.Helper()
		got := MustParse(q).String()
		if got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", q, got, want)
		}
	}
	f(`{}`, `{ }`)
	f(`{.a=1&&span.b="x"}`, `{ (.a = 1) && (span.b = "x") }`)
	f(`{ span:duration>1500ms }`, `{ duration > 1500ms }`)
	f(`{ duration > 2s }`, `{ duration > 2s }`)
	f(`{ duration > 90s }`, `{ duration > 90s }`)
	f(`{ duration > 120s }`, `{ duration > 2m }`)
	f(`{ span."a b" = 1.0 }`, `{ span."a b" = 1.0 }`)
	f(`{ .a = -(1) }`, `{ .a = -1 }`)
	f(`{ .a = (-1) ^ 2 }`, `{ .a = (-1 ^ 2) }`)
	f("{ .a = `x\\y` }", `{ .a = "x\\y" }`)
	f(`{.a=1}>>({.b=1}&&{.c=1})`, `{ .a = 1 } >> ({ .b = 1 } && { .c = 1 })`)
	f(`{}|rate()by(name)`, `{ } | rate() by (name)`)
	f(`{}|quantile_over_time(duration,1)`, `{ } | quantile_over_time(duration, 1.0)`)
}

func TestLimits(t *testing.T) {
	deep := strings.Repeat("(", 1000) + "{}" + strings.Repeat(")", 1000)
	if _, err := Parse(deep); err == nil || !strings.Contains(err.Error(), "nests deeper") {
		t.Errorf("deep nesting: %v", err)
	}
	if _, err := Parse("{ .a = \"" + strings.Repeat("x", MaxQueryBytes) + "\" }"); err == nil {
		t.Error("oversized query accepted")
	}
	if _, err := Parse("{ .a = \"\xff\" }"); err == nil {
		t.Error("invalid UTF-8 accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"valid.txt", "invalid.txt"} {
		for _, line := range corpusLines(f, name) {
			q, _, _ := strings.Cut(line, " ### ")
			f.Add(q)
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		tree, err := Parse(q)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		printed := tree.String()
		again, err := Parse(printed)
		if err != nil {
			t.Fatalf("printed form %q of %q does not parse: %v", printed, q, err)
		}
		if diff := cmp.Diff(tree, again); diff != "" {
			t.Fatalf("%q printed as %q parses to another tree:\n%s", q, printed, diff)
		}
	})
}

func FuzzLex(f *testing.F) {
	for _, line := range corpusLines(f, "valid.txt") {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, q string) {
		toks := lex(q)
		if len(toks) == 0 {
			t.Fatal("no tokens")
		}
		last := toks[len(toks)-1]
		if last.typ != tokEOF && last.typ != tokError {
			t.Fatalf("last token %v is neither EOF nor error", last.typ)
		}
		prev := -1
		for _, tk := range toks {
			if tk.pos < prev || tk.pos > len(q) {
				t.Fatalf("token position %d out of order or range", tk.pos)
			}
			prev = tk.pos
		}
	})
}

func TestTempoPrecedence(t *testing.T) {
	f := func(q, want string) {
		t.Helper()
		if got := MustParse(q).String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", q, got, want)
		}
	}
	// Unary minus binds tighter than ^, ! looser than * / % (Tempo's grammar).
	f(`{ .a = -2 ^ 2 }`, `{ .a = (-2 ^ 2) }`)
	f(`{ .a = -.b ^ 2 }`, `{ .a = ((-.b) ^ 2) }`)
	// "!.a * .b" is !(.a * .b): a value, not a condition.
	if _, err := Parse(`{ !.a * .b = 1 }`); err == nil || !strings.Contains(err.Error(), "! needs a condition") {
		t.Errorf("!.a * .b: %v", err)
	}
	f(`{ .a * !.b = 1 }`, `{ (.a * (!.b)) = 1 }`)
	f(`{ !.a && .b }`, `{ !.a && .b }`)
}
