package spancodec

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/clew-dev/clew/internal/model"
)

// The span encoder reserves room once for a group of fields (a span's
// fields before its attributes, one attribute, the fields after them), an
// upper bound of their size, and then writes them through put functions
// that take the buffer's base pointer and a write index and do no bounds
// checks, instead of an append per field, each checking the capacity and
// storing the slice back (docs/benchmarks.md, "WAL records and head
// insert: CPU of the same bytes", has the figures). The bytes are
// those of FORMAT.md, as before (TestEncoderMatchesReference,
// FuzzEncoderMatchesReference compare them with plain appends).
//
// The rule that keeps the unchecked writes inside the buffer: every put
// writes only inside the room counted for it, maxVarint bytes for any
// varint (putUvarint stores whole words but never past the 10th byte) and
// maxVarint plus the length for a string.

// maxVarint is the room counted for a varint: the length of the longest.
const maxVarint = binary.MaxVarintLen64

// reserve returns dst with room for n more bytes after its length.
func reserve(dst []byte, n int) []byte {
	if cap(dst)-len(dst) < n {
		dst = slices.Grow(dst, n)
	}
	return dst
}

// base returns the address of dst's first byte; dst's capacity must not
// be 0.
func base(dst []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(dst)) }

// put1 writes c at p+i.
func put1(p unsafe.Pointer, i int, c byte) { *(*byte)(unsafe.Add(p, i)) = c }

// putUvarint writes v as a uvarint at p+i and returns the index after it;
// it writes inside the maxVarint bytes at p+i.
func putUvarint(p unsafe.Pointer, i int, v uint64) int {
	if v >= 0x80 {
		return putUvarintLong(p, i, v)
	}
	*(*byte)(unsafe.Add(p, i)) = byte(v)
	return i + 1
}

// putUvarintLong is putUvarint for a value of two bytes or more: its 7-bit
// groups are spread one to a byte with shifts and masks, and the
// continuation bits set, in one 8-byte store (and a byte more for a value
// of 9), instead of a loop and a branch per byte.
func putUvarintLong(p unsafe.Pointer, i int, v uint64) int {
	b := (*[maxVarint]byte)(unsafe.Add(p, i))
	if v < 1<<14 {
		b[0], b[1] = byte(v)|0x80, byte(v>>7)
		return i + 2
	}
	if v >= 1<<63 {
		return i + binary.PutUvarint(b[:], v)
	}
	x := v&0x7f | v<<1&(0x7f<<8) | v<<2&(0x7f<<16) | v<<3&(0x7f<<24) |
		v<<4&(0x7f<<32) | v<<5&(0x7f<<40) | v<<6&(0x7f<<48) | v<<7&(0x7f<<56)
	if v >= 1<<56 {
		binary.LittleEndian.PutUint64(b[:8], x|0x8080808080808080)
		b[8] = byte(v >> 56)
		return i + 9
	}
	n := (bits.Len64(v) + 6) / 7 // 2 to 8 bytes
	binary.LittleEndian.PutUint64(b[:8], x|0x8080808080808080&(1<<(8*(n-1))-1))
	return i + n
}

// zigzag maps a signed value to the unsigned one a varint writes:
// putUvarint(p, i, zigzag(v)) writes v as a varint (a putVarint would be
// too large to be inlined).
func zigzag(v int64) uint64 { return uint64(v)<<1 ^ uint64(v>>63) }

// putString writes s's length and bytes at p+i and returns the index after
// them; it writes inside the maxVarint+len(s) bytes at p+i. (It is too
// large to be inlined: the hot callers write short strings themselves.)
func putString(p unsafe.Pointer, i int, s string) int {
	if len(s) < 0x80 {
		d := unsafe.Slice((*byte)(unsafe.Add(p, i)), 1+len(s))
		d[0] = byte(len(s))
		copy(d[1:], s)
		return i + 1 + len(s)
	}
	i = putUvarintLong(p, i, uint64(len(s)))
	copy(unsafe.Slice((*byte)(unsafe.Add(p, i)), len(s)), s)
	return i + len(s)
}

