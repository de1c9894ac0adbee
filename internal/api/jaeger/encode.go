package jaeger

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/clew-dev/clew/internal/model"
)

// The Jaeger JSON of traces is written by hand rather than by
// encoding/json over intermediate structs: a search answers with some
// twenty whole traces (about 270 KB of JSON on the benchmark load), and
// building one struct, map and interface value per span, tag and process
// and rendering them by reflection was about a quarter of its CPU. The
// output is byte for byte what encoding/json writes for the structs of
// reference_test.go (with HTML escaping, as server.WriteJSON sets it):
// TestEncoderMatchesEncodingJSON and FuzzEncoder compare the two.

// traceList is a response's data made of whole traces, which
// writeResponse renders with traceEncoder.
type traceList []*model.Trace

// traceEncoder renders traces as the Jaeger query API's JSON. Its maps and
// buffers are reused from trace to trace; it is not safe for concurrent
// use.
type traceEncoder struct {
	procOf map[*model.Resource]int // resource → process number (1-based)
	procs  []*model.Resource       // process n's resource at n-1
	order  []int                   // process numbers in the order of their ids as strings
	key    []byte
	// The processes' keys (appendProcessKey): process n's is
	// keys[keyEnds[n-2]:keyEnds[n-1]], searched one by one up to
	// linearProcs processes, then through procKeys.
	keys     []byte
	keyEnds  []int
	procKeys map[string]int
	big      bool // its maps grew past maxPooledProcs: not pooled again
}

// linearProcs is the number of processes up to which a trace's process
// keys are compared one by one rather than through a map.
const linearProcs = 16

var encoderPool = sync.Pool{New: func() any {
	return &traceEncoder{procOf: map[*model.Resource]int{}, procKeys: map[string]int{}}
}}

// Limits on what a pooled encoder keeps.
const (
	maxPooledProcs   = 1 << 10
	maxPooledOutBuf  = 1 << 20
	streamChunkBytes = 64 << 10 // a response is written in pieces of about this size
)

var outBufPool = sync.Pool{New: func() any { b := make([]byte, 0, streamChunkBytes+16<<10); return &b }}

// writeResponse writes resp, whose data is traces, as encoding/json would
// write it, in pieces of about streamChunkBytes as the traces are
// rendered, so that neither the whole reply nor a model of it is built in
// memory.
//
// A reply that fits in one piece (a trace by id) is written with its
// Content-Length in one Write: net/http then sends it in two system calls
// instead of three for a chunked reply (headers and a first chunk, the
// rest, the closing chunk), and the client reads it without chunking.
func writeResponse(w http.ResponseWriter, code int, resp response, traces traceList) {
	w.Header().Set("Content-Type", "application/json")
	e := encoderPool.Get().(*traceEncoder)
	bp := outBufPool.Get().(*[]byte)
	b := append((*bp)[:0], `{"data":[`...)
	failed, started := false, false
	flush := func(last bool) {
		if !started {
			if last {
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			}
			w.WriteHeader(code)
			started = true
		}
		if !failed {
			if _, err := w.Write(b); err != nil {
				failed = true // the client went away; render nothing more
			}
		}
		b = b[:0]
	}
	for i, t := range traces {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.appendTrace(b, t)
		if len(b) >= streamChunkBytes {
			if flush(false); failed {
				break
			}
		}
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, int64(resp.Total), 10)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(resp.Limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(resp.Offset), 10)
	b = append(b, `,"errors":`...)
	b = appendErrors(b, resp.Errors)
	b = append(b, '}', '\n')
	flush(true)
	e.release()
	if cap(b) <= maxPooledOutBuf {
		*bp = b[:0]
		outBufPool.Put(bp)
	}
}

// release returns e to the pool unless it grew too big to keep.
func (e *traceEncoder) release() {
	if e.big || len(e.procOf) > maxPooledProcs || cap(e.keys) > maxPooledOutBuf {
		return
	}
	e.reset()
	encoderPool.Put(e)
}

