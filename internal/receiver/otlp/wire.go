package otlp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
)

// decodeProtoPooled decodes an ExportTraceServiceRequest straight from its
// protobuf bytes into model spans, without building the Collector's pdata
// first: BenchmarkDecodeProto showed the pdata path (decode, then convert)
// to be the largest CPU cost of ingestion. Its results must equal
// pdataconv.ToModel of pdata's decoding (FuzzWireMatchesPdata).
//
// Field numbers are those of opentelemetry-proto's trace/v1, common/v1 and
// resource/v1 messages. Unknown fields are skipped, as protobuf requires.
// The strings of spans, events and links share b's bytes (b must not
// change while the spans are in use: the gRPC receiver frees its pooled
// request buffer only once the export returns); resources and scopes,
// which a store may keep long after the spans' other fields, own copies of
// theirs.
//
// The spans, their attributes and the returned slice are carved from
// pooled memory: the caller must call release once nothing uses the spans
// any more (stores copy what they keep; see store.Writer), and must not
// touch them afterwards. Resources and scopes are not pooled: stores may
// keep those. The arena also holds the spans' bounds (arena.bounds), which
// the pipeline uses to skip its limits when nothing exceeds them.
func decodeProtoPooled(b []byte) ([]*model.Span, *decodeArena, error) {
	a := arenaPool.Get().(*decodeArena)
	out, err := a.decode(b)
	if err != nil {
		a.release()
		return nil, nil, err
	}
	return out, a, nil
}

// decode decodes the request b into a, which must be reset.
func (a *decodeArena) decode(b []byte) ([]*model.Span, error) {
	d := wireDecoder{strs: a.strs, alias: true, arena: a, stack: a.stack[:0]}
	out, err := d.request(b, a.out[:0])
	a.out, a.bnds = out, d.bounds
	if cap(d.stack) <= maxPooledStack {
		a.stack = d.stack[:0]
	}
	trimLast(a.usedKVs, len(d.slab))
	trimLast(a.usedEvs, len(d.evSlab))
	return out, err
}

