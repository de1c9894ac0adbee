package block

import (
	"container/list"
	"sync"
)

// lruCache is a least-recently-used cache within a byte bound, safe for
// concurrent use: the read caches of decoded dictionaries and of
// decompressed pages. A value larger than an eighth of the bound is not
// kept (it would push out much else for one use).
type lruCache[K comparable, V any] struct {
	mu        sync.Mutex
	max, size int64
	m         map[K]*list.Element
	lru       list.List // of *lruEntry, most recent at the front
	sizeOf    func(V) int64
}

type lruEntry[K comparable, V any] struct {
	key  K
	v    V
	size int64
}

func newLRU[K comparable, V any](max int64, sizeOf func(V) int64) lruCache[K, V] {
	return lruCache[K, V]{max: max, m: map[K]*list.Element{}, sizeOf: sizeOf}
}

// lookup returns the value of k and makes it the most recently used.
func (c *lruCache[K, V]) lookup(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.lru.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).v, true
	}
	var zero V
	return zero, false
}

// put keeps v as k's value, unless it is too large.
func (c *lruCache[K, V]) put(k K, v V) {
	n := c.sizeOf(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.max/8 {
		return
	}
	if e, ok := c.m[k]; ok {
		c.size -= e.Value.(*lruEntry[K, V]).size
		c.lru.Remove(e)
	}
	c.m[k] = c.lru.PushFront(&lruEntry[K, V]{k, v, n})
	c.size += n
	c.evict()
}

// setMax changes the bound (0 keeps nothing), dropping the least recently
// used values beyond it.
func (c *lruCache[K, V]) setMax(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = max(n, 0)
	c.evict()
}

// used returns the bytes the cache holds.
func (c *lruCache[K, V]) used() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// evict drops the least recently used values while the cache holds more
// than its bound (c.mu held).
func (c *lruCache[K, V]) evict() {
	for c.size > c.max {
		e := c.lru.Back()
		le := e.Value.(*lruEntry[K, V])
		c.lru.Remove(e)
		delete(c.m, le.key)
		c.size -= le.size
	}
}