func (e *traceEncoder) reset() {
	e.big = e.big || len(e.procOf) > maxPooledProcs
	clear(e.procOf)
	clear(e.procKeys)
	clear(e.procs) // drop the resources
	e.procs, e.order, e.key, e.keys, e.keyEnds = e.procs[:0], e.order[:0], e.key[:0], e.keys[:0], e.keyEnds[:0]
}

func appendErrors(b []byte, errs []apiError) []byte {
	if errs == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i := range errs {
		if i > 0 {
			b = append(b, ',')
		}
		er := &errs[i]
		b = append(b, '{')
		if er.Code != 0 {
			b = append(b, `"code":`...)
			b = strconv.AppendInt(b, int64(er.Code), 10)
			b = append(b, ',')
		}
		b = append(b, `"msg":`...)
		b = appendString(b, er.Msg)
		if er.TraceID != "" {
			b = append(b, `,"traceID":`...)
			b = appendString(b, er.TraceID)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendTrace appends the Jaeger JSON of t: its spans in order, and a
// process for each distinct resource (resources equal in content share
// one, numbered p1, p2, ... in the order of first use).
func (e *traceEncoder) appendTrace(b []byte, t *model.Trace) []byte {
	e.reset()
	b = append(b, `{"traceID":`...)
	b = appendJaegerTraceID(b, t.TraceID)
	b = append(b, `,"spans":[`...)
	for i, sp := range t.Spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = e.appendSpan(b, sp, e.process(sp.Resource))
	}
	b = append(b, `],"processes":{`...)
	// encoding/json writes a map's keys sorted: "p10" before "p2".
	e.order = e.order[:0]
	for n := 1; n <= len(e.procs); n++ {
		e.order = append(e.order, n)
	}
	if len(e.procs) >= 10 {
		slices.SortFunc(e.order, func(x, y int) int { return cmp.Compare(strconv.Itoa(x), strconv.Itoa(y)) })
	}
	for i, n := range e.order {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `"p`...)
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, `":`...)
		b = appendProcess(b, e.procs[n-1])
	}
	return append(b, `},"warnings":null}`...)
}

// process returns the process number of resource r, giving it a new one
// unless an earlier resource of the trace has the same content.
func (e *traceEncoder) process(r *model.Resource) int {
	if n, ok := e.procOf[r]; ok {
		return n
	}
	e.key = appendProcessKey(e.key[:0], r)
	n := e.findKey()
	if n == 0 {
		e.procs = append(e.procs, r)
		n = len(e.procs)
		e.keys = append(e.keys, e.key...)
		e.keyEnds = append(e.keyEnds, len(e.keys))
		switch {
		case n == linearProcs+1:
			for i := 1; i <= n; i++ {
				e.procKeys[string(e.keyOf(i))] = i
			}
		case n > linearProcs+1:
			e.procKeys[string(e.key)] = n
		}
	}
	e.procOf[r] = n
	return n
}

// findKey returns the number of the process whose key is e.key, or 0.
func (e *traceEncoder) findKey() int {
	if len(e.procs) > linearProcs {
		return e.procKeys[string(e.key)]
	}
	for n := 1; n <= len(e.procs); n++ {
		if string(e.keyOf(n)) == string(e.key) {
			return n
		}
	}
	return 0
}

func (e *traceEncoder) keyOf(n int) []byte {
	from := 0
	if n > 1 {
		from = e.keyEnds[n-2]
	}
	return e.keys[from:e.keyEnds[n-1]]
}

