package traceql

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// tokenType classifies a token.
type tokenType uint8

const (
	tokEOF tokenType = iota
	tokError
	tokIdent          // keywords, intrinsics, function names: count, true, status, ...
	tokIntrinsicColon // a "scope:name" intrinsic such as trace:id
	tokAttr           // an attribute reference; val is the name, scope in scope
	tokString
	tokInt
	tokFloat
	tokDuration
	tokLBrace
	tokRBrace
	tokLParen
	tokRParen
	tokComma
	tokPipe
	tokOp // an operator; op says which (structural meanings are the parser's)
)

var tokenNames = [...]string{
	tokEOF: "end of query", tokError: "error", tokIdent: "identifier", tokIntrinsicColon: "intrinsic",
	tokAttr: "attribute", tokString: "string", tokInt: "integer", tokFloat: "number",
	tokDuration: "duration", tokLBrace: `"{"`, tokRBrace: `"}"`, tokLParen: `"("`, tokRParen: `")"`,
	tokComma: `","`, tokPipe: `"|"`, tokOp: "operator",
}

// token is one lexical item. pos is the byte offset of its first byte.
type token struct {
	typ    tokenType
	pos    int
	text   string // the source text
	val    string // decoded string, attribute or identifier name; error message
	op     Op
	scope  Scope
	parent bool // a parent. attribute
}

func (t token) describe() string {
	switch t.typ {
	case tokEOF:
		return "end of query"
	case tokError:
		return t.val
	}
	return strconv.Quote(t.text)
}

// MaxQueryBytes is the longest query Parse accepts.
const MaxQueryBytes = 64 << 10

// maxTokens bounds the tokens of one query (a query of MaxQueryBytes single
// characters cannot exceed it).
const maxTokens = MaxQueryBytes + 1

// lexer is a state-function lexer: each state scans some input, emits
// tokens and returns the next state.
type lexer struct {
	input  string
	start  int // start of the current token
	pos    int // current position
	width  int // width of the rune next returned last
	tokens []token
}

type stateFn func(*lexer) stateFn

// lex splits input into tokens. The last token is tokEOF or tokError.
func lex(input string) []token {
	l := &lexer{input: input}
	for state := lexAny; state != nil; {
		state = state(l)
	}
	return l.tokens
}

const eof = -1

func (l *lexer) next() rune {
	if l.pos >= len(l.input) {
		l.width = 0
		return eof
	}
	r, w := utf8.DecodeRuneInString(l.input[l.pos:])
	l.pos += w
	l.width = w
	return r
}

func (l *lexer) peek() rune {
	if l.pos >= len(l.input) {
		return eof
	}
	r, _ := utf8.DecodeRuneInString(l.input[l.pos:])
	return r
}

// backup steps back over the rune next returned; call once per next.
func (l *lexer) backup(rune) {
	l.pos -= l.width
	l.width = 0
}

func (l *lexer) emit(t token) {
	t.pos = l.start
	t.text = l.input[l.start:l.pos]
	l.tokens = append(l.tokens, t)
	l.start = l.pos
}

func (l *lexer) errorf(format string, args ...any) stateFn {
	l.tokens = append(l.tokens, token{typ: tokError, pos: l.start, val: fmt.Sprintf(format, args...)})
	return nil
}

func lexAny(l *lexer) stateFn {
	for {
		r := l.peek()
		if r == eof {
			l.emit(token{typ: tokEOF})
			return nil
		}
		if !unicode.IsSpace(r) {
			break
		}
		l.next()
		l.start = l.pos
	}
	if len(l.tokens) >= maxTokens {
		return l.errorf("too many tokens")
	}
	r := l.next()
	switch {
	case r == '{':
		l.emit(token{typ: tokLBrace})
	case r == '}':
		l.emit(token{typ: tokRBrace})
	case r == '(':
		l.emit(token{typ: tokLParen})
	case r == ')':
		l.emit(token{typ: tokRParen})
	case r == ',':
		l.emit(token{typ: tokComma})
	case r == '"' || r == '`':
		l.backup(r)
		return lexString
	case r == '.':
		if p := l.peek(); p >= '0' && p <= '9' {
			return l.errorf("a number must start with a digit")
		}
		return lexAttributeName(ScopeNone, false)
	case r >= '0' && r <= '9':
		l.backup(r)
		return lexNumber
	case r == '_' || unicode.IsLetter(r):
		l.backup(r)
		return lexIdent
	default:
		l.backup(r)
		return lexOperator
	}
	return lexAny
}

