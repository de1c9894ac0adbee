package block

import (
	"bytes"
	"container/list"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"sync"

	"github.com/clew-dev/clew/internal/model"
)

// SearchCache keeps decoded search indexes of blocks, least recently used
// first out, within a byte bound. It is safe for concurrent use.
type SearchCache struct {
	mu    sync.Mutex
	max   int64
	used  int64
	lru   list.List // of *searchEntry, most recent at the front
	byID  map[string]*list.Element
	loads int64
}

type searchEntry struct {
	id   string
	x    *SearchIndex
	err  error
	size int64
}

// NewSearchCache returns a cache holding at most maxBytes of indexes (as
// SearchIndex.Size estimates them). An index larger than the bound is used
// by the search that loaded it and not kept.
func NewSearchCache(maxBytes int64) *SearchCache {
	return &SearchCache{max: maxBytes, byID: map[string]*list.Element{}}
}

// SetMaxBytes changes the cache's bound (0 keeps nothing), dropping the
// least recently used indexes beyond it.
func (c *SearchCache) SetMaxBytes(n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = max(n, 0)
	for c.used > c.max {
		c.remove(c.lru.Back())
	}
}

// Bytes returns the bytes the cache holds.
func (c *SearchCache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// Loads returns how many indexes were read from storage.
func (c *SearchCache) Loads() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loads
}

// Forget drops the index of the block r reads (deleted or replaced).
func (c *SearchCache) Forget(r *Reader) {
	id := r.searchKey()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byID[id]; ok {
		c.remove(e)
	}
}

func (c *SearchCache) remove(e *list.Element) {
	se := e.Value.(*searchEntry)
	c.lru.Remove(e)
	delete(c.byID, se.id)
	c.used -= se.size
}

func (c *SearchCache) get(id string) (*searchEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok {
		return nil, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*searchEntry), true
}

func (c *SearchCache) put(se *searchEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loads++
	if se.size > c.max {
		return
	}
	if e, ok := c.byID[se.id]; ok {
		c.remove(e)
	}
	c.byID[se.id] = c.lru.PushFront(se)
	c.used += se.size
	for c.used > c.max {
		c.remove(c.lru.Back())
	}
}

// HasSearchIndex reports whether the block has a search index (blocks
// written before the index existed have none).
func (r *Reader) HasSearchIndex() bool { return r.meta.SearchSize > 0 }

// SearchIndex returns the block's search index, from c or read and checked
// (then kept in c). It returns nil and no error for a block without one,
// and an error wrapping ErrCorrupt for a damaged one (remembered in c, so
// that the file is not read again for every search).
func (r *Reader) SearchIndex(ctx context.Context, c *SearchCache) (*SearchIndex, error) {
	if !r.HasSearchIndex() {
		return nil, nil
	}
	key := r.searchKey()
	if se, ok := c.get(key); ok {
		return se.x, se.err
	}
	x, err := r.loadSearch(ctx)
	if err != nil && (ctx.Err() != nil || !errors.Is(err, ErrCorrupt)) {
		return nil, err // not the file's fault: try again next time
	}
	se := &searchEntry{id: key, x: x, err: err, size: 128}
	if x != nil {
		se.size = x.Size()
	}
	c.put(se)
	return x, err
}

// searchKey names the block in a SearchCache: its id within its backend
// (one cache may serve stores of several directories).
func (r *Reader) searchKey() string { return fmt.Sprintf("%p/%s", r.be, r.meta.ID) }

func (r *Reader) loadSearch(ctx context.Context) (*SearchIndex, error) {
	b, err := r.be.Read(ctx, r.meta.ID, SearchName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: search: file missing", ErrCorrupt)
	}
	if err != nil {
		return nil, fmt.Errorf("read search index: %w", err)
	}
	if int64(len(b)) != r.meta.SearchSize {
		return nil, fmt.Errorf("%w: search: %d bytes, meta says %d", ErrCorrupt, len(b), r.meta.SearchSize)
	}
	x, err := decodeSearch(b)
	if err != nil {
		return nil, err
	}
	if int64(x.n) != r.meta.Traces {
		return nil, fmt.Errorf("%w: search: %d traces, meta %d", ErrCorrupt, x.n, r.meta.Traces)
	}
	return x, nil
}