// request decodes an ExportTraceServiceRequest, appending its spans to out
// and setting d.bounds to theirs.
func (d *wireDecoder) request(b []byte, out []*model.Span) ([]*model.Span, error) {
	d.bounds = pipeline.Bounds{MinStartTimeUnixNano: math.MaxUint64}
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 {
			return nil
		}
		if typ != protowire.BytesType {
			return errWireType("ExportTraceServiceRequest.resource_spans")
		}
		var err error
		out, err = d.resourceSpans(v, out)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decodeArena is the memory of one request's decoded spans, reused from
// request to request: allocating it afresh was most of what ingestion
// allocated (attributes alone about 600 bytes per span), and so most of
// the garbage collector's work.
type decodeArena struct {
	// spans and kvs are chunks handed out from; used* are the parts given
	// out since the last release.
	spans, usedSpans [][]model.Span
	kvs, usedKVs     [][]model.KeyValue
	evs, usedEvs     [][]model.Event
	curSpans         []model.Span // the rest of the current spans chunk
	out              []*model.Span
	strs             map[string]string
	bnds             pipeline.Bounds // of out
	// stack is the decoder's attribute stack, kept for the next request.
	// Its entries are not cleared (they are overwritten before they are
	// read); at most maxPooledStack of them keep what they pointed to.
	stack []model.KeyValue
}

// bounds returns the bounds of the spans decoded into a, or nil for a nil
// arena (spans not decoded by the wire decoder).
func (a *decodeArena) bounds() *pipeline.Bounds {
	if a == nil {
		return nil
	}
	return &a.bnds
}

const (
	spanChunk = 1024
	evChunk   = 512 // events
	// maxPooledChunks bounds the chunks an arena keeps between requests
	// (about 7 MB of attributes, 4 MB of spans); a larger request's extra
	// chunks are left to the garbage collector.
	maxPooledChunks = 64
	maxPooledSpans  = 16 // chunks of spanChunk spans
	maxPooledStack  = 1024
)

var arenaPool = sync.Pool{New: func() any { return &decodeArena{strs: make(map[string]string, 64)} }}

// The chunks in use (used*) are cut to the part handed out, so that release
// clears only that: the rest of a chunk is still zero. A chunk is cut when
// the next one is taken (rest is then how much of the previous one was
// left) and, for the last, once the request is decoded or released.

// trimLast cuts rest unused elements off the end of used's last chunk.
func trimLast[T any](used [][]T, rest int) {
	if n := len(used); n > 0 {
		used[n-1] = used[n-1][:len(used[n-1])-rest]
	}
}

// attrChunk returns a chunk of slabSize attributes; rest is how many of
// the previous one were not handed out.
func (a *decodeArena) attrChunk(rest int) []model.KeyValue {
	trimLast(a.usedKVs, rest)
	var c []model.KeyValue
	if n := len(a.kvs); n > 0 {
		c, a.kvs = a.kvs[n-1], a.kvs[:n-1]
	} else {
		c = make([]model.KeyValue, slabSize)
	}
	a.usedKVs = append(a.usedKVs, c)
	return c
}

// eventChunk returns a chunk of evChunk events; rest is how many of the
// previous one were not handed out.
func (a *decodeArena) eventChunk(rest int) []model.Event {
	trimLast(a.usedEvs, rest)
	var c []model.Event
	if n := len(a.evs); n > 0 {
		c, a.evs = a.evs[n-1], a.evs[:n-1]
	} else {
		c = make([]model.Event, evChunk)
	}
	a.usedEvs = append(a.usedEvs, c)
	return c
}

// takeSpans returns n spans.
func (a *decodeArena) takeSpans(n int) []model.Span {
	if n > spanChunk {
		return make([]model.Span, n)
	}
	if len(a.curSpans) < n {
		trimLast(a.usedSpans, len(a.curSpans))
		var c []model.Span
		if k := len(a.spans); k > 0 {
			c, a.spans = a.spans[k-1], a.spans[:k-1]
		} else {
			c = make([]model.Span, spanChunk)
		}
		a.usedSpans = append(a.usedSpans, c)
		a.curSpans = c
	}
	out := a.curSpans[:n:n]
	a.curSpans = a.curSpans[n:]
	return out
}

// release resets the arena and pools it again; a nil arena (nothing
// pooled) is left alone.
func (a *decodeArena) release() {
	if a == nil {
		return
	}
	a.reset()
	arenaPool.Put(a)
}

// reset clears what the request used and keeps its chunks for the next.
func (a *decodeArena) reset() {
	trimLast(a.usedSpans, len(a.curSpans))
	for _, c := range a.usedKVs {
		clear(c)
		if len(a.kvs) < maxPooledChunks {
			a.kvs = append(a.kvs, c[:slabSize])
		}
	}
	for _, c := range a.usedSpans {
		clear(c)
		if len(a.spans) < maxPooledSpans {
			a.spans = append(a.spans, c[:spanChunk])
		}
	}
	for _, c := range a.usedEvs {
		clear(c)
		if len(a.evs) < maxPooledSpans {
			a.evs = append(a.evs, c[:evChunk])
		}
	}
	clear(a.usedKVs)
	clear(a.usedSpans)
	clear(a.usedEvs)
	a.usedKVs, a.usedSpans, a.usedEvs = a.usedKVs[:0], a.usedSpans[:0], a.usedEvs[:0]
	a.curSpans = nil
	clear(a.out)
	a.out = a.out[:0]
	if cap(a.out) > 1<<16 {
		a.out = nil
	}
	clear(a.strs)
}

type wireDecoder struct {
	// strs interns keys and short values repeated across spans of one
	// request (attribute keys, service names), saving memory and allocations.
	strs map[string]string
	// stack collects the attributes of the message being decoded; nested
	// messages push above and pop back to where they started.
	stack []model.KeyValue
	// slab hands out exact-size attribute slices, so a request's attributes
	// take a few large allocations instead of several per span.
	slab []model.KeyValue
	// events collects the events of the span being decoded, and evSlab
	// hands out their slices, like stack and slab for attributes.
	events []model.Event
	evSlab []model.Event
	// alias makes strings share the input's bytes instead of copying
	// (and interning) them.
	alias bool
	// arena, when set, gives the spans and the slab's chunks.
	arena *decodeArena
	// bounds measures the decoded spans for the pipeline's limits: every
	// key and every string or bytes value decoded counts, at any depth
	// and in scopes too, which can only overstate what the limits see.
	bounds pipeline.Bounds
}

// key notes the length of a decoded attribute key or name in the bounds.
func (d *wireDecoder) key(b []byte) {
	d.bounds.MaxNameBytes = max(d.bounds.MaxNameBytes, len(b))
}

// value notes the length of a decoded string or bytes value in the bounds.
func (d *wireDecoder) value(b []byte) {
	d.bounds.MaxValueBytes = max(d.bounds.MaxValueBytes, len(b))
}

// copying makes str copy strings until the returned func is called.
func (d *wireDecoder) copying() (restore func()) {
	was := d.alias
	d.alias = false
	return func() { d.alias = was }
}

const slabSize = 2048

// attrs copies stack[start:] into a slice of its own and pops it.
func (d *wireDecoder) attrs(start int) model.Attributes {
	n := len(d.stack) - start
	if n == 0 {
		return nil
	}
	var out []model.KeyValue
	if n > slabSize/4 {
		out = make([]model.KeyValue, n)
	} else {
		if len(d.slab) < n {
			if d.arena != nil {
				d.slab = d.arena.attrChunk(len(d.slab))
			} else {
				d.slab = make([]model.KeyValue, slabSize)
			}
		}
		out = d.slab[:n:n]
		d.slab = d.slab[n:]
	}
	copy(out, d.stack[start:])
	// The popped entries are not cleared: pushKeyValue overwrites an
	// entry whole before anything reads it.
	d.stack = d.stack[:start]
	return out
}

// pushKeyValue decodes one KeyValue onto the stack.
func (d *wireDecoder) pushKeyValue(v []byte) error {
	// A new entry, not zeroed: shortKeyValue and keyValue set it whole.
	if len(d.stack) < cap(d.stack) {
		d.stack = d.stack[:len(d.stack)+1]
	} else {
		d.stack = append(d.stack, model.KeyValue{})
	}
	kv := &d.stack[len(d.stack)-1]
	if d.shortKeyValue(v, kv) {
		return nil
	}
	var err error
	if *kv, err = d.keyValue(v); err != nil {
		d.stack = d.stack[:len(d.stack)-1]
	}
	return err
}

// shortKeyValue decodes the KeyValue b into kv when it has the usual
// shape: a key and a value holding one string or int, every length under
// 128 bytes so that each is one byte (0a klen key 12 vlen 0a slen str, or
// 18 varint for an int), with the key first (as the OpenTelemetry SDKs
// write it) or the value first (as the Collector's pdata does). It reports
// false, leaving kv alone, for anything else, which keyValue decodes.
func (d *wireDecoder) shortKeyValue(b []byte, kv *model.KeyValue) bool {
	if len(b) < 4 || b[1] >= 0x80 || len(b) < 4+int(b[1]) {
		return false
	}
	first, r := b[2:2+b[1]], b[2+b[1]:]
	if r[1] >= 0x80 || len(r) != 2+int(r[1]) {
		return false
	}
	second := r[2:]
	var key, v []byte
	switch {
	case b[0] == 0x0a && r[0] == 0x12:
		key, v = first, second
	case b[0] == 0x12 && r[0] == 0x0a:
		key, v = second, first
	default:
		return false
	}
	if len(v) < 2 {
		return false
	}
	switch v[0] {
	case 0x0a: // string_value
		if v[1] >= 0x80 || len(v) != 2+int(v[1]) {
			return false
		}
		d.key(key)
		d.value(v[2:])
		kv.Key, kv.Value = d.str(key), model.StringValue(d.str(v[2:]))
	case 0x18: // int_value
		n, l := protowire.ConsumeVarint(v[1:])
		if l != len(v)-1 {
			return false
		}
		d.key(key)
		kv.Key, kv.Value = d.str(key), model.IntValue(int64(n))
	default:
		return false
	}
	return true
}

const maxInternLen = 64

func (d *wireDecoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if d.alias {
		return unsafe.String(&b[0], len(b))
	}
	if len(b) > maxInternLen {
		return string(b)
	}
	if s, ok := d.strs[string(b)]; ok {
		return s
	}
	if len(d.strs) >= 4096 {
		return string(b)
	}
	s := string(b)
	d.strs[s] = s
	return s
}

func errWireType(field string) error { return fmt.Errorf("%s: wrong wire type", field) }

var errTruncated = errors.New("truncated or malformed protobuf")

// eachField calls fn for every field of the message in b. For BytesType v
// is the payload; for varint and fixed types n is the value.
func eachField(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error) error {
	for len(b) > 0 {
		num, typ, v, n, l := nextField(b)
		if l < 0 {
			return errTruncated
		}
		b = b[l:]
		if err := fn(num, typ, v, n); err != nil {
			return err
		}
	}
	return nil
}

func (d *wireDecoder) resourceSpans(b []byte, out []*model.Span) ([]*model.Span, error) {
	res := &model.Resource{}
	var scopes [][]byte
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch num {
		case 1:
			if typ != protowire.BytesType {
				return errWireType("ResourceSpans.resource")
			}
			return d.resource(v, res)
		case 2:
			if typ != protowire.BytesType {
				return errWireType("ResourceSpans.scope_spans")
			}
			scopes = append(scopes, v)
		case 3:
			if typ != protowire.BytesType {
				return errWireType("ResourceSpans.schema_url")
			}
			res.SchemaURL = string(v)
		}
		return nil
	})
	if err != nil {
		return out, err
	}
	for _, v := range scopes {
		if out, err = d.scopeSpans(v, res, out); err != nil {
			return out, err
		}
	}
	return out, nil
}

