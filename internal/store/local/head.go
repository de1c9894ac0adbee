package local

import (
	"fmt"
	"strings"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/spancodec"
)

// head holds the spans written since the last cut, in memory, indexed by
// trace. It is guarded by the Store's mutex; a cut head is immutable and
// read without locks while it is written to a block.
//
// Spans are kept in their WAL encoding (spancodec), sharing the bytes of
// the record they were written in, beside their resource and scope: about
// a third of the memory of model spans, and almost nothing for the garbage
// collector to scan. Reading a span back decodes it (its strings share the
// record's bytes, which never change).
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
	spans []headSpan
	ids   map[model.SpanID]struct{} // built once the trace grows past a few spans
	start uint64                    // earliest span start
}

// headSpan is one span of the head: its encoding and what queries filter
// by without decoding it.
type headSpan struct {
	res   *model.Resource
	scope *model.Scope
	enc   []byte // spancodec.AppendSpan encoding, a slice of a WAL record
	id    model.SpanID
}

// headSpanOverhead is the memory of a span in the head beside its
// encoding: the headSpan and its share of the trace map and slices.
const headSpanOverhead = 96

type opKey struct {
	name string
	kind model.SpanKind
}

func newHead() *head {
	return &head{traces: map[model.TraceID]*headTrace{}, ops: map[string]map[opKey]struct{}{}}
}

// opsOf returns the operations of service svc, adding the service when
// missing.
func (h *head) opsOf(svc string) map[opKey]struct{} {
	m := h.ops[svc]
	if m == nil {
		m = map[opKey]struct{}{}
		h.ops[strings.Clone(svc)] = m
	}
	return m
}

// addWithService inserts sp, encoded as enc, unless a span with its id is
// already in its trace. svc is the span's service name and ops its
// operations (opsOf); room is the number of spans of the trace about to be
// added (sp and those right after it), for a new trace's first slice.
func (h *head) addWithService(sp *model.Span, svc string, ops map[opKey]struct{}, enc []byte, now int64, room int) {
	t := h.traces[sp.TraceID]
	if t == nil {
		t = &headTrace{start: sp.StartTimeUnixNano, spans: make([]headSpan, 0, room)}
		h.traces[sp.TraceID] = t
	} else if t.has(sp.SpanID) {
		return
	}
	t.spans = append(t.spans, headSpan{res: sp.Resource, scope: sp.Scope, enc: enc, id: sp.SpanID})
	if sp.StartTimeUnixNano < t.start {
		t.start = sp.StartTimeUnixNano
	}
	switch {
	case t.ids != nil:
		t.ids[sp.SpanID] = struct{}{}
	case len(t.spans) > 16:
		t.ids = make(map[model.SpanID]struct{}, 2*len(t.spans))
		for _, x := range t.spans {
			t.ids[x.id] = struct{}{}
		}
	}
	if h.spans == 0 {
		h.created = now
		h.minStart, h.maxStart = sp.StartTimeUnixNano, sp.StartTimeUnixNano
	}
	h.minStart = min(h.minStart, sp.StartTimeUnixNano)
	h.maxStart = max(h.maxStart, sp.StartTimeUnixNano)
	h.spans++
	h.bytes += int64(len(enc)) + headSpanOverhead
	if k := (opKey{sp.Name, sp.Kind}); !hasOp(ops, k) {
		// A copy: the span's name may share the bytes of a whole
		// request (receivers decode without copying), which the head
		// must not keep alive.
		k.name = strings.Clone(k.name)
		ops[k] = struct{}{}
	}
}

func hasOp(m map[opKey]struct{}, k opKey) bool {
	_, ok := m[k]
	return ok
}

// addBatch adds spans whose encodings are rec[bounds[2i]:bounds[2i+1]].
func (h *head) addBatch(spans []*model.Span, rec []byte, bounds []int, now int64) {
	var res *model.Resource
	var svc string
	var ops map[opKey]struct{}
	run := 0 // spans left in the current run of one trace
	for i, sp := range spans {
		// Spans of a request come grouped by resource: look its service
		// name and operations up once per group.
		if sp.Resource != res || res == nil {
			res, svc = sp.Resource, sp.ServiceName()
			ops = h.opsOf(svc)
		}
		// And often by trace: a new trace's slice gets room for the
		// spans of its run at once.
		if run == 0 {
			run = 1
			for _, x := range spans[i+1:] {
				if x.TraceID != sp.TraceID {
					break
				}
				run++
			}
		}
		h.addWithService(sp, svc, ops, rec[bounds[2*i]:bounds[2*i+1]:bounds[2*i+1]], now, run)
		run--
	}
}

func (t *headTrace) has(id model.SpanID) bool {
	if t.ids != nil {
		_, ok := t.ids[id]
		return ok
	}
	for _, sp := range t.spans {
		if sp.id == id {
			return true
		}
	}
	return false
}

// decode returns the trace's spans, decoded. A span that does not decode
// (memory corruption, or a bug) is left out and reported.
func (t *headTrace) decode() ([]*model.Span, error) {
	out := make([]*model.Span, len(t.spans))
	all := make([]model.Span, len(t.spans))
	var err error
	n := 0
	for i := range t.spans {
		hs := &t.spans[i]
		sp := &all[n]
		sp.Resource, sp.Scope = hs.res, hs.scope
		if e := spancodec.DecodeSpan(hs.enc, sp); e != nil {
			err = fmt.Errorf("head span %s: %w", hs.id, e)
			continue
		}
		out[n] = sp
		n++
	}
	return out[:n], err
}

// spansOf decodes t's spans, dropping (and counting) the ones that fail.
func (s *Store) spansOf(t *headTrace) []*model.Span {
	spans, err := t.decode()
	if err != nil {
		s.m.blockErrors.Inc()
		s.log.Warn("head span undecodable", "err", err)
	}
	return spans
}

// hasService reports whether a span of t belongs to service (every trace
// does when service is empty).
func (t *headTrace) hasService(service string) bool {
	if service == "" {
		return true
	}
	for i := range t.spans {
		if t.spans[i].res.ServiceName() == service {
			return true
		}
	}
	return false
}

// overlaps reports whether some span of h may start in [lo, hi].
func (h *head) overlaps(lo, hi uint64) bool {
	return h.spans > 0 && h.minStart <= hi && h.maxStart >= lo
}
