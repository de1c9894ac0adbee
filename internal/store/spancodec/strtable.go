package spancodec

import (
	"encoding/binary"
	"math"
	"math/bits"
	"sync"
	"unsafe"
)

// A batch writes each string once: a string already written earlier in
// the batch is written as a back-reference to that first copy (FORMAT.md,
// "Strings"). Decoders that share the batch's bytes then return the same
// string data for every occurrence, which the block writer's dictionaries
// and search index recognise by pointer, and the batch is smaller.
//
// The encoder finds earlier copies through a strTable: a direct-mapped
// table, indexed by a hash of a string's length and its first and last 8
// bytes, of the position of the last literal written with that hash. A
// collision only costs a literal where a back-reference could have been.

// strTableBits is the log2 of the number of slots of a strTable: a batch
// of 500 spans of the benchmark load has a few hundred distinct strings.
const strTableBits = 10

// strMinRef is the length of the shortest string written as a
// back-reference: a one-byte string is written in two bytes either way.
const strMinRef = 2

// strMaxDist is the longest distance of a back-reference: its header
// takes at most two bytes, which the decoders read without a call, and the
// literal it refers to is near. A string last written further back is
// written again.
const strMaxDist = 1<<13 - 1

// strTable is the encoder's table of the literals of one batch.
type strTable struct {
	// gen is the current batch's number: slots of another are empty, so
	// the table is not cleared between batches.
	gen uint32
	// trace tags the literals of the spans of one trace: a string refers
	// only to a literal of its own trace (see setTrace).
	trace uint32
	slots [1 << strTableBits]strSlot
}

// strSlot is the position in the destination of a literal's header, its
// length, the batch it belongs to and its trace's tag.
type strSlot struct {
	pos, n, gen, trace uint32
}

// setTrace makes the strings written next refer only to literals written
// after a setTrace of the same trace id. A flush of the head decodes the
// spans of a trace together, from records in the order of their trace
// ids: a back-reference to another trace's span would read bytes the
// flush has not touched for a long time (a cache miss); one to an earlier
// span of its own trace reads bytes it has just read.
func (t *strTable) setTrace(id *[16]byte) {
	a, b := binary.LittleEndian.Uint64(id[:8]), binary.LittleEndian.Uint64(id[8:])
	t.trace = uint32((a^bits.RotateLeft64(b, 31))*0x9E3779B97F4A7C15>>32) | 1
}

var strTables = sync.Pool{New: func() any { return new(strTable) }}

// getStrTable returns an empty table for a batch.
func getStrTable() *strTable {
	t := strTables.Get().(*strTable)
	t.gen++
	if t.gen == 0 {
		// Wrapped around: slots of an old batch could look current.
		t.slots = [1 << strTableBits]strSlot{}
		t.gen = 1
	}
	return t
}

func putStrTable(t *strTable) { strTables.Put(t) }

// strHash hashes a string of at least 2 bytes by its length and its first
// and last 8 bytes (4, or 2 and the middle one, for shorter ones).
func strHash(s string) uint64 {
	n := len(s)
	p := unsafe.Pointer(unsafe.StringData(s))
	var a, b uint64
	switch {
	case n >= 8:
		a, b = *(*uint64)(p), *(*uint64)(unsafe.Add(p, n-8))
	case n >= 4:
		a, b = uint64(*(*uint32)(p)), uint64(*(*uint32)(unsafe.Add(p, n-4)))
	default:
		a = uint64(s[0]) | uint64(s[n>>1])<<8 | uint64(s[n-1])<<16
	}
	hi, lo := bits.Mul64(a^0x2d358dccaa6c78a5, b^uint64(n)^0x9E3779B97F4A7C15)
	return hi ^ lo
}

// appendStr appends s in the batch encoding: a back-reference to an
// earlier literal of the same bytes found through t, or a literal (which
// t then remembers). A nil t writes every string as a literal.
func appendStr(dst []byte, s string, t *strTable) []byte {
	n := len(s)
	if n < strMinRef || t == nil {
		if n < 0x40 {
			dst = append(dst, byte(n<<1))
		} else {
			dst = appendUvarint(dst, uint64(n)<<1)
		}
		return append(dst, s...)
	}
	cur := len(dst)
	// The trace's tag in the index too: the spans of a batch's traces
	// come interleaved (grouped by resource), and their equal strings
	// must not evict each other.
	slot := &t.slots[(strHash(s)^uint64(t.trace)<<32)>>(64-strTableBits)]
	if slot.gen == t.gen && slot.trace == t.trace && slot.n == uint32(n) && cur-int(slot.pos) <= strMaxDist {
		p := int(slot.pos)
		hl := 1
		if n >= 0x40 {
			hl = uvarintLen(uint64(n) << 1)
		}
		// The slot was set in this batch: the literal is in dst.
		if string(dst[p+hl:p+hl+n]) == s {
			return appendUvarint(dst, uint64(cur-p)<<1|1)
		}
	}
	if uint64(cur) <= math.MaxUint32 && uint64(n) <= math.MaxUint32 {
		*slot = strSlot{pos: uint32(cur), n: uint32(n), gen: t.gen, trace: t.trace}
	}
	if n < 0x40 {
		dst = append(dst, byte(n<<1))
	} else {
		dst = appendUvarint(dst, uint64(n)<<1)
	}
	return append(dst, s...)
}

// uvarintLen is the length of v's uvarint encoding.
func uvarintLen(v uint64) int {
	return (bits.Len64(v|1) + 6) / 7
}
