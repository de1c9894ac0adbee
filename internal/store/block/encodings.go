package block

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// This file decodes the Parquet encodings the row reader meets, each with
// a count of values known in advance, so that damaged input never makes it
// allocate or loop beyond that count: the RLE/bit-packed hybrid (levels and
// dictionary indexes), with skipping that does not decode what it passes,
// and DELTA_BINARY_PACKED.

var errEncoding = errors.New("malformed encoded values")

// hybrid reads the RLE/bit-packed hybrid encoding of values of width bits
// (0 to 32).
type hybrid struct {
	src   []byte
	width uint
	// current run: rle runs repeat val; bit-packed runs hold packed
	// groups of 8 values starting at byte pos, of which idx are consumed.
	left   int // values left in the run
	rle    bool
	val    uint32
	packed []byte // the run's bytes (bit-packed)
	idx    int    // values consumed in packed
}

func newHybrid(src []byte, width uint) hybrid { return hybrid{src: src, width: width} }

// nextRun starts the next run.
func (h *hybrid) nextRun() error {
	for {
		if err := h.run(); err != nil || h.left > 0 {
			return err
		}
	}
}

// run reads one run header (of possibly zero values).
func (h *hybrid) run() error {
	if len(h.src) == 0 {
		return fmt.Errorf("%w: hybrid runs end early", errEncoding)
	}
	var u uint64
	if b := h.src[0]; b < 0x80 { // most run headers are one byte
		u, h.src = uint64(b), h.src[1:]
	} else {
		var n int
		if u, n = binary.Uvarint(h.src); n <= 0 {
			return fmt.Errorf("%w: hybrid run header", errEncoding)
		}
		h.src = h.src[n:]
	}
	if u&1 == 0 { // rle
		cnt := u >> 1
		nb := int((h.width + 7) / 8)
		if cnt > 1<<31 || len(h.src) < nb {
			return fmt.Errorf("%w: rle run", errEncoding)
		}
		var v uint32
		switch nb {
		case 0:
		case 1:
			v = uint32(h.src[0])
		default:
			for i := 0; i < nb; i++ {
				v |= uint32(h.src[i]) << (8 * i)
			}
		}
		h.src = h.src[nb:]
		h.rle, h.val, h.left = true, v, int(cnt)
		return nil
	}
	groups := u >> 1
	if groups > 1<<28 {
		return fmt.Errorf("%w: bit-packed run", errEncoding)
	}
	// The last run may be cut short: take the values whose bits are there.
	nb, left := groups*uint64(h.width), groups*8
	if nb > uint64(len(h.src)) {
		nb = uint64(len(h.src))
		left = min(left, nb*8/uint64(h.width)) // width > 0 here
	}
	h.rle, h.packed, h.idx, h.left = false, h.src[:nb], 0, int(left)
	h.src = h.src[nb:]
	return nil
}

// packedAt returns value i of the current bit-packed run (i < the run's
// values).
func (h *hybrid) packedAt(i int) uint32 {
	// Up to the capacity: the value's bits are inside the run, and the
	// bytes after it let unpack64 read a whole word.
	return uint32(unpack64(h.packed[:cap(h.packed)], uint(i)*h.width, h.width))
}

// next returns the next value.
func (h *hybrid) next() (uint32, error) {
	if h.left == 0 {
		if err := h.nextRun(); err != nil {
			return 0, err
		}
	}
	h.left--
	if h.rle {
		return h.val, nil
	}
	v := h.packedAt(h.idx)
	h.idx++
	return v, nil
}

// skip passes n values.
func (h *hybrid) skip(n int) error {
	for n > 0 {
		if h.left == 0 {
			if err := h.nextRun(); err != nil {
				return err
			}
		}
		k := min(n, h.left)
		h.left -= k
		if !h.rle {
			h.idx += k
		}
		n -= k
	}
	return nil
}

// countEq passes n values and returns how many of them equal v. Bit-packed
// values of width 1 to 8 are counted up to 64 at a time (packedSteps).
func (h *hybrid) countEq(n int, v uint32) (int, error) {
	c := 0
	for n > 0 {
		if h.left == 0 {
			if err := h.nextRun(); err != nil {
				return 0, err
			}
		}
		k := min(n, h.left)
		if h.rle {
			if h.val == v {
				c += k
			}
		} else {
			i, end := h.idx, h.idx+k
			if h.width >= 1 && h.width <= 8 && v>>h.width == 0 {
				for ; i < end && i%8 != 0; i++ {
					if h.packedAt(i) == v {
						c++
					}
				}
				st := &packedSteps[h.width]
				for ; i+st.fields <= end; i += st.fields {
					c += eqCount(h.fieldsAt(i), h.width, v, st)
				}
				st = &groupSteps[h.width]
				for ; i+8 <= end; i += 8 {
					c += eqCount(h.fieldsAt(i), h.width, v, st)
				}
			}
			for ; i < end; i++ {
				if h.packedAt(i) == v {
					c++
				}
			}
			h.idx += k
		}
		h.left -= k
		n -= k
	}
	return c, nil
}

