package block

import (
	"fmt"
	"math"

	"github.com/clew-dev/clew/internal/model"
)

// A span whose parent is an earlier row of the same trace in the block
// stores the distance back to that row (parent_offset, a small integer)
// instead of the parent's 8-byte id: on 10-span traces it saves about 5 of
// the 8 bytes the id took after compression. Only parents among the first
// maxParentRows rows of their trace are given this way, so that a reader
// keeps at most that many span ids of the trace it is in.

// maxParentRows bounds the rows of a trace a parent offset can point at:
// offsets reach only the trace's first maxParentRows rows in the block.
const maxParentRows = 1 << 14

// linearParents is the trace length up to which the writer looks a parent
// up by a scan of the trace's span ids rather than a map.
const linearParents = 64

// traceSpans is the writer's view of the trace being written: the span
// ids of its first maxParentRows rows.
type traceSpans struct {
	n   int            // rows of the trace so far
	ids []model.SpanID // span id of row i, for i < maxParentRows
	pos map[model.SpanID]int32
}

// reset starts a new trace.
func (t *traceSpans) reset() {
	if len(t.ids) > linearParents {
		clear(t.pos)
	}
	t.n, t.ids = 0, t.ids[:0]
}

// parentOffset returns how many rows before the next row of the trace its
// parent is, or 0 when the parent is not among the rows kept.
func (t *traceSpans) parentOffset(parent model.SpanID) int32 {
	if parent.IsZero() {
		return 0
	}
	at := -1
	if len(t.ids) <= linearParents {
		for i := len(t.ids) - 1; i >= 0; i-- {
			if t.ids[i] == parent {
				at = i
				break
			}
		}
	} else if p, ok := t.pos[parent]; ok {
		at = int(p)
	}
	if at < 0 || t.n-at > math.MaxInt32 {
		return 0
	}
	return int32(t.n - at)
}

// add records the next row's span id.
func (t *traceSpans) add(id model.SpanID) {
	if len(t.ids) < maxParentRows {
		t.ids = append(t.ids, id)
		switch n := len(t.ids); {
		case n == linearParents+1:
			if t.pos == nil {
				t.pos = make(map[model.SpanID]int32, 4*linearParents)
			}
			for i, v := range t.ids {
				t.pos[v] = int32(i)
			}
		case n > linearParents+1:
			t.pos[id] = int32(n - 1)
		}
	}
	t.n++
}

// parentResolver completes rows read in storage order: it sets
// ParentSpanID from ParentOffset, and the keys of the block's attribute
// columns. It carries the trace being read from one batch of rows to the
// next.
type parentResolver struct {
	trace   [16]byte
	started bool
	n       int
	ids     [][8]byte
	keys    *slotKeys // nil when the block has no attribute columns
	nkeys   int       // attribute columns with a key
}

// newParentResolver returns a resolver for a block with attribute column
// keys keys.
func newParentResolver(keys *slotKeys) parentResolver {
	p := parentResolver{keys: keys}
	if keys != nil {
		for p.nkeys < attrSlots && keys[p.nkeys] != "" {
			p.nkeys++
		}
	}
	return p
}

// resolve fills the parents of rows, which follow the rows given before.
func (p *parentResolver) resolve(rows []Row) error {
	for i := range rows {
		if err := p.row(&rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// row fills the parent of r, which follows the rows given before. An
// offset that does not point at one of the trace's first maxParentRows
// earlier rows is damage.
func (p *parentResolver) row(r *Row) error {
	if !p.started || r.TraceID != p.trace {
		p.trace, p.started, p.n, p.ids = r.TraceID, true, 0, p.ids[:0]
	}
	if off := r.ParentOffset; off != 0 {
		at := int64(p.n) - int64(off)
		if off < 0 || at < 0 || at >= int64(len(p.ids)) {
			return fmt.Errorf("%w: data: parent offset %d of row %d of its trace", ErrCorrupt, off, p.n)
		}
		r.ParentSpanID = p.ids[at]
	}
	if len(p.ids) < maxParentRows {
		p.ids = append(p.ids, r.SpanID)
	}
	p.n++
	return p.checkSlots(r)
}

// checkSlots sets the keys of r's attribute columns, and checks that the
// columns without a key are null.
func (p *parentResolver) checkSlots(r *Row) error {
	r.slotKeys = p.keys
	if p.nkeys < attrSlots {
		slots := r.slots()
		for i := p.nkeys; i < attrSlots; i++ {
			if *slots[i] != "" {
				return fmt.Errorf("%w: data: attribute column %d has values but no key", ErrCorrupt, i)
			}
		}
	}
	return nil
}

// resolveParents completes rows that begin a trace (or several), of a
// block with attribute column keys keys: the rows of a lookup. It resolves
// offsets within rows, without parentResolver's copy of the span ids.
func resolveParents(rows []Row, keys *slotKeys) error {
	p := newParentResolver(keys)
	first := 0 // the current trace's first row in rows
	for i := range rows {
		r := &rows[i]
		if r.TraceID != rows[first].TraceID {
			first = i
		}
		if off := r.ParentOffset; off != 0 {
			at := i - int(off)
			if off < 0 || at < first || at-first >= maxParentRows {
				return fmt.Errorf("%w: data: parent offset %d of row %d of its trace", ErrCorrupt, off, i-first)
			}
			r.ParentSpanID = rows[at].SpanID
		}
		if err := p.checkSlots(r); err != nil {
			return err
		}
	}
	return nil
}
