package spancodec

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"unsafe"

	"github.com/clew-dev/clew/internal/model"
)

// decoder reads b from position i, recording the first error. Its
// readers of the most common fields, single-byte varints (small) and
// short strings (shortString), are small enough to be inlined.
type decoder struct {
	b   []byte
	i   int // read position in b
	err error
	// strs interns short strings within one batch (keys, names, values
	// repeated across spans).
	strs map[string]string
	// alias makes strings share the input's bytes instead of copying them.
	alias bool
	// slab, when set, provides the attribute and event slices.
	slab *SpanDecoder
}

// left returns the number of bytes not read yet.
func (d *decoder) left() int { return len(d.b) - d.i }

// small reads a varint of a single byte (a value below 0x80 unsigned),
// the most common kind (counts, flags, lengths, kinds), and returns it;
// ok is false, and nothing read, for any other. It is small enough to be
// inlined, where the readers of any varint are not.
func (d *decoder) small() (c byte, ok bool) {
	if i := d.i; i < len(d.b) && d.b[i] < 0x80 {
		d.i = i + 1
		return d.b[i], true
	}
	return 0, false
}

// shortString reads, for an aliasing decoder, a string of a one-byte
// length sharing the input's bytes; ok is false, and nothing read, for
// any other (it is small enough to be inlined).
func (d *decoder) shortString() (s string, ok bool) {
	if i := d.i; d.alias && i < len(d.b) {
		if n := int(d.b[i]); n < 0x80 && n < len(d.b)-i {
			d.i = i + 1 + n
			return aliasString(d.b, i+1, n), true
		}
	}
	return "", false
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	d.b, d.i = nil, 0
}

// uvarint reads a uvarint.
func (d *decoder) uvarint() uint64 {
	if c, ok := d.small(); ok {
		return uint64(c)
	}
	return d.uvarintLong()
}

// readUvarint is binary.Uvarint, faster for the varints of up to 9 bytes
// (timestamps take 9) when 8 bytes can be read at once: the bytes of the
// varint are found with a mask and their 7-bit groups gathered with shifts
// instead of a loop (TestReadUvarint, FuzzReadUvarint).
func readUvarint(b []byte) (uint64, int) {
	if len(b) < 8 {
		return binary.Uvarint(b)
	}
	x := binary.LittleEndian.Uint64(b)
	// The lowest bit set in ends is the high bit of the last byte.
	ends := ^x & 0x8080808080808080
	n := 8
	if ends != 0 {
		n = bits.TrailingZeros64(ends)/8 + 1
		x &= 1<<(8*n) - 1 // 1<<64 is 0: n == 8 keeps every byte
	} else if len(b) < 9 || b[8] >= 0x80 {
		return binary.Uvarint(b) // 10 bytes, or too long
	}
	v := x&0x7f | x>>1&(0x7f<<7) | x>>2&(0x7f<<14) | x>>3&(0x7f<<21) |
		x>>4&(0x7f<<28) | x>>5&(0x7f<<35) | x>>6&(0x7f<<42) | x>>7&(0x7f<<49)
	if ends == 0 {
		return v | uint64(b[8])<<56, 9
	}
	return v, n
}