func (d *wireDecoder) resource(b []byte, res *model.Resource) error {
	defer d.copying()()
	start := len(d.stack)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch num {
		case 1:
			if typ != protowire.BytesType {
				return errWireType("Resource.attributes")
			}
			return d.pushKeyValue(v)
		case 2:
			if typ != protowire.VarintType {
				return errWireType("Resource.dropped_attributes_count")
			}
			res.DroppedAttributesCount = uint32(n)
		}
		return nil
	})
	res.Attributes = append(res.Attributes, d.attrs(start)...)
	return err
}

func (d *wireDecoder) scopeSpans(b []byte, res *model.Resource, out []*model.Span) ([]*model.Span, error) {
	scope := &model.Scope{}
	nspans := 0
	// First pass: scope fields and the span count, so the spans of the
	// scope come from one allocation.
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch num {
		case 1:
			if typ != protowire.BytesType {
				return errWireType("ScopeSpans.scope")
			}
			return d.scope(v, scope)
		case 2:
			if typ != protowire.BytesType {
				return errWireType("ScopeSpans.spans")
			}
			nspans++
		case 3:
			if typ != protowire.BytesType {
				return errWireType("ScopeSpans.schema_url")
			}
			scope.SchemaURL = string(v)
		}
		return nil
	})
	if err != nil || nspans == 0 {
		return out, err
	}
	var block []model.Span
	if d.arena != nil {
		block = d.arena.takeSpans(nspans)
	} else {
		block = make([]model.Span, nspans)
	}
	i := 0
	err = eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 2 {
			return nil
		}
		sp := &block[i]
		i++
		sp.Resource, sp.Scope = res, scope
		if err := d.span(v, sp); err != nil {
			return err
		}
		out = append(out, sp)
		return nil
	})
	return out, err
}

