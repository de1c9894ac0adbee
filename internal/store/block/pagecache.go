package block

import (
	"container/list"
	"sync"
	"sync/atomic"
)

// Lookups keep the values sections of the pages that zstd really
// compressed (not those of one raw or RLE block, which cost no decoding)
// once decompressed: the pages of small or repetitive columns (parent
// offsets, repeated attribute values) cover thousands of rows each, so
// lookups of nearby traces share them, and the zstd decoder's cost on
// such a page (about 4–6 µs, mostly per frame) is most of what reading it
// costs. Scans do not use the cache: they read each page once.

// PageCacheBytes bounds the memory of the decompressed pages lookups keep,
// over all blocks of the process.
const PageCacheBytes = 8 << 20

// maxCachedPage is the largest values section kept.
const maxCachedPage = 64 << 10

// pageKey names a page of a column chunk of one row source.
type pageKey struct {
	source           uint64
	group, col, page int
}

type pageEntry struct {
	key pageKey
	b   []byte
}

// pageCache is a least-recently-used cache of decompressed values
// sections. The sections are shared: readers must not change them.
type pageCache struct {
	mu           sync.Mutex
	max, size    int64
	m            map[pageKey]*list.Element
	lru          list.List
	hits, misses atomic.Int64
}

var pageVals = newPageCache(PageCacheBytes)

func newPageCache(max int64) *pageCache {
	return &pageCache{max: max, m: map[pageKey]*list.Element{}}
}

// PageCacheUsed returns the bytes of decompressed pages the process keeps
// (at most PageCacheBytes, or the bound set by SetPageCacheBytes).
func PageCacheUsed() int64 {
	pageVals.mu.Lock()
	defer pageVals.mu.Unlock()
	return pageVals.size
}

// pageEntryBytes is a cached section's memory besides its bytes.
const pageEntryBytes = 128

// SetPageCacheBytes sets the bound of the decompressed pages lookups keep
// for the process (PageCacheBytes until set; 0 keeps none), dropping the
// least recently used ones beyond it.
func SetPageCacheBytes(n int64) {
	c := pageVals
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = max(n, 0)
	c.evict()
}

// evict drops the least recently used pages while the cache holds more
// than its bound.
func (c *pageCache) evict() {
	for c.size > c.max {
		e := c.lru.Back()
		pe := e.Value.(*pageEntry)
		c.lru.Remove(e)
		delete(c.m, pe.key)
		c.size -= int64(len(pe.b)) + pageEntryBytes
	}
}

func (c *pageCache) get(k pageKey) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		c.lru.MoveToFront(e)
		c.hits.Add(1)
		return e.Value.(*pageEntry).b
	}
	c.misses.Add(1)
	return nil
}

func (c *pageCache) put(k pageKey, b []byte) {
	n := int64(len(b)) + pageEntryBytes
	c.mu.Lock()
	defer c.mu.Unlock()
	if n > c.max/8 {
		return
	}
	if e, ok := c.m[k]; ok {
		c.size -= int64(len(e.Value.(*pageEntry).b)) + pageEntryBytes
		c.lru.Remove(e)
	}
	c.m[k] = c.lru.PushFront(&pageEntry{k, b})
	c.size += n
	c.evict()
}