// packedStep is how countEq takes the values of a bit-packed run of width
// w (1 to 8) at once: as many whole groups of 8 as fit 64 bits (64 values
// of width 1, 32 of width 2, 16 of widths 3 and 4, 8 beyond).
type packedStep struct {
	fields int
	ones   uint64 // the lowest bit of each field
	mask   uint64 // the fields' bits
}

// packedSteps[w] is the wide step of width w; groupSteps[w] takes one
// group of 8.
var packedSteps, groupSteps = func() (wide, group [9]packedStep) {
	for w := 1; w <= 8; w++ {
		for i, st := range []*packedStep{&wide[w], &group[w]} {
			st.fields = 8
			if i == 0 {
				st.fields = 8 * (8 / w)
			}
			for k := 0; k < st.fields; k++ {
				st.ones |= 1 << (k * w)
			}
			st.mask = 1<<(st.fields*w) - 1 // all ones for 64 bits
		}
	}
	return wide, group
}()

// fieldsAt returns the values of the current bit-packed run from value i
// (a multiple of 8) on, in the low bits of a word, for st's mask to cut.
func (h *hybrid) fieldsAt(i int) uint64 {
	off := i / 8 * int(h.width)
	if off+8 <= cap(h.packed) {
		// Bytes past the run (but inside the caller's buffer) are cut by
		// the mask: a step's fields are all inside the run.
		return binary.LittleEndian.Uint64(h.packed[off : off+8 : off+8])
	}
	var x uint64
	for k := 0; off+k < len(h.packed); k++ {
		x |= uint64(h.packed[off+k]) << (8 * k)
	}
	return x
}

// eqCount returns how many of the st.fields fields of w bits (1 to 8) of x
// equal v (< 1<<w): a field equals v when its bits xor v's are all zero.
func eqCount(x uint64, w uint, v uint32, st *packedStep) int {
	x = x&st.mask ^ uint64(v)*st.ones
	t := x
	for s := uint(1); s < w; s++ {
		t |= x >> s
	}
	return st.fields - bits.OnesCount64(t&st.ones)
}

// seekZero passes values until k zeros have been passed, leaving the
// decoder at the k+1-th zero, and returns the number of values passed: on
// repetition levels, the position of row k. total bounds the values.
func (h *hybrid) seekZero(k, total int) (int, error) {
	pos := 0
	for {
		if pos >= total {
			return 0, fmt.Errorf("%w: row %d past the page's levels", errEncoding, k)
		}
		if h.left == 0 {
			if err := h.nextRun(); err != nil {
				return 0, err
			}
		}
		if h.rle {
			if h.val == 0 {
				if k < h.left {
					h.left -= k
					return pos + k, nil
				}
				k -= h.left
			}
			pos += h.left
			h.left = 0
			continue
		}
		// Bit-packed: whole groups of 8 values of width 8 or less at
		// once, else one value at a time.
		for h.left > 0 {
			if pos >= total {
				return 0, fmt.Errorf("%w: row %d past the page's levels", errEncoding, k)
			}
			if h.idx%8 == 0 && h.left >= 8 && pos+8 <= total && h.width >= 1 && h.width <= 8 {
				if z := eqCount(h.fieldsAt(h.idx), h.width, 0, &groupSteps[h.width]); z <= k {
					k -= z
					h.idx += 8
					h.left -= 8
					pos += 8
					continue
				}
			}
			if h.packedAt(h.idx) == 0 {
				if k == 0 {
					return pos, nil
				}
				k--
			}
			h.idx++
			h.left--
			pos++
		}
	}
}