func (d *wireDecoder) scope(b []byte, sc *model.Scope) error {
	defer d.copying()()
	start := len(d.stack)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch num {
		case 1, 2:
			if typ != protowire.BytesType {
				return errWireType("InstrumentationScope.name/version")
			}
			if num == 1 {
				sc.Name = d.str(v)
			} else {
				sc.Version = d.str(v)
			}
		case 3:
			if typ != protowire.BytesType {
				return errWireType("InstrumentationScope.attributes")
			}
			return d.pushKeyValue(v)
		case 4:
			if typ != protowire.VarintType {
				return errWireType("InstrumentationScope.dropped_attributes_count")
			}
			sc.DroppedAttributesCount = uint32(n)
		}
		return nil
	})
	sc.Attributes = append(sc.Attributes, d.attrs(start)...)
	return err
}

func traceIDFrom(v []byte, field string) (model.TraceID, error) {
	var id model.TraceID
	switch len(v) {
	case 0:
	case 16:
		copy(id[:], v)
	default:
		return id, fmt.Errorf("%s: %d bytes, want 16", field, len(v))
	}
	return id, nil
}

func spanIDFrom(v []byte, field string) (model.SpanID, error) {
	var id model.SpanID
	switch len(v) {
	case 0:
	case 8:
		copy(id[:], v)
	default:
		return id, fmt.Errorf("%s: %d bytes, want 8", field, len(v))
	}
	return id, nil
}

