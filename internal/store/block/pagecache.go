package block

import (
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

// pageCache is a least-recently-used cache of decompressed values
// sections. The sections are shared: readers must not change them.
type pageCache struct {
	lruCache[pageKey, []byte]
	hits, misses atomic.Int64
}

var pageVals = newPageCache(PageCacheBytes)

func newPageCache(max int64) *pageCache {
	return &pageCache{lruCache: newLRU[pageKey](max, func(b []byte) int64 { return int64(len(b)) + pageEntryBytes })}
}

// PageCacheUsed returns the bytes of decompressed pages the process keeps
// (at most PageCacheBytes, or the bound set by SetPageCacheBytes).
func PageCacheUsed() int64 { return pageVals.used() }

// pageEntryBytes is a cached section's memory besides its bytes.
const pageEntryBytes = 128

// SetPageCacheBytes sets the bound of the decompressed pages lookups keep
// for the process (PageCacheBytes until set; 0 keeps none), dropping the
// least recently used ones beyond it.
func SetPageCacheBytes(n int64) { pageVals.setMax(n) }

func (c *pageCache) get(k pageKey) []byte {
	b, ok := c.lookup(k)
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return b
}
