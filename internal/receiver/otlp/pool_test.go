package otlp

import "testing"

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