func (d *wireDecoder) span(b []byte, sp *model.Span) error {
	start, evStart := len(d.stack), len(d.events)
	err := d.spanFields(b, sp)
	sp.Events = d.popEvents(evStart)
	sp.Attributes = d.attrs(start)
	bd := &d.bounds
	bd.MaxNameBytes = max(bd.MaxNameBytes, len(sp.Name))
	bd.MaxAttributes = max(bd.MaxAttributes, len(sp.Attributes))
	bd.MaxEvents = max(bd.MaxEvents, len(sp.Events))
	bd.MaxLinks = max(bd.MaxLinks, len(sp.Links))
	bd.MinStartTimeUnixNano = min(bd.MinStartTimeUnixNano, sp.StartTimeUnixNano)
	bd.MaxStartTimeUnixNano = max(bd.MaxStartTimeUnixNano, sp.StartTimeUnixNano)
	if sp.Name == "" || sp.EndTimeUnixNano < sp.StartTimeUnixNano || sp.TraceID.IsZero() || sp.SpanID.IsZero() {
		bd.Irregular = true
	}
	return err
}

// spanFields decodes the fields of the Span b into sp, pushing its
// attributes and events for span to pop.
func (d *wireDecoder) spanFields(b []byte, sp *model.Span) error {
	// A loop of its own rather than eachField, like anyValue's: spans are
	// most of a request, and the closure's indirect call per field was a
	// good part of their cost.
	for len(b) > 0 {
		// The usual field read here, the rest by nextField (whose call
		// was a good part of a field's cost): a one-byte tag followed by
		// a one-byte length or varint, or by 8 fixed bytes.
		var num protowire.Number
		var typ protowire.Type
		var v []byte
		var n uint64
		l := 0
		if len(b) >= 2 && b[0] < 0x80 && b[0] >= 8 {
			num, typ = protowire.Number(b[0]>>3), protowire.Type(b[0]&7)
			switch c := b[1]; {
			case typ == protowire.BytesType && c < 0x80 && int(c) <= len(b)-2:
				v, l = b[2:2+c], 2+int(c)
			case typ == protowire.Fixed64Type && len(b) >= 9:
				n, l = binary.LittleEndian.Uint64(b[1:9]), 9
			case typ == protowire.VarintType && c < 0x80:
				n, l = uint64(c), 2
			}
		}
		if l == 0 {
			num, typ, v, n, l = nextField(b)
		}
		if l < 0 {
			return errTruncated
		}
		b = b[l:]
		want := protowire.BytesType
		switch num {
		case 6, 10, 12, 14:
			want = protowire.VarintType
		case 7, 8:
			want = protowire.Fixed64Type
		case 16:
			want = protowire.Fixed32Type
		}
		if num >= 1 && num <= 16 && typ != want {
			return fmt.Errorf("Span field %d: wrong wire type", num)
		}
		var err error
		switch num {
		case 1:
			sp.TraceID, err = traceIDFrom(v, "Span.trace_id")
		case 2:
			sp.SpanID, err = spanIDFrom(v, "Span.span_id")
		case 3:
			sp.TraceState = string(v)
		case 4:
			sp.ParentSpanID, err = spanIDFrom(v, "Span.parent_span_id")
		case 5:
			sp.Name = d.str(v)
		case 6:
			sp.Kind = model.SpanKind(int32(n))
		case 7:
			sp.StartTimeUnixNano = n
		case 8:
			sp.EndTimeUnixNano = n
		case 9:
			// pushKeyValue, with the usual attribute's call saved.
			if len(d.stack) < cap(d.stack) {
				d.stack = d.stack[:len(d.stack)+1]
				if d.shortKeyValue(v, &d.stack[len(d.stack)-1]) {
					continue
				}
				d.stack = d.stack[:len(d.stack)-1]
			}
			err = d.pushKeyValue(v)
		case 10:
			sp.DroppedAttributesCount = uint32(n)
		case 11:
			d.events = append(d.events, model.Event{})
			err = d.event(v, &d.events[len(d.events)-1])
		case 12:
			sp.DroppedEventsCount = uint32(n)
		case 13:
			var ln model.Link
			if ln, err = d.link(v); err == nil {
				sp.Links = append(sp.Links, ln)
			}
		case 14:
			sp.DroppedLinksCount = uint32(n)
		case 15:
			err = d.status(v, &sp.Status)
		case 16:
			sp.Flags = uint32(n)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// nextField reads the field at the start of b: its number and type, its
// payload (BytesType) or value (varint and fixed types), and the bytes it
// took (l < 0: malformed).
func nextField(b []byte) (num protowire.Number, typ protowire.Type, v []byte, n uint64, l int) {
	if len(b) >= 2 && b[0] < 0x80 && b[0] >= 8 {
		// The usual field, as in spanFields.
		num, typ = protowire.Number(b[0]>>3), protowire.Type(b[0]&7)
		switch c := b[1]; {
		case typ == protowire.BytesType && c < 0x80 && int(c) <= len(b)-2:
			return num, typ, b[2 : 2+c], 0, 2 + int(c)
		case typ == protowire.Fixed64Type && len(b) >= 9:
			return num, typ, nil, binary.LittleEndian.Uint64(b[1:9]), 9
		case typ == protowire.VarintType && c < 0x80:
			return num, typ, nil, uint64(c), 2
		}
	}
	num, typ, l = consumeTag(b)
	if l < 0 {
		return 0, 0, nil, 0, l
	}
	b = b[l:]
	var k int
	switch typ {
	case protowire.VarintType:
		if len(b) > 0 && b[0] < 0x80 {
			n, k = uint64(b[0]), 1
		} else {
			n, k = protowire.ConsumeVarint(b)
		}
	case protowire.Fixed64Type:
		n, k = protowire.ConsumeFixed64(b)
	case protowire.Fixed32Type:
		var x uint32
		x, k = protowire.ConsumeFixed32(b)
		n = uint64(x)
	case protowire.BytesType:
		if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
			v, k = b[1:1+b[0]], 1+int(b[0])
		} else {
			v, k = protowire.ConsumeBytes(b)
		}
	default:
		k = protowire.ConsumeFieldValue(num, typ, b)
	}
	if k < 0 {
		return 0, 0, nil, 0, k
	}
	return num, typ, v, n, l + k
}

// popEvents moves events[start:] into a slice of their own (from the
// arena when there is one) and pops them.
func (d *wireDecoder) popEvents(start int) []model.Event {
	n := len(d.events) - start
	if n == 0 {
		return nil
	}
	var out []model.Event
	if d.arena != nil && n <= evChunk/4 {
		if len(d.evSlab) < n {
			d.evSlab = d.arena.eventChunk(len(d.evSlab))
		}
		out = d.evSlab[:n:n]
		d.evSlab = d.evSlab[n:]
	} else {
		out = make([]model.Event, n)
	}
	copy(out, d.events[start:])
	clear(d.events[start:])
	d.events = d.events[:start]
	return out
}

func (d *wireDecoder) status(b []byte, st *model.Status) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		switch num {
		case 2:
			if typ != protowire.BytesType {
				return errWireType("Status.message")
			}
			st.Message = string(v)
		case 3:
			if typ != protowire.VarintType {
				return errWireType("Status.code")
			}
			st.Code = model.StatusCode(int32(n))
		}
		return nil
	})
}

