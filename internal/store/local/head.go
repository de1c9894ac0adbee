package local

import (
	"github.com/clew-dev/clew/internal/model"
)

// head holds the spans written since the last cut, in memory, indexed by
// trace. It is guarded by the Store's mutex; a cut head is immutable and
// read without locks while it is written to a block.
type head struct {
	traces   map[model.TraceID]*headTrace
	spans    int
	bytes    int64
	minStart uint64
	maxStart uint64
	ops      map[string]map[opKey]struct{} // service -> operations
	created  int64                         // unix nanoseconds of the first span's arrival
}

type headTrace struct {
	spans []*model.Span
	ids   map[model.SpanID]struct{} // built once the trace grows past a few spans
	start uint64                    // earliest span start
}

type opKey struct {
	name string
	kind model.SpanKind
}

func newHead() *head {
	return &head{traces: map[model.TraceID]*headTrace{}, ops: map[string]map[opKey]struct{}{}}
}

// add inserts sp unless a span with its id is already in its trace.
func (h *head) add(sp *model.Span, now int64) {
	t := h.traces[sp.TraceID]
	if t == nil {
		t = &headTrace{start: sp.StartTimeUnixNano}
		h.traces[sp.TraceID] = t
	} else if t.has(sp.SpanID) {
		return
	}
	t.spans = append(t.spans, sp)
	if sp.StartTimeUnixNano < t.start {
		t.start = sp.StartTimeUnixNano
	}
	switch {
	case t.ids != nil:
		t.ids[sp.SpanID] = struct{}{}
	case len(t.spans) > 16:
		t.ids = make(map[model.SpanID]struct{}, 2*len(t.spans))
		for _, x := range t.spans {
			t.ids[x.SpanID] = struct{}{}
		}
	}
	if h.spans == 0 {
		h.created = now
		h.minStart, h.maxStart = sp.StartTimeUnixNano, sp.StartTimeUnixNano
	}
	h.minStart = min(h.minStart, sp.StartTimeUnixNano)
	h.maxStart = max(h.maxStart, sp.StartTimeUnixNano)
	h.spans++
	h.bytes += int64(sp.Size())
	svc := sp.ServiceName()
	m := h.ops[svc]
	if m == nil {
		m = map[opKey]struct{}{}
		h.ops[svc] = m
	}
	m[opKey{sp.Name, sp.Kind}] = struct{}{}
}

func (t *headTrace) has(id model.SpanID) bool {
	if t.ids != nil {
		_, ok := t.ids[id]
		return ok
	}
	for _, sp := range t.spans {
		if sp.SpanID == id {
			return true
		}
	}
	return false
}

// overlaps reports whether some span of h may start in [lo, hi].
func (h *head) overlaps(lo, hi uint64) bool {
	return h.spans > 0 && h.minStart <= hi && h.maxStart >= lo
}