func (d *decoder) uvarintLong() uint64 {
	v, n := readUvarint(d.b[d.i:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.i += n
	return v
}

// varint reads a varint.
func (d *decoder) varint() int64 {
	if c, ok := d.small(); ok {
		return unzigzag(c)
	}
	return d.varintLong()
}

func (d *decoder) varintLong() int64 {
	ux, n := readUvarint(d.b[d.i:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.i += n
	return int64(ux>>1) ^ -int64(ux&1)
}

// uint32 reads a uvarint that must fit 32 bits.
func (d *decoder) uint32() uint32 {
	if c, ok := d.small(); ok {
		return uint32(c)
	}
	return d.uint32Long()
}

func (d *decoder) uint32Long() uint32 {
	v := d.uvarintLong()
	if v > math.MaxUint32 {
		d.fail("count %d overflows uint32", v)
		return 0
	}
	return uint32(v)
}

// count reads an element count, each element taking at least min bytes.
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if n > uint64(d.left()/min) {
		d.fail("count %d larger than the %d bytes left", n, d.left())
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(n int) []byte {
	if n > d.left() {
		d.fail("need %d bytes, have %d", n, d.left())
		return nil
	}
	v := d.b[d.i : d.i+n]
	d.i += n
	return v
}

func (d *decoder) byte1() byte {
	if d.i >= len(d.b) {
		d.fail("unexpected end")
		return 0
	}
	v := d.b[d.i]
	d.i++
	return v
}

// aliasString returns the n bytes of b at i as a string sharing them.
func aliasString(b []byte, i, n int) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&b[i], n)
}

func (d *decoder) string() string {
	if s, ok := d.shortString(); ok {
		return s
	}
	return d.stringLong()
}

func (d *decoder) stringLong() string {
	n := d.uvarint()
	if n > uint64(d.left()) {
		d.fail("string of %d bytes, %d left", n, d.left())
		return ""
	}
	i := d.i
	d.i += int(n)
	if n == 0 {
		return ""
	}
	if d.alias {
		return aliasString(d.b, i, int(n))
	}
	b := d.b[i:d.i]
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
	var n int
	if i := d.i; i < len(d.b) && d.b[i] < 0x80 && int(d.b[i]) <= (len(d.b)-i-1)/2 {
		n, d.i = int(d.b[i]), i+1 // a count of one byte, the common case
	} else {
		n = d.count(2)
	}
	if n == 0 {
		return nil
	}
	var attrs model.Attributes
	if d.slab != nil {
		attrs = d.slab.attrs(n)
	} else {
		attrs = make(model.Attributes, n)
	}
	k := 0
	if d.alias {
		// Most attributes have a key of a one-byte length and a string
		// value of a one-byte length or an int value of one or two bytes:
		// read in this loop, sharing the input's bytes, with the read
		// position in a register and the bytes read through a pointer
		// after the lengths are checked (no bounds checks). It stops at
		// the first attribute of another kind.
		b, i := d.b, d.i
		p := unsafe.Pointer(unsafe.SliceData(b))
	usual:
		for ; k < len(attrs) && i < len(b); k++ {
			kn := int(*(*byte)(unsafe.Add(p, i)))
			t := i + 1 + kn // the value's type byte
			// Every value but the empty one has a byte after its type.
			if kn >= 0x80 || t >= len(b)-1 {
				break
			}
			kv := &attrs[k]
			c := *(*byte)(unsafe.Add(p, t+1))
			switch model.ValueType(*(*byte)(unsafe.Add(p, t))) {
			case model.ValueString:
				vn, end := int(c), t+2+int(c)
				if vn >= 0x80 || end > len(b) {
					break usual
				}
				// The key's bytes end before the type byte, inside b;
				// an empty value is "", not a pointer that may be past
				// b's end.
				kv.Key = unsafe.String((*byte)(unsafe.Add(p, i+1)), kn)
				v := ""
				if vn > 0 {
					v = unsafe.String((*byte)(unsafe.Add(p, t+2)), vn)
				}
				kv.Value = model.StringValue(v)
				i = end
			case model.ValueInt:
				ux, end := uint64(c), t+2
				if c >= 0x80 {
					if end >= len(b) {
						break usual
					}
					c2 := *(*byte)(unsafe.Add(p, end))
					if c2 >= 0x80 {
						break usual
					}
					ux = uint64(c&0x7f) | uint64(c2)<<7
					end++
				}
				kv.Key = unsafe.String((*byte)(unsafe.Add(p, i+1)), kn)
				kv.Value = model.IntValue(int64(ux>>1) ^ -int64(ux&1))
				i = end
			default:
				break usual
			}
		}
		d.i = i
	}
	// The others (from the first of another kind on), and every
	// attribute for a copying decoder.
	for ; k < len(attrs); k++ {
		kv := &attrs[k]
		kv.Key = d.string()
		kv.Value = d.value(depth)
	}
	return attrs
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

// span decodes a span's own fields. The fields that most spans encode in
// one byte (counts, flags, kinds, empty or short strings) are read
// through the inlined small and shortString, the others through calls.
func (d *decoder) span(s *model.Span) {
	if d.left() < 32 {
		d.fail("need 32 bytes of ids, have %d", d.left())
		return
	}
	ids := d.b[d.i : d.i+32]
	s.TraceID, s.SpanID, s.ParentSpanID = model.TraceID(ids[:16]), model.SpanID(ids[16:24]), model.SpanID(ids[24:])
	d.i += 32
	if str, ok := d.shortString(); ok {
		s.TraceState = str
	} else {
		s.TraceState = d.stringLong()
	}
	if c, ok := d.small(); ok {
		s.Flags = uint32(c)
	} else {
		s.Flags = d.uint32Long()
	}
	if str, ok := d.shortString(); ok {
		s.Name = str
	} else {
		s.Name = d.stringLong()
	}
	if c, ok := d.small(); ok {
		s.Kind = model.SpanKind(unzigzag(c))
	} else {
		s.Kind = model.SpanKind(d.varintLong())
	}
	s.StartTimeUnixNano = d.uvarint()
	s.EndTimeUnixNano = s.StartTimeUnixNano + uint64(d.varint())
	s.Attributes = d.attributes(0)
	if c, ok := d.small(); ok {
		s.DroppedAttributesCount = uint32(c)
	} else {
		s.DroppedAttributesCount = d.uint32Long()
	}
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
			if c, ok := d.small(); ok {
				e.DroppedAttributesCount = uint32(c)
			} else {
				e.DroppedAttributesCount = d.uint32Long()
			}
		}
	}
	if c, ok := d.small(); ok {
		s.DroppedEventsCount = uint32(c)
	} else {
		s.DroppedEventsCount = d.uint32Long()
	}
	if i := d.i; i < len(d.b) && d.b[i] == 0 {
		d.i = i + 1 // no links, the common case
	} else if n := d.count(28); n > 0 {
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
	if c, ok := d.small(); ok {
		s.DroppedLinksCount = uint32(c)
	} else {
		s.DroppedLinksCount = d.uint32Long()
	}
	if c, ok := d.small(); ok {
		s.Status.Code = model.StatusCode(unzigzag(c))
	} else {
		s.Status.Code = model.StatusCode(d.varintLong())
	}
	if str, ok := d.shortString(); ok {
		s.Status.Message = str
	} else {
		s.Status.Message = d.stringLong()
	}
}

// unzigzag returns the value of a single-byte varint.
func unzigzag(c byte) int64 { return int64(c>>1) ^ -int64(c&1) }

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
	if d.left() != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, d.left())
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
// Decode overwrites every attribute and event it hands out, so Reset does
// not clear them: until they are reused, they keep the strings (and the
// input bytes they share) of the spans decoded before reachable.
func (sd *SpanDecoder) Reset() {
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
	// A span takes at least 48 bytes: its resource and scope numbers, 32
	// of ids and 14 fields of a byte.
	n := d.count(48)
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
	if d.left() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, d.left())
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
	if d.left() != 0 {
		return model.Value{}, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, d.left())
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
	if d.left() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, d.left())
	}
	return a, nil
}
