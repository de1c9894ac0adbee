package otlp

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/iotest"
)

// TestDirtyPool checks the request buffer pool's sizes: a buffer of the
// asked length in the smallest power-of-two capacity of at least 4 KiB,
// buffers it did not make (or too large to pool) never handed out again.
func TestDirtyPool(t *testing.T) {
	p := &dirtyPool{}
	for _, c := range []struct{ n, cap int }{
		{0, 4096}, {1, 4096}, {4096, 4096}, {4097, 8192}, {200_000, 262_144}, {1 << 26, 1 << 26}, {1<<26 + 1, 1<<26 + 1},
	} {
		b := p.Get(c.n)
		if len(*b) != c.n || cap(*b) != c.cap {
			t.Errorf("Get(%d): len %d cap %d, want len %d cap %d", c.n, len(*b), cap(*b), c.n, c.cap)
		}
		p.Put(b)
	}
	odd := make([]byte, 5000)
	p.Put(&odd) // not a power of two: dropped
	for range 100 {
		if b := p.Get(4097); cap(*b) != 8192 {
			t.Fatalf("Get(4097) gave a buffer of capacity %d", cap(*b))
		}
	}
	b := p.Get(10)
	(*b)[9] = 7
	p.Put(b)
	if b2 := p.Get(100); len(*b2) != 100 || cap(*b2) != 4096 {
		t.Fatalf("reused buffer: len %d cap %d", len(*b2), cap(*b2))
	}
}

// TestReadPooled reads bodies of every size around the pool's tiers, with
// right, low and high guesses of their length, and refuses those over the
// limit with *http.MaxBytesError (what the handler answers 413 to).
func TestReadPooled(t *testing.T) {
	const limit = 100_000
	for _, n := range []int{0, 1, 511, 512, 4095, 4096, 4097, 65_536, 99_999, 100_000, 100_001, 300_000} {
		body := bytes.Repeat([]byte("abcdefghij"), n/10+1)[:n]
		for _, guess := range []int64{int64(n) + 1, 1, 64 << 10, 1 << 20} {
			buf, err := readPooled(io.LimitReader(iotest.HalfReader(bytes.NewReader(body)), limit+1), guess, limit)
			if n > limit {
				var tooLarge *http.MaxBytesError
				if !errors.As(err, &tooLarge) {
					t.Errorf("%d bytes, guess %d: err %v, want MaxBytesError", n, guess, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%d bytes, guess %d: %v", n, guess, err)
			}
			if !bytes.Equal(*buf, body) {
				t.Fatalf("%d bytes, guess %d: read %d bytes that differ", n, guess, len(*buf))
			}
			requestPool.Put(buf)
		}
	}
	if _, err := readPooled(iotest.ErrReader(io.ErrUnexpectedEOF), 10, limit); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("failing reader: err %v", err)
	}
}
