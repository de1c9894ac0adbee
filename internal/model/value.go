package model

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
)

// ValueType is the type of an attribute value, as in OpenTelemetry's AnyValue.
type ValueType uint8

// The value types. The zero Value is ValueEmpty.
const (
	ValueEmpty ValueType = iota
	ValueString
	ValueBool
	ValueInt
	ValueDouble
	ValueBytes
	ValueSlice
	ValueMap
)

var valueTypeNames = [...]string{"empty", "string", "bool", "int", "double", "bytes", "array", "map"}

// String returns the type's lowercase name.
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return "unknown"
}

// Value is a typed attribute value. It is small (40 bytes) and immutable once
// built: constructors copy nothing, so a caller must not modify a byte slice,
// slice or map it passed in afterwards.
type Value struct {
	typ  ValueType
	num  uint64 // int64, float64 bits or bool
	str  string // string or bytes
	comp *composite
}

type composite struct {
	slice []Value
	kvs   []KeyValue
}

// KeyValue is one attribute.
type KeyValue struct {
	Key   string
	Value Value
}

// StringValue returns a string Value.
func StringValue(s string) Value { return Value{typ: ValueString, str: s} }

// BoolValue returns a bool Value.
func BoolValue(b bool) Value {
	v := Value{typ: ValueBool}
	if b {
		v.num = 1
	}
	return v
}

// IntValue returns an int64 Value.
func IntValue(i int64) Value { return Value{typ: ValueInt, num: uint64(i)} }

// DoubleValue returns a float64 Value.
func DoubleValue(f float64) Value { return Value{typ: ValueDouble, num: math.Float64bits(f)} }

// BytesValue returns a bytes Value holding a copy of b.
func BytesValue(b []byte) Value { return Value{typ: ValueBytes, str: string(b)} }

// SliceValue returns an array Value.
func SliceValue(vs []Value) Value { return Value{typ: ValueSlice, comp: &composite{slice: vs}} }

// MapValue returns a map (key-value list) Value.
func MapValue(kvs []KeyValue) Value { return Value{typ: ValueMap, comp: &composite{kvs: kvs}} }

// Type returns the value's type.
func (v Value) Type() ValueType { return v.typ }

// ScalarOf returns v's type and, without copying v, the payload of a
// scalar value: the string of a string or bytes value, and the bits of an
// int (int64), double (float64 bits) or bool (0 or 1) value. It is for hot
// encoders: each call of a method on a Value in a slice copies the Value
// to the stack first.
func ScalarOf(v *Value) (t ValueType, num uint64, str string) { return v.typ, v.num, v.str }

// Str returns the string of a string value, the raw bytes of a bytes value as
// a string, and "" otherwise.
func (v Value) Str() string { return v.str }

// Bool returns the bool of a bool value.
func (v Value) Bool() bool { return v.num != 0 }

// Int returns the int64 of an int value.
func (v Value) Int() int64 { return int64(v.num) }

// Double returns the float64 of a double value.
func (v Value) Double() float64 { return math.Float64frombits(v.num) }

// Bytes returns a copy of the bytes of a bytes value.
func (v Value) Bytes() []byte { return []byte(v.str) }

// Slice returns the elements of an array value. The caller must not modify them.
func (v Value) Slice() []Value {
	if v.comp == nil {
		return nil
	}
	return v.comp.slice
}

// Map returns the entries of a map value. The caller must not modify them.
func (v Value) Map() []KeyValue {
	if v.comp == nil {
		return nil
	}
	return v.comp.kvs
}

// Equal reports whether v and w have the same type and value.
func (v Value) Equal(w Value) bool {
	if v.typ != w.typ || v.num != w.num || v.str != w.str {
		return false
	}
	switch v.typ {
	case ValueSlice:
		a, b := v.Slice(), w.Slice()
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !a[i].Equal(b[i]) {
				return false
			}
		}
	case ValueMap:
		a, b := v.Map(), w.Map()
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if a[i].Key != b[i].Key || !a[i].Value.Equal(b[i].Value) {
				return false
			}
		}
	}
	return true
}

// AsString renders the value as text the way Jaeger and OpenTelemetry's
// AnyValue.AsString do: numbers in shortest form, bytes in base64, arrays and
// maps as JSON.
func (v Value) AsString() string {
	switch v.typ {
	case ValueString:
		return v.str
	case ValueBool:
		return strconv.FormatBool(v.Bool())
	case ValueInt:
		return strconv.FormatInt(v.Int(), 10)
	case ValueDouble:
		return formatDouble(v.Double())
	case ValueBytes:
		return base64.StdEncoding.EncodeToString([]byte(v.str))
	case ValueSlice, ValueMap:
		b, _ := json.Marshal(v.jsonable())
		return string(b)
	}
	return ""
}

func formatDouble(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// jsonable converts the value into plain Go values for encoding/json.
func (v Value) jsonable() any {
	switch v.typ {
	case ValueString:
		return v.str
	case ValueBool:
		return v.Bool()
	case ValueInt:
		return v.Int()
	case ValueDouble:
		f := v.Double()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return formatDouble(f)
		}
		return f
	case ValueBytes:
		return base64.StdEncoding.EncodeToString([]byte(v.str))
	case ValueSlice:
		out := make([]any, len(v.Slice()))
		for i, e := range v.Slice() {
			out[i] = e.jsonable()
		}
		return out
	case ValueMap:
		out := make(map[string]any, len(v.Map()))
		for _, kv := range v.Map() {
			out[kv.Key] = kv.Value.jsonable()
		}
		return out
	}
	return nil
}

// Size returns an estimate of the bytes the value holds, for memory limits.
func (v Value) Size() int {
	n := 40 + len(v.str)
	if v.comp != nil {
		for _, e := range v.comp.slice {
			n += e.Size()
		}
		for _, kv := range v.comp.kvs {
			n += len(kv.Key) + kv.Value.Size()
		}
	}
	return n
}

// Attributes is an ordered list of attributes, as in OTLP. Keys are expected
// to be unique; when they are not, Get returns the first.
type Attributes []KeyValue

// Get returns the value of key and whether it is present.
func (a Attributes) Get(key string) (Value, bool) {
	for i := range a {
		if a[i].Key == key {
			return a[i].Value, true
		}
	}
	return Value{}, false
}

// Size returns an estimate of the bytes the attributes hold.
func (a Attributes) Size() int {
	n := 24
	for i := range a {
		n += 16 + len(a[i].Key) + a[i].Value.Size()
	}
	return n
}
