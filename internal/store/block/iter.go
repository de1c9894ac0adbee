package block

import (
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"

	"github.com/clew-dev/clew/internal/model"
)

// Iterator returns a block's spans in storage order, reading a few hundred
// rows at a time. It is not safe for concurrent use.
type Iterator struct {
	r   *Reader
	sc  *rowScanner // the row reader's; nil when falling back to parquet-go's
	rg  int
	rr  *parquet.GenericReader[Row]
	buf []Row
	pos int
	n   int
	b   spanBuilder
	par parentResolver // parquet-go's rows only: the row reader resolves its own
	err error
	// reuse (ReuseSpans) has Next return sp, reused from span to span.
	reuse bool
	sp    model.Span
}

// iterKeep is how many resources and scopes an Iterator remembers: spans
// of equal resources (and scopes) share one, which spares the block
// writer of a compaction, which caches them by pointer, building their
// columns and search terms again at almost every span.
const iterKeep = 32

// Iter returns an iterator over the block's spans. Spans of equal
// resources share one *model.Resource (and of equal scopes one
// *model.Scope): callers must not modify them.
func (r *Reader) Iter() *Iterator {
	it := &Iterator{r: r, par: newParentResolver(r.slotKeys), b: spanBuilder{keep: iterKeep}}
	src, err := r.rowSource()
	switch {
	case err == nil:
		it.sc = src.scanner(r.slotKeys)
	case errors.Is(err, errUnsupported):
		it.buf = make([]Row, scanBatch)
	default:
		it.err = err
	}
	return it
}

// Next returns the next span, or nil at the end or on error (see Err).
func (it *Iterator) Next() (sp *model.Span) {
	defer func() {
		if p := recover(); p != nil {
			it.err = fmt.Errorf("%w: data: parquet decoder: %v", ErrCorrupt, p)
			sp = nil
		}
	}()
	for it.pos >= it.n {
		if it.err != nil {
			return nil
		}
		if it.sc != nil {
			rows, err := it.sc.batch()
			if err != nil {
				it.err = err
				return nil
			}
			if len(rows) == 0 {
				return nil
			}
			it.buf, it.pos, it.n = rows, 0, len(rows)
			continue
		}
		if it.rr == nil {
			if it.rg >= len(it.r.file.RowGroups()) {
				return nil
			}
			it.rr = parquet.NewGenericRowGroupReader[Row](it.r.file.RowGroups()[it.rg])
			it.rg++
		}
		n, err := it.rr.Read(it.buf)
		it.pos, it.n = 0, n
		if err != nil {
			it.rr.Close()
			it.rr = nil
			if !errors.Is(err, io.EOF) {
				it.err = fmt.Errorf("%w: data: %v", ErrCorrupt, err)
				return nil
			}
		}
	}
	if it.sc == nil {
		if err := it.par.row(&it.buf[it.pos]); err != nil {
			it.err = err
			return nil
		}
	}
	r := &it.buf[it.pos]
	it.pos++
	if !it.reuse {
		return it.b.ToSpan(r)
	}
	it.b.fillSpan(&it.sp, r)
	return &it.sp
}

// ReuseSpans has Next reuse the memory of the span it returned last (the
// span, its attribute, event and link slices): a span is valid only until
// the next call to Next. Compaction, which hands each span to a block
// writer that keeps none, allocates then almost nothing per span.
func (it *Iterator) ReuseSpans() { it.reuse = true }

// Err returns the error that ended the iteration, if any.
func (it *Iterator) Err() error { return it.err }

// Close releases the iterator.
func (it *Iterator) Close() {
	if it.rr != nil {
		it.rr.Close()
		it.rr = nil
	}
	it.sc = nil
}