// appendProcessKey appends what identifies r's process: its service name
// and its tags, each field length-prefixed. Two resources get the same key
// exactly when their processes render the same from the same bytes.
func appendProcessKey(b []byte, r *model.Resource) []byte {
	b = appendKeyField(b, r.ServiceName())
	if r == nil {
		return b
	}
	for _, kv := range r.Attributes {
		if kv.Key == model.AttrServiceName {
			continue
		}
		b = appendKeyField(b, kv.Key)
		v := kv.Value
		switch v.Type() {
		case model.ValueBool:
			b = append(b, 'b')
			b = strconv.AppendBool(b, v.Bool())
		case model.ValueInt:
			b = append(b, 'i')
			b = binary.LittleEndian.AppendUint64(b, uint64(v.Int()))
		case model.ValueDouble:
			if f := v.Double(); !math.IsInf(f, 0) && !math.IsNaN(f) {
				b = append(b, 'f')
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
				continue
			}
			b = append(b, 's')
			b = appendKeyField(b, v.AsString())
		case model.ValueBytes:
			b = append(b, 'x')
			b = appendKeyField(b, v.Str())
		case model.ValueString:
			b = append(b, 's')
			b = appendKeyField(b, v.Str())
		default:
			b = append(b, 's')
			b = appendKeyField(b, v.AsString())
		}
	}
	return b
}

