package spancodec

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/clew-dev/clew/internal/model"
)

// decoder reads from b, recording the first error.
type decoder struct {
	b   []byte
	err error
	// strs interns short strings within one batch (keys, names, values
	// repeated across spans).
	strs map[string]string
	// alias makes strings share the input's bytes instead of copying them.
	alias bool
	// slab, when set, provides the attribute and event slices.
	slab *SpanDecoder
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	d.b = nil
}

// uvarint reads a uvarint; one of a single byte (most counts, flags and
// lengths) inline.
func (d *decoder) uvarint() uint64 {
	if b := d.b; len(b) > 0 && b[0] < 0x80 {
		d.b = b[1:]
		return uint64(b[0])
	}
	return d.uvarintLong()
}

func (d *decoder) uvarintLong() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint reads a varint; one of a single byte inline.
func (d *decoder) varint() int64 {
	if b := d.b; len(b) > 0 && b[0] < 0x80 {
		d.b = b[1:]
		return int64(b[0]>>1) ^ -int64(b[0]&1)
	}
	return d.varintLong()
}

func (d *decoder) varintLong() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint32() uint32 {
	v := d.uvarint()
	if v > math.MaxUint32 {
		d.fail("count %d overflows uint32", v)
		return 0
	}
	return uint32(v)
}

