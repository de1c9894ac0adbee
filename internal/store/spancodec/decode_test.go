package spancodec

import (
	"encoding/binary"
	"math"
	"testing"
)

// TestReadUvarint checks readUvarint against binary.Uvarint: varints of
// every length, each followed by nothing or by other bytes, every
// truncation of them, and over-long and overflowing encodings.
func TestReadUvarint(t *testing.T) {
	var inputs [][]byte
	for k := 0; k <= 64; k++ {
		for _, v := range []uint64{1<<k - 1, 1 << k, 1<<k + 1} {
			enc := binary.AppendUvarint(nil, v)
			for _, tail := range [][]byte{nil, {0}, {0xff}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80}} {
				in := append(append([]byte(nil), enc...), tail...)
				for n := 0; n <= len(in); n++ {
					inputs = append(inputs, in[:n])
				}
			}
		}
	}
	inputs = append(inputs,
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},       // math.MaxUint64
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02},       // overflows
		[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // 11 bytes
		[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},       // 0 in 10 bytes
		[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00},             // 0 in 9 bytes
	)
	for _, in := range inputs {
		v, n := readUvarint(in)
		wv, wn := binary.Uvarint(in)
		if v != wv || n != wn {
			t.Fatalf("% x: %d, %d; binary.Uvarint: %d, %d", in, v, n, wv, wn)
		}
	}
	if v, n := readUvarint(binary.AppendUvarint(nil, math.MaxUint64)); v != math.MaxUint64 || n != 10 {
		t.Errorf("MaxUint64: %d, %d", v, n)
	}
}

func FuzzReadUvarint(f *testing.F) {
	f.Add(binary.AppendUvarint(nil, 1_700_000_000_000_000_000))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02})
	f.Add([]byte{0x80, 0x01, 5, 6, 7, 8, 9, 10, 11})
	f.Fuzz(func(t *testing.T, in []byte) {
		v, n := readUvarint(in)
		if wv, wn := binary.Uvarint(in); v != wv || n != wn {
			t.Fatalf("% x: %d, %d; binary.Uvarint: %d, %d", in, v, n, wv, wn)
		}
	})
}