func load8(p unsafe.Pointer) uint64 { return binary.LittleEndian.Uint64((*[8]byte)(p)[:]) }
func load4(p unsafe.Pointer) uint32 { return binary.LittleEndian.Uint32((*[4]byte)(p)[:]) }
func store8(p unsafe.Pointer, v uint64) {
	binary.LittleEndian.PutUint64((*[8]byte)(p)[:], v)
}
func store4(p unsafe.Pointer, v uint32) {
	binary.LittleEndian.PutUint32((*[4]byte)(p)[:], v)
}

// AppendSpan appends a span's own fields (not its resource and scope).
func AppendSpan(dst []byte, s *model.Span) []byte {
	// Ids, trace state, flags, name, kind, start and duration.
	dst = reserve(dst, 32+6*maxVarint+len(s.TraceState)+len(s.Name))
	p, i := base(dst), len(dst)
	*(*model.TraceID)(unsafe.Add(p, i)) = s.TraceID
	*(*model.SpanID)(unsafe.Add(p, i+16)) = s.SpanID
	*(*model.SpanID)(unsafe.Add(p, i+24)) = s.ParentSpanID
	i += 32
	if s.TraceState == "" {
		put1(p, i, 0)
		i++
	} else {
		i = putString(p, i, s.TraceState)
	}
	i = putUvarint(p, i, uint64(s.Flags))
	i = putString(p, i, s.Name)
	i = putUvarint(p, i, zigzag(int64(s.Kind)))
	i = putUvarint(p, i, s.StartTimeUnixNano)
	i = putUvarint(p, i, zigzag(int64(s.EndTimeUnixNano-s.StartTimeUnixNano)))
	dst = AppendAttributes(dst[:i], s.Attributes)
	if len(s.Events) == 0 && len(s.Links) == 0 {
		// The usual span: the rest at once.
		dst = reserve(dst, 7*maxVarint+len(s.Status.Message))
		p, i = base(dst), len(dst)
		i = putUvarint(p, i, uint64(s.DroppedAttributesCount))
		put1(p, i, 0)
		i = putUvarint(p, i+1, uint64(s.DroppedEventsCount))
		put1(p, i, 0)
		i = putUvarint(p, i+1, uint64(s.DroppedLinksCount))
		i = putUvarint(p, i, zigzag(int64(s.Status.Code)))
		if s.Status.Message == "" {
			put1(p, i, 0)
			return dst[:i+1]
		}
		i = putString(p, i, s.Status.Message)
		return dst[:i]
	}
	dst = appendUvarint(dst, uint64(s.DroppedAttributesCount))
	dst = appendUvarint(dst, uint64(len(s.Events)))
	for k := range s.Events {
		e := &s.Events[k]
		dst = reserve(dst, 2*maxVarint+len(e.Name))
		p, i = base(dst), len(dst)
		i = putUvarint(p, i, e.TimeUnixNano)
		i = putString(p, i, e.Name)
		dst = AppendAttributes(dst[:i], e.Attributes)
		dst = appendUvarint(dst, uint64(e.DroppedAttributesCount))
	}
	dst = appendUvarint(dst, uint64(s.DroppedEventsCount))
	dst = appendUvarint(dst, uint64(len(s.Links)))
	for k := range s.Links {
		l := &s.Links[k]
		dst = append(dst, l.TraceID[:]...)
		dst = append(dst, l.SpanID[:]...)
		dst = appendString(dst, l.TraceState)
		dst = AppendAttributes(dst, l.Attributes)
		dst = appendUvarint(dst, uint64(l.DroppedAttributesCount))
		dst = appendUvarint(dst, uint64(l.Flags))
	}
	dst = reserve(dst, 3*maxVarint+len(s.Status.Message))
	p, i = base(dst), len(dst)
	i = putUvarint(p, i, uint64(s.DroppedLinksCount))
	i = putUvarint(p, i, zigzag(int64(s.Status.Code)))
	i = putString(p, i, s.Status.Message)
	return dst[:i]
}

