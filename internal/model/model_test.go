package model

import (
	"math"
	"strings"
	"testing"
)

func TestParseTraceID(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		id, err := ParseTraceID(in)
		if err != nil {
			t.Fatalf("ParseTraceID(%q): %v", in, err)
		}
		if id.String() != want {
			t.Errorf("ParseTraceID(%q) = %s, want %s", in, id, want)
		}
	}
	f("1", "00000000000000000000000000000001")
	f("abc", "00000000000000000000000000000abc")
	f("ABC", "00000000000000000000000000000abc")
	f("0123456789abcdef", "00000000000000000123456789abcdef")
	f("5b8efff798038103d269b633813fc60c", "5b8efff798038103d269b633813fc60c")
	for _, bad := range []string{"", "xyz", "0x12", strings.Repeat("1", 33), "12 4"} {
		if _, err := ParseTraceID(bad); err == nil {
			t.Errorf("ParseTraceID(%q): no error", bad)
		}
	}
	if _, err := ParseSpanID(strings.Repeat("f", 17)); err == nil {
		t.Error("ParseSpanID of 17 digits: no error")
	}
}

func TestJaegerString(t *testing.T) {
	if s := TraceIDFromUint64s(0, 0xabc).JaegerString(); s != "0000000000000abc" {
		t.Errorf("64-bit id: %s", s)
	}
	if s := TraceIDFromUint64s(1, 2).JaegerString(); s != "00000000000000010000000000000002" {
		t.Errorf("128-bit id: %s", s)
	}
	hi, lo := TraceIDFromUint64s(7, 9).Uint64s()
	if hi != 7 || lo != 9 {
		t.Errorf("Uint64s: %d %d", hi, lo)
	}
	if SpanIDFromUint64(42).Uint64() != 42 {
		t.Error("span id round trip")
	}
}

func TestValues(t *testing.T) {
	f := func(v Value, typ ValueType, text string) {
		t.Helper()
		if v.Type() != typ || v.AsString() != text {
			t.Errorf("%v: type %v text %q, want %v %q", v, v.Type(), v.AsString(), typ, text)
		}
	}
	f(StringValue("x"), ValueString, "x")
	f(BoolValue(true), ValueBool, "true")
	f(IntValue(-123), ValueInt, "-123")
	f(DoubleValue(72.5), ValueDouble, "72.5")
	f(DoubleValue(math.Inf(1)), ValueDouble, "Infinity")
	f(BytesValue([]byte{1, 2}), ValueBytes, "AQI=")
	f(SliceValue([]Value{IntValue(1), StringValue("a")}), ValueSlice, `[1,"a"]`)
	f(MapValue(Attributes{{Key: "k", Value: BoolValue(false)}}), ValueMap, `{"k":false}`)
	f(Value{}, ValueEmpty, "")
	if !SliceValue([]Value{IntValue(1)}).Equal(SliceValue([]Value{IntValue(1)})) || IntValue(1).Equal(DoubleValue(1)) {
		t.Error("Equal")
	}
}

func TestTraceRoot(t *testing.T) {
	r := &Resource{}
	orphan := &Span{Resource: r, SpanID: SpanIDFromUint64(2), ParentSpanID: SpanIDFromUint64(99), StartTimeUnixNano: 1}
	child := &Span{Resource: r, SpanID: SpanIDFromUint64(3), ParentSpanID: SpanIDFromUint64(2), StartTimeUnixNano: 2}
	tr := &Trace{Spans: []*Span{orphan, child}}
	if tr.Root() != orphan {
		t.Error("a trace without a root span is rooted at its earliest orphan")
	}
	root := &Span{Resource: r, SpanID: SpanIDFromUint64(1), StartTimeUnixNano: 5, EndTimeUnixNano: 9}
	tr.Spans = append(tr.Spans, root)
	if tr.Root() != root || tr.Start() != 1 || tr.End() != 9 {
		t.Error("Root/Start/End")
	}
	if (&Resource{}).ServiceName() != UnknownService {
		t.Error("service of a resource without service.name")
	}
}

// FuzzParseTraceID checks that ParseTraceID never panics and that what it
// accepts prints back as the same number.
func FuzzParseTraceID(f *testing.F) {
	for _, s := range []string{"1", "abc", "5b8efff798038103d269b633813fc60c", "", "zz", "0000000000000000000000000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseTraceID(s)
		if err != nil {
			return
		}
		back, err := ParseTraceID(id.String())
		if err != nil || back != id {
			t.Fatalf("%q -> %s -> %v, %v", s, id, back, err)
		}
		if strings.TrimLeft(strings.ToLower(s), "0") != strings.TrimLeft(id.String(), "0") {
			t.Fatalf("%q parsed as %s", s, id)
		}
	})
}