// deltaInts decodes values [skip, want) of a DELTA_BINARY_PACKED encoding
// (want < 0 for all; both are cut to the encoding's count, which must be
// at most limit) into dst and returns them. The values before skip are
// passed without being stored (their deltas summed), whole mini blocks of
// width 0 at once. For lengths (of DELTA_LENGTH_BYTE_ARRAY), it also
// returns the sum (wrapping) of the values before skip and the bytes after
// the encoding (the rest of the blocks is walked without decoding);
// otherwise skipped is 0 and rest nil, unless want reaches the end.
func deltaInts(dst []int64, src []byte, limit, skip, want int, lengths bool) (out []int64, skipped int64, rest []byte, err error) {
	needRest := lengths
	var hdr [3]uint64
	for i := range hdr {
		u, n := binary.Uvarint(src)
		if n <= 0 {
			return dst, 0, nil, fmt.Errorf("%w: delta header", errEncoding)
		}
		hdr[i], src = u, src[n:]
	}
	blockSize, miniBlocks, total := hdr[0], hdr[1], hdr[2]
	first, n := binary.Varint(src)
	if n <= 0 {
		return dst, 0, nil, fmt.Errorf("%w: delta first value", errEncoding)
	}
	src = src[n:]
	if blockSize == 0 || blockSize%128 != 0 || blockSize > 1<<16 || miniBlocks == 0 || blockSize%miniBlocks != 0 ||
		(blockSize/miniBlocks)%32 != 0 || total > uint64(limit) {
		return dst, 0, nil, fmt.Errorf("%w: delta header (%d, %d, %d)", errEncoding, blockSize, miniBlocks, total)
	}
	if want < 0 || want > int(total) {
		want = int(total)
	}
	skip = max(0, min(skip, want))
	dst = dst[:0]
	if total == 0 {
		return dst, 0, src, nil
	}
	if skip > 0 {
		if lengths {
			skipped = first
		}
	} else if want > 0 {
		dst = append(dst, first)
	}
	last := first
	perMini := int(blockSize / miniBlocks)
	pos := 1                    // index of the next value
	remaining := int(total) - 1 // values still encoded after the first
	for remaining > 0 {
		if pos >= want && !needRest {
			return dst, skipped, nil, nil
		}
		md, n := binary.Varint(src)
		if n <= 0 || len(src)-n < int(miniBlocks) {
			return dst, skipped, nil, fmt.Errorf("%w: delta block header", errEncoding)
		}
		widths := src[n : n+int(miniBlocks)]
		src = src[n+int(miniBlocks):]
		for _, w := range widths {
			if remaining == 0 {
				break
			}
			if w > 64 {
				return dst, skipped, nil, fmt.Errorf("%w: delta bit width %d", errEncoding, w)
			}
			size := perMini * int(w) / 8
			if len(src) < size {
				return dst, skipped, nil, fmt.Errorf("%w: delta mini block", errEncoding)
			}
			mb := src[:size]
			src = src[size:]
			k := min(perMini, remaining)
			remaining -= k
			if pos >= want {
				pos += k
				continue // past what the caller wants: only walk the bytes
			}
			s := min(k, max(skip-pos, 0)) // values of this mini block to skip
			m := min(k, want-pos)         // values to decode, skipped ones included
			pos += k
			if w == 0 {
				// Arithmetic progressions: s values passed at once.
				if lengths {
					skipped += int64(s)*last + md*int64(s)*int64(s+1)/2
				}
				last += md * int64(s)
				for i := s; i < m; i++ {
					last += md
					dst = append(dst, last)
				}
				continue
			}
			wu := uint(w)
			mask := uint64(1)<<wu - 1
			// Values whose 8-byte window is inside mb are read inline.
			inline := 0
			if wu <= 56 && len(mb) >= 8 {
				inline = min(m, ((len(mb)-8)*8)/int(wu)+1)
			}
			i := 0
			if !lengths {
				// Only the deltas' sum: no running value per value.
				var sum uint64
				bit, end := uint(0), min(s, inline)
				for ; i < end; i++ {
					sum += binary.LittleEndian.Uint64(mb[bit>>3:]) >> (bit & 7) & mask
					bit += wu
				}
				last += md*int64(i) + int64(sum)
			}
			for ; i < min(s, inline); i++ {
				bit := uint(i) * wu
				last += md + int64(binary.LittleEndian.Uint64(mb[bit/8:])>>(bit%8)&mask)
				skipped += last
			}
			for ; i < s; i++ {
				last += md + int64(unpack64(mb, uint(i)*wu, wu))
				if lengths {
					skipped += last
				}
			}
			for ; i < inline; i++ {
				bit := uint(i) * wu
				last += md + int64(binary.LittleEndian.Uint64(mb[bit/8:])>>(bit%8)&mask)
				dst = append(dst, last)
			}
			for ; i < m; i++ {
				last += md + int64(unpack64(mb, uint(i)*wu, wu))
				dst = append(dst, last)
			}
		}
	}
	return dst, skipped, src, nil
}

// unpack64 returns the w-bit value (w ≤ 64) at bit offset bit of b,
// little-endian bit order; bits past the end of b read as zeros.
func unpack64(b []byte, bit, w uint) uint64 {
	if w == 0 {
		return 0
	}
	mask := uint64(1)<<w - 1 // all ones for w = 64
	i, sh := int(bit/8), bit%8
	if i+8 <= len(b) {
		v := binary.LittleEndian.Uint64(b[i:]) >> sh
		if sh+w > 64 && i+8 < len(b) {
			v |= uint64(b[i+8]) << (64 - sh)
		}
		return v & mask
	}
	// Fewer than 8 bytes left: at most 56 bits, all in v.
	var v uint64
	for k := 0; i+k < len(b); k++ {
		v |= uint64(b[i+k]) << (8 * k)
	}
	return (v >> sh) & mask
}
