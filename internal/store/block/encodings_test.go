package block

import (
	"math"
	"math/rand"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go/encoding/delta"
	"github.com/parquet-go/parquet-go/encoding/rle"
)

// TestDeltaIntsMatchParquetGo decodes parquet-go's DELTA_BINARY_PACKED
// output, with deltas of every width (up to 64 bits), whole and cut short.
func TestDeltaIntsMatchParquetGo(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, spread := range []int64{0, 1, 1000, 1 << 40, math.MaxInt64} {
		for _, n := range []int{0, 1, 7, 128, 129, 1000} {
			in := make([]int64, n)
			for i := range in {
				switch {
				case spread == math.MaxInt64:
					in[i] = int64(rng.Uint64())
				case spread > 0:
					in[i] = rng.Int63n(spread) - spread/2
				}
			}
			enc, err := (&delta.BinaryPackedEncoding{}).EncodeInt64(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			enc = append(enc, 0xee) // what follows the encoding
			got, _, rest, err := deltaInts(nil, enc, n, 0, -1, true)
			if err != nil {
				t.Fatalf("spread %d, %d values: %v", spread, n, err)
			}
			if len(got) != n || len(rest) != 1 || rest[0] != 0xee {
				t.Fatalf("spread %d: %d values and %d bytes after, want %d and 1", spread, len(got), len(rest), n)
			}
			for i := range in {
				if got[i] != in[i] {
					t.Fatalf("spread %d, value %d: %d, want %d", spread, i, got[i], in[i])
				}
			}
			if n > 3 {
				part, _, _, err := deltaInts(nil, enc, n, 0, n/2, false)
				if err != nil || len(part) != n/2 || part[n/2-1] != in[n/2-1] {
					t.Fatalf("spread %d: first %d values: %d, %v", spread, n/2, len(part), err)
				}
			}
			// Every window [skip, want): the values, the sum of those
			// skipped, and the bytes after the encoding.
			for _, skip := range []int{0, 1, 2, 31, 32, 33, 127, 128, 129, 130, n / 2, n - 1, n} {
				for _, want := range []int{skip, skip + 1, skip + 10, n} {
					if skip > n || want > n || skip < 0 {
						continue
					}
					part, sum, rest, err := deltaInts(nil, enc, n, skip, want, true)
					var wantSum int64
					for _, v := range in[:skip] {
						wantSum += v
					}
					if err != nil || !slices.Equal(part, in[skip:want]) || sum != wantSum || len(rest) != 1 {
						t.Fatalf("spread %d, %d values, [%d, %d): %d values (%v), sum %d (want %d), %d bytes after, %v",
							spread, n, skip, want, len(part), slices.Equal(part, in[skip:want]), sum, wantSum, len(rest), err)
					}
					// Values only: the deltas before skip summed, not the values.
					part, _, _, err = deltaInts(part, enc, n, skip, want, false)
					if err != nil || !slices.Equal(part, in[skip:want]) {
						t.Fatalf("spread %d, %d values, [%d, %d), values only: %d values (%v), %v",
							spread, n, skip, want, len(part), slices.Equal(part, in[skip:want]), err)
					}
				}
			}
			if n > 1 {
				if _, _, _, err := deltaInts(nil, enc, n-1, 0, -1, false); err == nil {
					t.Errorf("spread %d: %d values accepted past a limit of %d", spread, n, n-1)
				}
			}
		}
	}
}

// TestHybridMatchesParquetGo decodes parquet-go's RLE/bit-packed hybrid
// output (runs and bit-packed groups) of every width, with each of the
// decoder's ways of moving: next, skip, countEq and seekZero.
func TestHybridMatchesParquetGo(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for width := 1; width <= 8; width++ {
		for _, runs := range []bool{false, true} {
			in := make([]byte, 3000)
			for i := range in {
				v := byte(rng.Intn(1 << width))
				if runs && i > 0 && rng.Intn(20) != 0 {
					v = in[i-1]
				}
				in[i] = v
			}
			enc, err := (&rle.Encoding{BitWidth: width}).EncodeLevels(nil, in)
			if err != nil {
				t.Fatal(err)
			}
			h := newHybrid(enc, uint(width))
			for i, want := range in {
				if got, err := h.next(); err != nil || got != uint32(want) {
					t.Fatalf("width %d, value %d: %d, %v; want %d", width, i, got, err, want)
				}
			}
			for k := 0; k < 60; k++ {
				at := rng.Intn(len(in))
				h := newHybrid(enc, uint(width))
				if k%2 == 0 {
					if err := h.skip(at); err != nil {
						t.Fatal(err)
					}
				} else {
					// Any value of the width, and one too wide to occur.
					eq := uint32(rng.Intn(1<<width + 1))
					c, err := h.countEq(at, eq)
					want := 0
					for _, v := range in[:at] {
						if uint32(v) == eq {
							want++
						}
					}
					if err != nil || c != want {
						t.Fatalf("width %d: countEq of %d over %d values: %d, %v; want %d", width, eq, at, c, err, want)
					}
				}
				if got, err := h.next(); err != nil || got != uint32(in[at]) {
					t.Fatalf("width %d: value %d after moving: %d, %v; want %d", width, at, got, err, in[at])
				}
			}
			// seekZero: the position of the k-th zero, and none past the last.
			var zeros []int
			for i, v := range in {
				if v == 0 {
					zeros = append(zeros, i)
				}
			}
			for k := 0; k < len(zeros) && k <= 50; k++ {
				h := newHybrid(enc, uint(width))
				if pos, err := h.seekZero(k, len(in)); err != nil || pos != zeros[k] {
					t.Fatalf("width %d: zero %d at %d, %v; want %d", width, k, pos, err, zeros[k])
				}
			}
			past := newHybrid(enc, uint(width))
			if _, err := past.seekZero(len(zeros), len(in)); err == nil {
				t.Errorf("width %d: zero %d found past the %d there are", width, len(zeros), len(zeros))
			}
		}
	}
}

// TestUnpack64 compares unpack64 with a bit-by-bit reading, for every
// width and bit offset, near the end of the input too.
func TestUnpack64(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	b := make([]byte, 24)
	rng.Read(b)
	for n := 0; n <= len(b); n++ {
		for w := uint(0); w <= 64; w++ {
			for bit := uint(0); bit < uint(n)*8+8; bit++ {
				var want uint64
				for k := uint(0); k < w; k++ {
					if p := bit + k; p/8 < uint(n) && b[p/8]&(1<<(p%8)) != 0 {
						want |= 1 << k
					}
				}
				if got := unpack64(b[:n], bit, w); got != want {
					t.Fatalf("%d bytes, width %d, bit %d: %x, want %x", n, w, bit, got, want)
				}
			}
		}
	}
}