func (d *wireDecoder) event(b []byte, ev *model.Event) error {
	start := len(d.stack)
	err := d.eventFields(b, ev)
	ev.Attributes = d.attrs(start)
	d.bounds.MaxNameBytes = max(d.bounds.MaxNameBytes, len(ev.Name))
	return err
}

func (d *wireDecoder) eventFields(b []byte, ev *model.Event) error {
	for len(b) > 0 {
		num, typ, v, n, l := nextField(b)
		if l < 0 {
			return errTruncated
		}
		b = b[l:]
		switch num {
		case 1:
			if typ != protowire.Fixed64Type {
				return errWireType("Event.time_unix_nano")
			}
			ev.TimeUnixNano = n
		case 2:
			if typ != protowire.BytesType {
				return errWireType("Event.name")
			}
			ev.Name = d.str(v)
		case 3:
			if typ != protowire.BytesType {
				return errWireType("Event.attributes")
			}
			if err := d.pushKeyValue(v); err != nil {
				return err
			}
		case 4:
			if typ != protowire.VarintType {
				return errWireType("Event.dropped_attributes_count")
			}
			ev.DroppedAttributesCount = uint32(n)
		}
	}
	return nil
}

func (d *wireDecoder) link(b []byte) (model.Link, error) {
	var ln model.Link
	start := len(d.stack)
	err := eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, n uint64) error {
		var err error
		switch num {
		case 1, 2, 3, 4:
			if typ != protowire.BytesType {
				return fmt.Errorf("Link field %d: wrong wire type", num)
			}
		case 5:
			if typ != protowire.VarintType {
				return errWireType("Link.dropped_attributes_count")
			}
		case 6:
			if typ != protowire.Fixed32Type {
				return errWireType("Link.flags")
			}
		}
		switch num {
		case 1:
			ln.TraceID, err = traceIDFrom(v, "Link.trace_id")
		case 2:
			ln.SpanID, err = spanIDFrom(v, "Link.span_id")
		case 3:
			ln.TraceState = string(v)
		case 4:
			err = d.pushKeyValue(v)
		case 5:
			ln.DroppedAttributesCount = uint32(n)
		case 6:
			ln.Flags = uint32(n)
		}
		return err
	})
	ln.Attributes = d.attrs(start)
	return ln, err
}