// AppendAttributes appends a count and the attributes.
func AppendAttributes(dst []byte, attrs model.Attributes) []byte {
	dst = reserve(dst, maxVarint)
	p, end := base(dst), cap(dst)
	i := putUvarint(p, len(dst), uint64(len(attrs)))
	for k := range attrs {
		a := &attrs[k]
		// The common value types through reserved room: a key, a type
		// byte and a string, int or bool.
		// Not a.Value's methods: each would copy the value first.
		switch t, num, s := model.ScalarOf(&a.Value); t {
		case model.ValueString:
			k := a.Key
			if need := 2*maxVarint + 1 + len(k) + len(s); end-i < need {
				dst = slices.Grow(dst[:i], need)
				p, end = base(dst), cap(dst)
			}
			if len(k) < 0x80 && len(s) < 0x80 {
				// putString's short case by hand, copying the
				// strings without memmove: a call costs this loop the
				// saving and reloading of every variable it keeps in
				// registers. A string is copied 8 bytes at a time and
				// a last 8 ending at its end, or as two overlapping
				// 4-byte words, or three single bytes; only its bytes
				// are read, and only len bytes written.
				put1(p, i, byte(len(k)))
				src, d, n := unsafe.Pointer(unsafe.StringData(k)), unsafe.Add(p, i+1), len(k)
				switch {
				case n >= 8:
					for c := 0; c < n-8; c += 8 {
						store8(unsafe.Add(d, c), load8(unsafe.Add(src, c)))
					}
					store8(unsafe.Add(d, n-8), load8(unsafe.Add(src, n-8)))
				case n >= 4:
					a, b := load4(src), load4(unsafe.Add(src, n-4))
					store4(d, a)
					store4(unsafe.Add(d, n-4), b)
				case n > 0:
					a, b, c := k[0], k[n/2], k[n-1]
					put1(d, 0, a)
					put1(d, n/2, b)
					put1(d, n-1, c)
				}
				i += 1 + n
				put1(p, i, byte(model.ValueString))
				put1(p, i+1, byte(len(s)))
				src, d, n = unsafe.Pointer(unsafe.StringData(s)), unsafe.Add(p, i+2), len(s)
				switch {
				case n >= 8:
					for c := 0; c < n-8; c += 8 {
						store8(unsafe.Add(d, c), load8(unsafe.Add(src, c)))
					}
					store8(unsafe.Add(d, n-8), load8(unsafe.Add(src, n-8)))
				case n >= 4:
					a, b := load4(src), load4(unsafe.Add(src, n-4))
					store4(d, a)
					store4(unsafe.Add(d, n-4), b)
				case n > 0:
					a, b, c := s[0], s[n/2], s[n-1]
					put1(d, 0, a)
					put1(d, n/2, b)
					put1(d, n-1, c)
				}
				i += 2 + n
				continue
			}
			i = putString(p, i, k)
			put1(p, i, byte(model.ValueString))
			i = putString(p, i+1, s)
		case model.ValueInt:
			k := a.Key
			if need := 2*maxVarint + 1 + len(k); end-i < need {
				dst = slices.Grow(dst[:i], need)
				p, end = base(dst), cap(dst)
			}
			if len(k) < 0x80 {
				d := unsafe.Slice((*byte)(unsafe.Add(p, i)), 2+len(k))
				d[0] = byte(len(k))
				copy(d[1:], k)
				d[1+len(k)] = byte(model.ValueInt)
				i += 2 + len(k)
			} else {
				i = putString(p, i, k)
				put1(p, i, byte(model.ValueInt))
				i++
			}
			i = putUvarint(p, i, zigzag(int64(num)))
		case model.ValueBool:
			if need := maxVarint + 2 + len(a.Key); end-i < need {
				dst = slices.Grow(dst[:i], need)
				p, end = base(dst), cap(dst)
			}
			i = putString(p, i, a.Key)
			put1(p, i, byte(model.ValueBool))
			put1(p, i+1, byte(b2i(num != 0)))
			i += 2
		default:
			dst = appendString(dst[:i], a.Key)
			dst = AppendValue(dst, a.Value)
			p, i, end = base(dst), len(dst), cap(dst)
		}
	}
	return dst[:i]
}