// TraceIDAt returns the trace id of entry ordinal of the block's index (a
// Candidate's Ordinal): one small range read of the index.
func (r *Reader) TraceIDAt(ctx context.Context, ordinal int) (model.TraceID, error) {
	var id model.TraceID
	if ordinal < 0 || ordinal >= r.nIndex {
		return id, fmt.Errorf("%w: index entry %d of %d", ErrCorrupt, ordinal, r.nIndex)
	}
	if err := r.be.ReadRange(ctx, r.meta.ID, IndexName, int64(len(indexMagic)+ordinal*IndexEntrySize), id[:]); err != nil {
		return id, fmt.Errorf("read index: %w", err)
	}
	return id, nil
}

// TraceIDs returns the trace ids of the block's index, in index order (by
// ordinal).
func (r *Reader) TraceIDs(ctx context.Context) ([]model.TraceID, error) {
	b, err := r.be.Read(ctx, r.meta.ID, IndexName)
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	n, err := checkIndex(b)
	if err != nil {
		return nil, err
	}
	if n != r.nIndex {
		return nil, fmt.Errorf("%w: index has %d traces, was %d", ErrCorrupt, n, r.nIndex)
	}
	out := make([]model.TraceID, n)
	for i := range out {
		copy(out[i][:], b[len(indexMagic)+i*IndexEntrySize:])
	}
	return out, nil
}

// searchVerifier returns a builder to rebuild the block's search index
// from its rows (Verify), or nil for a block without one.
func (r *Reader) searchVerifier() *searchBuilder {
	if !r.HasSearchIndex() {
		return nil
	}
	return newSearchBuilder()
}

// checkSearch compares the block's search file with the one rebuilt from
// its rows by sb (nil: the block has none).
func (r *Reader) checkSearch(ctx context.Context, sb *searchBuilder) error {
	if sb == nil {
		return nil
	}
	if _, err := r.loadSearch(ctx); err != nil {
		return err
	}
	b, err := r.be.Read(ctx, r.meta.ID, SearchName)
	if err != nil {
		return fmt.Errorf("read search index: %w", err)
	}
	if !bytes.Equal(b, sb.encode()) {
		return fmt.Errorf("%w: search: the index does not match the rows", ErrCorrupt)
	}
	return nil
}

// TraceAt returns the trace id of index entry ordinal (a Candidate's
// Ordinal) and the trace's spans in this block: one range read of two
// index entries and the rows' pages, without FindTrace's bloom check and
// index search.
func (r *Reader) TraceAt(ctx context.Context, ordinal int) (model.TraceID, []*model.Span, error) {
	var id model.TraceID
	if ordinal < 0 || ordinal >= r.nIndex {
		return id, nil, fmt.Errorf("%w: index entry %d of %d", ErrCorrupt, ordinal, r.nIndex)
	}
	var buf [2 * IndexEntrySize]byte
	n := IndexEntrySize
	if ordinal+1 < r.nIndex {
		n = 2 * IndexEntrySize
	}
	if err := r.be.ReadRange(ctx, r.meta.ID, IndexName, int64(len(indexMagic)+ordinal*IndexEntrySize), buf[:n]); err != nil {
		return id, nil, fmt.Errorf("read index: %w", err)
	}
	copy(id[:], buf[:16])
	lo, hi := int64(binary.LittleEndian.Uint32(buf[16:])), r.meta.Spans
	if n > IndexEntrySize {
		hi = int64(binary.LittleEndian.Uint32(buf[IndexEntrySize+16:]))
	}
	if hi > r.meta.Spans || lo >= hi || hi-lo > int64(maxTraceRows) {
		return id, nil, fmt.Errorf("%w: index entry [%d, %d) outside the data", ErrCorrupt, lo, hi)
	}
	rows := make([]Row, hi-lo)
	if err := r.readRows(lo, rows); err != nil {
		return id, nil, err
	}
	var b spanBuilder
	out := make([]*model.Span, 0, len(rows))
	for i := range rows {
		if rows[i].TraceID != id {
			return id, nil, fmt.Errorf("%w: index points at rows of another trace", ErrCorrupt)
		}
		out = append(out, b.ToSpan(&rows[i]))
	}
	return id, out, nil
}