func appendKeyField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendProcess(b []byte, r *model.Resource) []byte {
	b = append(b, `{"serviceName":`...)
	b = appendString(b, r.ServiceName())
	b = append(b, `,"tags":[`...)
	if r != nil {
		first := true
		for _, kv := range r.Attributes {
			if kv.Key == model.AttrServiceName {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = appendKeyValue(b, kv.Key, kv.Value)
		}
	}
	return append(b, ']', '}')
}

// appendSpan appends sp's Jaeger JSON, mapping OTLP fields the way the
// OpenTelemetry Collector's Jaeger translator does.
func (e *traceEncoder) appendSpan(b []byte, sp *model.Span, proc int) []byte {
	b = append(b, `{"traceID":`...)
	b = appendJaegerTraceID(b, sp.TraceID)
	b = append(b, `,"spanID":`...)
	b = appendSpanID(b, sp.SpanID)
	if f := sp.Flags & 0xff; f != 0 {
		b = append(b, `,"flags":`...)
		b = strconv.AppendUint(b, uint64(f), 10)
	}
	b = append(b, `,"operationName":`...)
	b = appendString(b, sp.Name)
	b = append(b, `,"references":[`...)
	refs := 0
	ref := func(b []byte, typ string, tid model.TraceID, sid model.SpanID) []byte {
		if refs > 0 {
			b = append(b, ',')
		}
		refs++
		b = append(b, `{"refType":"`...)
		b = append(b, typ...)
		b = append(b, `","traceID":`...)
		b = appendJaegerTraceID(b, tid)
		b = append(b, `,"spanID":`...)
		b = appendSpanID(b, sid)
		return append(b, '}')
	}
	if !sp.ParentSpanID.IsZero() {
		b = ref(b, refChildOf, sp.TraceID, sp.ParentSpanID)
	}
	for i := range sp.Links {
		ln := &sp.Links[i]
		typ := refFollowsFrom
		if v, ok := ln.Attributes.Get(attrRefType); ok && v.Str() == "child_of" {
			typ = refChildOf
		}
		b = ref(b, typ, ln.TraceID, ln.SpanID)
	}
	b = append(b, `],"startTime":`...)
	b = strconv.AppendUint(b, sp.StartTimeUnixNano/1000, 10)
	b = append(b, `,"duration":`...)
	b = strconv.AppendUint(b, uint64(sp.Duration().Microseconds()), 10)
	b = append(b, `,"tags":[`...)
	tags := 0
	tag := func(b []byte, key string, v model.Value) []byte {
		if tags > 0 {
			b = append(b, ',')
		}
		tags++
		return appendKeyValue(b, key, v)
	}
	for _, kv := range sp.Attributes {
		b = tag(b, kv.Key, kv.Value)
	}
	if sp.Scope != nil {
		if sp.Scope.Name != "" {
			b = tag(b, "otel.scope.name", model.StringValue(sp.Scope.Name))
		}
		if sp.Scope.Version != "" {
			b = tag(b, "otel.scope.version", model.StringValue(sp.Scope.Version))
		}
	}
	if k := sp.Kind.String(); k != "" {
		b = tag(b, "span.kind", model.StringValue(k))
	}
	switch sp.Status.Code {
	case model.StatusError:
		b = tag(b, "error", model.BoolValue(true))
		b = tag(b, "otel.status_code", model.StringValue("ERROR"))
		if sp.Status.Message != "" {
			b = tag(b, "otel.status_description", model.StringValue(sp.Status.Message))
		}
	case model.StatusOK:
		b = tag(b, "otel.status_code", model.StringValue("OK"))
	}
	if sp.TraceState != "" {
		b = tag(b, "w3c.tracestate", model.StringValue(sp.TraceState))
	}
	b = append(b, `],"logs":[`...)
	for i := range sp.Events {
		ev := &sp.Events[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"timestamp":`...)
		b = strconv.AppendUint(b, ev.TimeUnixNano/1000, 10)
		b = append(b, `,"fields":[`...)
		if ev.Name != "" {
			b = appendKeyValue(b, "event", model.StringValue(ev.Name))
		}
		for j, kv := range ev.Attributes {
			if j > 0 || ev.Name != "" {
				b = append(b, ',')
			}
			b = appendKeyValue(b, kv.Key, kv.Value)
		}
		b = append(b, ']', '}')
	}
	b = append(b, `],"processID":"p`...)
	b = strconv.AppendInt(b, int64(proc), 10)
	return append(b, `","warnings":null}`...)
}

// appendKeyValue appends a Jaeger tag: the five Jaeger types; arrays and
// maps become their JSON text, and infinite or NaN doubles their text, as
// a string.
func appendKeyValue(b []byte, key string, v model.Value) []byte {
	b = append(b, `{"key":`...)
	b = appendString(b, key)
	switch v.Type() {
	case model.ValueBool:
		b = append(b, `,"type":"bool","value":`...)
		b = strconv.AppendBool(b, v.Bool())
	case model.ValueInt:
		b = append(b, `,"type":"int64","value":`...)
		b = strconv.AppendInt(b, v.Int(), 10)
	case model.ValueDouble:
		f := v.Double()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			b = append(b, `,"type":"string","value":`...)
			b = appendString(b, v.AsString())
			break
		}
		b = append(b, `,"type":"float64","value":`...)
		b = appendFloat(b, f)
	case model.ValueBytes:
		// Base64's alphabet needs no escaping.
		b = append(b, `,"type":"binary","value":"`...)
		b = base64.StdEncoding.AppendEncode(b, []byte(v.Str()))
		b = append(b, '"')
	case model.ValueString:
		b = append(b, `,"type":"string","value":`...)
		b = appendString(b, v.Str())
	default:
		b = append(b, `,"type":"string","value":`...)
		b = appendString(b, v.AsString())
	}
	return append(b, '}')
}

// appendFloat appends a finite f as encoding/json does (ECMAScript's
// number to string: the shortest decimal, in exponent form below 1e-6 and
// from 1e21 on, with the exponent's digits unpadded).
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// strconv writes at least two exponent digits: e-07 becomes e-7.
		if n := len(b); n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJaegerTraceID appends id as model.TraceID.JaegerString does (16
// hex digits when the high half is zero, else 32), quoted.
func appendJaegerTraceID(b []byte, id model.TraceID) []byte {
	b = append(b, '"')
	from := 0
	if high, _ := id.Uint64s(); high == 0 {
		from = 8
	}
	for _, c := range id[from:] {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, '"')
}

// appendSpanID appends id's 16 hex digits, quoted.
func appendSpanID(b []byte, id model.SpanID) []byte {
	b = append(b, '"')
	for _, c := range id {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return append(b, '"')
}

// jsonSafe marks the ASCII bytes a JSON string holds as they are when
// HTML characters are escaped too.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// appendString appends s as a JSON string the way encoding/json does with
// HTML escaping: quotes and backslashes escaped, \b \f \n \r \t by name,
// other control characters and < > & as \u00XX, U+2028 and U+2029
// escaped, and each byte of invalid UTF-8 replaced by \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