func (d *wireDecoder) keyValue(b []byte) (model.KeyValue, error) { return d.nestedKeyValue(b, 0) }

// maxValueDepth bounds nesting of arrays and maps, so a hostile request
// cannot exhaust the stack.
const maxValueDepth = 32

func (d *wireDecoder) anyValue(b []byte, depth int) (model.Value, error) {
	if depth > maxValueDepth {
		return model.Value{}, fmt.Errorf("AnyValue nested deeper than %d", maxValueDepth)
	}
	// A loop of its own rather than eachField: attribute values are most
	// of a request's fields, and the closure's indirect calls were a
	// third of their cost (BenchmarkDecodeWire).
	var val model.Value
	for len(b) > 0 {
		num, typ, l := consumeTag(b)
		if l < 0 {
			return val, errTruncated
		}
		b = b[l:]
		var v []byte
		var n uint64
		switch typ {
		case protowire.VarintType:
			n, l = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			n, l = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			v, l = protowire.ConsumeBytes(b)
		default:
			l = protowire.ConsumeFieldValue(num, typ, b)
		}
		if l < 0 {
			return val, errTruncated
		}
		b = b[l:]
		switch num {
		case 1:
			if typ != protowire.BytesType {
				return val, errWireType("AnyValue.string_value")
			}
			d.value(v)
			val = model.StringValue(d.str(v))
		case 2:
			if typ != protowire.VarintType {
				return val, errWireType("AnyValue.bool_value")
			}
			val = model.BoolValue(n != 0)
		case 3:
			if typ != protowire.VarintType {
				return val, errWireType("AnyValue.int_value")
			}
			val = model.IntValue(int64(n))
		case 4:
			if typ != protowire.Fixed64Type {
				return val, errWireType("AnyValue.double_value")
			}
			val = model.DoubleValue(math.Float64frombits(n))
		case 5:
			if typ != protowire.BytesType {
				return val, errWireType("AnyValue.array_value")
			}
			var err error
			if val, err = d.arrayValue(v, depth); err != nil {
				return val, err
			}
		case 6:
			if typ != protowire.BytesType {
				return val, errWireType("AnyValue.kvlist_value")
			}
			var err error
			if val, err = d.kvlistValue(v, depth); err != nil {
				return val, err
			}
		case 7:
			if typ != protowire.BytesType {
				return val, errWireType("AnyValue.bytes_value")
			}
			d.value(v)
			val = model.BytesValue(v)
		}
	}
	return val, nil
}