// count reads a element count, each element taking at least min bytes.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail("count %d larger than the %d bytes left", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(n int) []byte {
	if n > len(d.b) {
		d.fail("need %d bytes, have %d", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if len(d.b) == 0 {
		d.fail("unexpected end")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) string() string {
	if d.alias {
		if s, ok := d.shortString(); ok {
			return s
		}
	}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("string of %d bytes, %d left", n, len(d.b))
		return ""
	}
	b := d.b[:n]
	d.b = d.b[n:]
	if n == 0 {
		return ""
	}
	if d.alias {
		return unsafe.String(&b[0], len(b))
	}
	if n <= 64 && d.strs != nil {
		if s, ok := d.strs[string(b)]; ok {
			return s
		}
		s := string(b)
		if len(d.strs) < 4096 {
			d.strs[s] = s
		}
		return s
	}
	return string(b)
}

func (d *decoder) attributes(depth int) model.Attributes {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	var attrs model.Attributes
	if d.slab != nil {
		attrs = d.slab.attrs(n)
	} else {
		attrs = make(model.Attributes, n)
	}
	for i := range attrs {
		kv := &attrs[i]
		if d.alias {
			// The flush's case: short keys, and string and int values,
			// read inline.
			if k, ok := d.shortString(); ok {
				kv.Key = k
			} else {
				kv.Key = d.string()
			}
			if len(d.b) > 0 {
				switch model.ValueType(d.b[0]) {
				case model.ValueString:
					d.b = d.b[1:]
					s, ok := d.shortString()
					if !ok {
						s = d.string()
					}
					kv.Value = model.StringValue(s)
					continue
				case model.ValueInt:
					if v, n := binary.Varint(d.b[1:]); n > 0 {
						d.b = d.b[1+n:]
						kv.Value = model.IntValue(v)
						continue
					}
				}
			}
		} else {
			kv.Key = d.string()
		}
		kv.Value = d.value(depth)
	}
	return attrs
}

// shortString reads, for an aliasing decoder, a string of fewer than 128
// bytes (a one-byte length) that fits the input, sharing the input's
// bytes; ok is false, and nothing read, for any other.
func (d *decoder) shortString() (s string, ok bool) {
	b := d.b
	if len(b) == 0 || b[0] >= 0x80 || int(b[0]) >= len(b) {
		return "", false
	}
	n := int(b[0])
	d.b = b[1+n:]
	if n == 0 {
		return "", true
	}
	return unsafe.String(&b[1], n), true
}

func (d *decoder) value(depth int) model.Value {
	if depth > MaxDepth {
		d.fail("values nested deeper than %d", MaxDepth)
		return model.Value{}
	}
	switch t := model.ValueType(d.byte1()); t {
	case model.ValueEmpty:
		return model.Value{}
	case model.ValueString:
		return model.StringValue(d.string())
	case model.ValueBytes:
		return model.BytesValue([]byte(d.string()))
	case model.ValueBool:
		switch d.byte1() {
		case 0:
			return model.BoolValue(false)
		case 1:
			return model.BoolValue(true)
		}
		d.fail("bad bool")
	case model.ValueInt:
		return model.IntValue(d.varint())
	case model.ValueDouble:
		b := d.bytes(8)
		if b == nil {
			return model.Value{}
		}
		return model.DoubleValue(math.Float64frombits(binary.LittleEndian.Uint64(b)))
	case model.ValueSlice:
		n := d.count(1)
		vs := make([]model.Value, n)
		for i := range vs {
			vs[i] = d.value(depth + 1)
		}
		return model.SliceValue(vs)
	case model.ValueMap:
		return model.MapValue(d.attributes(depth + 1))
	default:
		d.fail("unknown value type %d", t)
	}
	return model.Value{}
}

func (d *decoder) span(s *model.Span) {
	copy(s.TraceID[:], d.bytes(16))
	copy(s.SpanID[:], d.bytes(8))
	copy(s.ParentSpanID[:], d.bytes(8))
	s.TraceState = d.string()
	s.Flags = d.uint32()
	s.Name = d.string()
	s.Kind = model.SpanKind(d.varint())
	s.StartTimeUnixNano = d.uvarint()
	s.EndTimeUnixNano = s.StartTimeUnixNano + uint64(d.varint())
	s.Attributes = d.attributes(0)
	s.DroppedAttributesCount = d.uint32()
	s.Events, s.Links = nil, nil
	if n := d.count(4); n > 0 {
		if d.slab != nil {
			s.Events = d.slab.events(n)
		} else {
			s.Events = make([]model.Event, n)
		}
		for i := range s.Events {
			e := &s.Events[i]
			e.TimeUnixNano = d.uvarint()
			e.Name = d.string()
			e.Attributes = d.attributes(0)
			e.DroppedAttributesCount = d.uint32()
		}
	}
	s.DroppedEventsCount = d.uint32()
	if n := d.count(28); n > 0 {
		s.Links = make([]model.Link, n)
		for i := range s.Links {
			l := &s.Links[i]
			copy(l.TraceID[:], d.bytes(16))
			copy(l.SpanID[:], d.bytes(8))
			l.TraceState = d.string()
			l.Attributes = d.attributes(0)
			l.DroppedAttributesCount = d.uint32()
			l.Flags = d.uint32()
		}
	}
	s.DroppedLinksCount = d.uint32()
	s.Status.Code = model.StatusCode(d.varint())
	s.Status.Message = d.string()
}

// DecodeSpan decodes into s the span fields that AppendSpan wrote, which
// must fill b; s's resource and scope are left as they are. The strings of
// s share b's bytes, so b must never change afterwards.
func DecodeSpan(b []byte, s *model.Span) error {
	return decodeSpan(&decoder{b: b, alias: true}, s)
}

// decodeSpan decodes one span that must fill d's input.
func decodeSpan(d *decoder, s *model.Span) error {
	d.span(s)
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return nil
}

// SpanDecoder decodes spans written by AppendSpan, like DecodeSpan, but
// takes their attribute and event slices from buffers it keeps: Reset makes
// the buffers available again, so the spans decoded before a Reset must not
// be used after it. A flush that decodes a trace, writes it and moves on
// allocates almost nothing this way.
type SpanDecoder struct {
	kvs []model.KeyValue
	evs []model.Event
}

// Reset lets the decoder reuse the memory of the spans decoded so far.
func (sd *SpanDecoder) Reset() {
	clear(sd.kvs)
	clear(sd.evs)
	sd.kvs, sd.evs = sd.kvs[:0], sd.evs[:0]
}

func (sd *SpanDecoder) attrs(n int) model.Attributes {
	if len(sd.kvs)+n > cap(sd.kvs) {
		// The spans decoded so far keep the old buffer.
		sd.kvs = make([]model.KeyValue, 0, max(2*cap(sd.kvs), n, 256))
	}
	i := len(sd.kvs)
	sd.kvs = sd.kvs[:i+n]
	return sd.kvs[i : i+n : i+n]
}

func (sd *SpanDecoder) events(n int) []model.Event {
	if len(sd.evs)+n > cap(sd.evs) {
		sd.evs = make([]model.Event, 0, max(2*cap(sd.evs), n, 64))
	}
	i := len(sd.evs)
	sd.evs = sd.evs[:i+n]
	return sd.evs[i : i+n : i+n]
}

// Decode decodes into s the span fields that AppendSpan wrote, which must
// fill b; s's resource and scope are left as they are, every other field
// is set (s need not be cleared first). Strings share b's bytes, so b must
// never change afterwards.
func (sd *SpanDecoder) Decode(b []byte, s *model.Span) error {
	return decodeSpan(&decoder{b: b, alias: true, slab: sd}, s)
}

// DecodeBatch decodes a batch written by AppendBatch. Spans of the batch
// that shared a resource or scope share it again.
func DecodeBatch(b []byte) ([]*model.Span, error) {
	d := &decoder{b: b, strs: map[string]string{}}
	if v := d.byte1(); d.err == nil && v != Version {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCorrupt, v, Version)
	}
	resources := make([]*model.Resource, d.count(3))
	for i := range resources {
		r := &model.Resource{}
		r.Attributes = d.attributes(0)
		r.DroppedAttributesCount = d.uint32()
		r.SchemaURL = d.string()
		resources[i] = r
	}
	scopes := make([]*model.Scope, d.count(5))
	for i := range scopes {
		sc := &model.Scope{}
		sc.Name = d.string()
		sc.Version = d.string()
		sc.Attributes = d.attributes(0)
		sc.DroppedAttributesCount = d.uint32()
		sc.SchemaURL = d.string()
		scopes[i] = sc
	}
	n := d.count(50)
	spans := make([]*model.Span, n)
	all := make([]model.Span, n)
	for i := range spans {
		s := &all[i]
		ri, si := d.uvarint(), d.uvarint()
		if ri > uint64(len(resources)) || si > uint64(len(scopes)) {
			d.fail("span %d: resource %d / scope %d out of range", i, ri, si)
			break
		}
		if ri > 0 {
			s.Resource = resources[ri-1]
		}
		if si > 0 {
			s.Scope = scopes[si-1]
		}
		d.span(s)
		spans[i] = s
	}
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return spans, nil
}

// DecodeValue decodes a value written by AppendValue, which must fill b.
func DecodeValue(b []byte) (model.Value, error) {
	d := &decoder{b: b}
	v := d.value(0)
	if d.err != nil {
		return model.Value{}, d.err
	}
	if len(d.b) != 0 {
		return model.Value{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return v, nil
}

// DecodeAttributes decodes attributes written by AppendAttributes, which
// must fill b.
func DecodeAttributes(b []byte) (model.Attributes, error) {
	d := &decoder{b: b}
	a := d.attributes(0)
	if d.err != nil {
		return nil, d.err
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(d.b))
	}
	return a, nil
}
