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
	u, n := binary.Uvarint(h.src)
	if n <= 0 {
		return fmt.Errorf("%w: hybrid run header", errEncoding)
	}
	h.src = h.src[n:]
	if u&1 == 0 { // rle
		cnt := u >> 1
		nb := int((h.width + 7) / 8)
		if cnt > 1<<31 || len(h.src) < nb {
			return fmt.Errorf("%w: rle run", errEncoding)
		}
		var v uint32
		for i := 0; i < nb; i++ {
			v |= uint32(h.src[i]) << (8 * i)
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
	nb := min(groups*uint64(h.width), uint64(len(h.src)))
	left := groups * 8
	if h.width > 0 {
		left = min(left, nb*8/uint64(h.width))
	}
	h.rle, h.packed, h.idx, h.left = false, h.src[:nb], 0, int(left)
	h.src = h.src[nb:]
	return nil
}

// packedAt returns value i of the current bit-packed run.
func (h *hybrid) packedAt(i int) uint32 {
	return uint32(unpack64(h.packed, uint(i)*h.width, h.width))
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
// values of width 1 are counted a byte at a time.
func (h *hybrid) countEq(n int, v uint32) (int, error) {
	c := 0
	for n > 0 {
		if h.left == 0 {
			if err := h.nextRun(); err != nil {
				return 0, err
			}
		}
		k := min(n, h.left)
		switch {
		case h.rle:
			if h.val == v {
				c += k
			}
		case h.width == 1:
			i, end := h.idx, h.idx+k
			for ; i < end && i%8 != 0; i++ {
				if h.packedAt(i) == v {
					c++
				}
			}
			for ; i+8 <= end; i += 8 {
				ones := bits.OnesCount8(h.packed[i/8])
				if v == 1 {
					c += ones
				} else if v == 0 {
					c += 8 - ones
				}
			}
			for ; i < end; i++ {
				if h.packedAt(i) == v {
					c++
				}
			}
		default:
			for i := h.idx; i < h.idx+k; i++ {
				if h.packedAt(i) == v {
					c++
				}
			}
		}
		h.left -= k
		if !h.rle {
			h.idx += k
		}
		n -= k
	}
	return c, nil
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
		// Bit-packed: whole bytes of width-1 values at once, else one
		// value at a time.
		for h.left > 0 {
			if pos >= total {
				return 0, fmt.Errorf("%w: row %d past the page's levels", errEncoding, k)
			}
			if h.width == 1 && h.idx%8 == 0 && h.left >= 8 && pos+8 <= total {
				if z := 8 - bits.OnesCount8(h.packed[h.idx/8]); z <= k {
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

// deltaInts decodes DELTA_BINARY_PACKED values into dst (which holds the
// capacity for at most limit values) and returns them and the bytes after
// the encoding. Decoding stops after want values (the encoding's count if
// want < 0), so end is only meaningful when all values are decoded.
func deltaInts(dst []int64, src []byte, limit, want int) (out []int64, end []byte, err error) {
	var hdr [3]uint64
	for i := range hdr {
		u, n := binary.Uvarint(src)
		if n <= 0 {
			return dst, nil, fmt.Errorf("%w: delta header", errEncoding)
		}
		hdr[i], src = u, src[n:]
	}
	blockSize, miniBlocks, total := hdr[0], hdr[1], hdr[2]
	first, n := binary.Varint(src)
	if n <= 0 {
		return dst, nil, fmt.Errorf("%w: delta first value", errEncoding)
	}
	src = src[n:]
	if blockSize == 0 || blockSize%128 != 0 || blockSize > 1<<16 || miniBlocks == 0 || blockSize%miniBlocks != 0 ||
		(blockSize/miniBlocks)%32 != 0 || total > uint64(limit) {
		return dst, nil, fmt.Errorf("%w: delta header (%d, %d, %d)", errEncoding, blockSize, miniBlocks, total)
	}
	if want < 0 || want > int(total) {
		want = int(total)
	}
	dst = dst[:0]
	if total == 0 {
		return dst, src, nil
	}
	if want > 0 {
		dst = append(dst, first)
	}
	last := first
	perMini := int(blockSize / miniBlocks)
	remaining := int(total) - 1 // values still encoded after the first
	for remaining > 0 {
		md, n := binary.Varint(src)
		if n <= 0 || len(src)-n < int(miniBlocks) {
			return dst, nil, fmt.Errorf("%w: delta block header", errEncoding)
		}
		widths := src[n : n+int(miniBlocks)]
		src = src[n+int(miniBlocks):]
		for _, w := range widths {
			if remaining == 0 {
				break
			}
			if w > 64 {
				return dst, nil, fmt.Errorf("%w: delta bit width %d", errEncoding, w)
			}
			size := perMini * int(w) / 8
			if len(src) < size {
				return dst, nil, fmt.Errorf("%w: delta mini block", errEncoding)
			}
			mb := src[:size]
			src = src[size:]
			k := min(perMini, remaining)
			remaining -= k
			if len(dst) >= want {
				continue // past what the caller wants: only walk the bytes
			}
			m := min(k, want-len(dst))
			if w == 0 {
				for i := 0; i < m; i++ {
					last += md
					dst = append(dst, last)
				}
				continue
			}
			if w <= 56 && (m-1)*int(w)/8+8 <= len(mb) {
				// Whole 8-byte windows: no bounds to watch.
				mask := uint64(1)<<w - 1
				for i := 0; i < m; i++ {
					bit := uint(i) * uint(w)
					d := binary.LittleEndian.Uint64(mb[bit/8:]) >> (bit % 8) & mask
					last += md + int64(d)
					dst = append(dst, last)
				}
				continue
			}
			for i := 0; i < m; i++ {
				d := unpack64(mb, uint(i)*uint(w), uint(w))
				last += md + int64(d)
				dst = append(dst, last)
			}
		}
		if len(dst) >= want && want < int(total) {
			return dst, nil, nil
		}
	}
	return dst, src, nil
}

// unpack64 returns the w-bit value (w ≤ 64) at bit offset bit of b,
// little-endian bit order; bits past the end of b read as zeros.
func unpack64(b []byte, bit, w uint) uint64 {
	if w == 0 {
		return 0
	}
	if w > 56 {
		var v uint64
		for k := uint(0); k < w; k++ {
			p := bit + k
			if int(p/8) < len(b) && b[p/8]&(1<<(p%8)) != 0 {
				v |= 1 << k
			}
		}
		return v
	}
	i := int(bit / 8)
	var v uint64
	if i+8 <= len(b) {
		v = binary.LittleEndian.Uint64(b[i:])
	} else {
		for k := 0; i+k < len(b); k++ {
			v |= uint64(b[i+k]) << (8 * k)
		}
	}
	return (v >> (bit % 8)) & (1<<w - 1)
}