// consumeTag is protowire.ConsumeTag with the one-byte tags of every
// field Clew reads decoded inline.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	if len(b) > 0 && b[0] < 0x80 && b[0] >= 8 {
		return protowire.Number(b[0] >> 3), protowire.Type(b[0] & 7), 1
	}
	return protowire.ConsumeTag(b)
}

func (d *wireDecoder) arrayValue(v []byte, depth int) (model.Value, error) {
	var vs []model.Value
	err := eachField(v, func(num protowire.Number, typ protowire.Type, ev []byte, _ uint64) error {
		if num != 1 {
			return nil
		}
		if typ != protowire.BytesType {
			return errWireType("ArrayValue.values")
		}
		e, err := d.anyValue(ev, depth+1)
		vs = append(vs, e)
		return err
	})
	return model.SliceValue(vs), err
}

func (d *wireDecoder) kvlistValue(v []byte, depth int) (model.Value, error) {
	var kvs model.Attributes
	err := eachField(v, func(num protowire.Number, typ protowire.Type, ev []byte, _ uint64) error {
		if num != 1 {
			return nil
		}
		if typ != protowire.BytesType {
			return errWireType("KeyValueList.values")
		}
		kv, err := d.nestedKeyValue(ev, depth+1)
		kvs = append(kvs, kv)
		return err
	})
	return model.MapValue(kvs), err
}

func (d *wireDecoder) nestedKeyValue(b []byte, depth int) (model.KeyValue, error) {
	var kv model.KeyValue
	for len(b) > 0 {
		num, typ, l := consumeTag(b)
		if l < 0 {
			return kv, errTruncated
		}
		b = b[l:]
		if typ != protowire.BytesType {
			if num == 1 {
				return kv, errWireType("KeyValue.key")
			}
			if num == 2 {
				return kv, errWireType("KeyValue.value")
			}
			if l = protowire.ConsumeFieldValue(num, typ, b); l < 0 {
				return kv, errTruncated
			}
			b = b[l:]
			continue
		}
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return kv, errTruncated
		}
		b = b[l:]
		switch num {
		case 1:
			d.key(v)
			kv.Key = d.str(v)
		case 2:
			val, err := d.anyValue(v, depth)
			if err != nil {
				return kv, err
			}
			kv.Value = val
		}
	}
	return kv, nil
}