// operators, longest first so that the first prefix match is the longest.
var operators = []struct {
	text string
	op   Op
}{
	{"!>>", OpNotDescendant}, {"!<<", OpNotAncestor}, {"&>>", OpUnionDescendant}, {"&<<", OpUnionAncestor},
	{"&&", OpAnd}, {"||", OpOr}, {"!=", OpNeq}, {"!~", OpNre}, {"=~", OpRe}, {"<=", OpLte}, {">=", OpGte},
	{">>", OpDescendant}, {"<<", OpAncestor}, {"!>", OpNotChild}, {"!<", OpNotParent},
	{"&>", OpUnionChild}, {"&<", OpUnionParent}, {"&~", OpUnionSibling},
	{"=", OpEq}, {"<", OpLt}, {">", OpGt}, {"!", OpNot}, {"~", OpSibling},
	{"+", OpAdd}, {"-", OpSub}, {"*", OpMul}, {"/", OpDiv}, {"%", OpMod}, {"^", OpPow},
}

func lexOperator(l *lexer) stateFn {
	rest := l.input[l.pos:]
	if strings.HasPrefix(rest, "|") && !strings.HasPrefix(rest, "||") {
		l.pos++
		l.emit(token{typ: tokPipe})
		return lexAny
	}
	for _, o := range operators {
		if strings.HasPrefix(rest, o.text) {
			l.pos += len(o.text)
			l.emit(token{typ: tokOp, op: o.op})
			return lexAny
		}
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return l.errorf("unexpected character %q", r)
}

func lexString(l *lexer) stateFn {
	quote := l.next()
	for {
		r := l.next()
		switch {
		case r == eof:
			return l.errorf("unterminated string")
		case r == '\\' && quote == '"':
			if l.next() == eof {
				return l.errorf("unterminated string")
			}
		case r == quote:
			raw := l.input[l.start:l.pos]
			var s string
			if quote == '`' {
				s = raw[1 : len(raw)-1]
			} else {
				var err error
				if s, err = strconv.Unquote(raw); err != nil {
					return l.errorf("invalid string %s: bad escape", truncate(raw))
				}
			}
			l.emit(token{typ: tokString, val: s})
			return lexAny
		}
	}
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

func lexNumber(l *lexer) stateFn {
	isFloat := false
	for isDigit(l.peek()) {
		l.next()
	}
	if l.peek() == '.' {
		l.next()
		if !isDigit(l.peek()) {
			return l.errorf("expected a digit after the decimal point")
		}
		isFloat = true
		for isDigit(l.peek()) {
			l.next()
		}
	}
	if p := l.peek(); p == 'e' || p == 'E' {
		save := l.pos
		l.next()
		if p := l.peek(); p == '+' || p == '-' {
			l.next()
		}
		if isDigit(l.peek()) {
			isFloat = true
			for isDigit(l.peek()) {
				l.next()
			}
		} else {
			l.pos = save // not an exponent: maybe nothing valid follows
		}
	}
	// A unit makes it a duration: 150ms, 1.5s, 1h30m.
	if p := l.peek(); unicode.IsLetter(p) {
		for p := l.peek(); unicode.IsLetter(p) || isDigit(p) || p == '.'; p = l.peek() {
			l.next()
		}
		text := l.input[l.start:l.pos]
		d, err := parseDuration(text)
		if err != nil {
			return l.errorf("invalid duration %q (want a number with unit ns, us, ms, s, m, h, d, w or y)", truncate(text))
		}
		l.emit(token{typ: tokDuration, val: strconv.FormatInt(int64(d), 10)})
		return lexAny
	}
	text := l.input[l.start:l.pos]
	if isFloat {
		if _, err := strconv.ParseFloat(text, 64); err != nil {
			return l.errorf("invalid number %q", truncate(text))
		}
		l.emit(token{typ: tokFloat, val: text})
		return lexAny
	}
	if _, err := strconv.ParseInt(text, 10, 64); err != nil {
		return l.errorf("integer %q out of range", truncate(text))
	}
	l.emit(token{typ: tokInt, val: text})
	return lexAny
}

var scopeByName = map[string]Scope{
	"span": ScopeSpan, "resource": ScopeResource, "event": ScopeEvent,
	"link": ScopeLink, "instrumentation": ScopeInstrumentation,
}

func lexIdent(l *lexer) stateFn {
	for r := l.peek(); r == '_' || unicode.IsLetter(r) || isDigit(r); r = l.peek() {
		l.next()
	}
	word := l.input[l.start:l.pos]
	switch l.peek() {
	case '.':
		if sc, ok := scopeByName[word]; ok {
			l.next()
			return lexAttributeName(sc, false)
		}
		if word == "parent" {
			// parent.name, parent.span.name, parent.resource.name
			l.next()
			rest := l.input[l.pos:]
			switch {
			case strings.HasPrefix(rest, "span."):
				l.pos += len("span.")
				return lexAttributeName(ScopeSpan, true)
			case strings.HasPrefix(rest, "resource."):
				l.pos += len("resource.")
				return lexAttributeName(ScopeResource, true)
			}
			return lexAttributeName(ScopeNone, true)
		}
	case ':':
		if _, ok := scopeByName[word]; ok || word == "trace" {
			l.next()
			for r := l.peek(); r == '_' || unicode.IsLetter(r) || isDigit(r); r = l.peek() {
				l.next()
			}
			name := l.input[l.start:l.pos]
			if _, ok := intrinsicByName[name]; !ok {
				return l.errorf("unknown intrinsic %q", truncate(name))
			}
			l.emit(token{typ: tokIntrinsicColon, val: name})
			return lexAny
		}
	}
	l.emit(token{typ: tokIdent, val: word})
	return lexAny
}

// isAttributeRune reports whether r may appear in an unquoted attribute
// name. As in Tempo, names end at white space and at the characters that
// delimit expressions; other punctuation ("-", "/", ":", "+") belongs to
// the name.
func isAttributeRune(r rune) bool {
	if r == eof || unicode.IsSpace(r) {
		return false
	}
	switch r {
	case '{', '}', '(', ')', '=', '~', '!', '<', '>', '&', '|', '^', ',', '"', '`':
		return false
	}
	return true
}

func lexAttributeName(scope Scope, parent bool) stateFn {
	return func(l *lexer) stateFn {
		if l.peek() == '"' {
			nameStart := l.pos
			l.next()
			for {
				r := l.next()
				if r == eof {
					return l.errorf("unterminated attribute name")
				}
				if r == '\\' {
					if l.next() == eof {
						return l.errorf("unterminated attribute name")
					}
					continue
				}
				if r == '"' {
					break
				}
			}
			name, err := strconv.Unquote(l.input[nameStart:l.pos])
			if err != nil {
				return l.errorf("invalid attribute name: bad escape")
			}
			if name == "" {
				return l.errorf("empty attribute name")
			}
			l.emit(token{typ: tokAttr, val: name, scope: scope, parent: parent})
			return lexAny
		}
		nameStart := l.pos
		for isAttributeRune(l.peek()) {
			l.next()
		}
		if l.pos == nameStart {
			return l.errorf("expected an attribute name after %q", l.input[l.start:l.pos])
		}
		l.emit(token{typ: tokAttr, val: l.input[nameStart:l.pos], scope: scope, parent: parent})
		return lexAny
	}
}

// parseDuration reads Go durations (1h30m, 1.5s, 10us) and, as Tempo does
// with Prometheus' notation, whole days, weeks and years (1d, 2w, 1y).
func parseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'y': 365 * 24 * time.Hour}[s[len(s)-1]]
	n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
	if unit == 0 || err != nil || n < 0 || n > int64(math.MaxInt64/unit) {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return time.Duration(n) * unit, nil
}
