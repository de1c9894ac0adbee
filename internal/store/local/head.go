package local

import (
	"fmt"
	"strings"
	"unsafe"

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
	// opKinds indexes ops for the write path: service -> operation name
	// -> a bit per span kind (1<<kind) in ops. A lookup by name alone is
	// cheaper than one by opKey.
	opKinds map[string]map[string]uint32
	created int64 // unix nanoseconds of the first span's arrival
}

type headTrace struct {
	spans []headSpan
	ids   map[model.SpanID]struct{} // built once the trace grows past a few spans
	start uint64                    // earliest span start
	// idBits has bit idBit(id) set for the id of every span in spans:
	// has answers most lookups of a new id without a search.
	idBits uint64
}

// idBit returns the bit of a span id in headTrace.idBits.
func idBit(id model.SpanID) uint64 { return 1 << (id[7] & 63) }

// headSpan is one span of the head: its encoding and what queries filter
// by without decoding it.
type headSpan struct {
	res   *model.Resource
	scope *model.Scope
	enc   []byte // spancodec.AppendSpan encoding, a slice of a WAL record
	id    model.SpanID
}

// headSpanOverhead is the memory of a span in the head beside its
// encoding, as estimated before the span is added (WriteSpans's check of
// MaxHeadBytes): the headSpan and its share of the trace map and slices.
const headSpanOverhead = 96

// What the head's byte estimate (head.bytes) counts, beside the records:
// each trace's headSpan slice by its capacity (a new trace gets room for
// the head's mean spans per trace, up to 16, whether or not they come),
// the headTrace and its entry in the trace map, and the entries of a
// trace's id set (TestHeadBytesCountsReservedRoom compares the estimate
// with the heap the head takes).
const (
	headSpanSize = int64(unsafe.Sizeof(headSpan{}))
	// headTraceOverhead is a headTrace (48 bytes allocated) and its
	// entry in the trace map (24 bytes in a table at most 7/8 full,
	// and the unused part of a table that doubled).
	headTraceOverhead = 48 + 48
	// headIDOverhead is an entry of a trace's id set.
	headIDOverhead = 24
)

type opKey struct {
	name string
	kind model.SpanKind
}

func newHead() *head {
	return &head{traces: map[model.TraceID]*headTrace{}, ops: map[string]map[opKey]struct{}{},
		opKinds: map[string]map[string]uint32{}}
}

// svcOps is a service's operations in ops and opKinds.
type svcOps struct {
	set   map[opKey]struct{}
	kinds map[string]uint32
}

// opsOf returns the operations of service svc, adding the service when
// missing.
func (h *head) opsOf(svc string) svcOps {
	m := h.ops[svc]
	if m == nil {
		svc = strings.Clone(svc)
		m = map[opKey]struct{}{}
		h.ops[svc] = m
		h.opKinds[svc] = map[string]uint32{}
	}
	return svcOps{m, h.opKinds[svc]}
}

// add records the operation (name, kind).
func (o svcOps) add(name string, kind model.SpanKind) {
	if uint32(kind) >= 32 {
		// Not a kind OTLP defines: no bit for it.
		if _, ok := o.set[opKey{name, kind}]; !ok {
			o.set[opKey{strings.Clone(name), kind}] = struct{}{}
		}
		return
	}
	bit := uint32(1) << uint32(kind)
	kinds := o.kinds[name]
	if kinds&bit != 0 {
		return
	}
	// Copies: the span's name may share the bytes of a whole request
	// (receivers decode without copying), which the head must not keep
	// alive. (Assigning to a map with an equal string key stores the new
	// key, so the copy is made even when the name is known.)
	name = strings.Clone(name)
	o.kinds[name] = kinds | bit
	o.set[opKey{name, kind}] = struct{}{}
}

// addSpan inserts sp, encoded as enc, unless a span with its id is
// already in its trace; the caller records its operation when it was
// added. t is sp's trace when the caller knows it (nil otherwise); room is
// the number of spans of the trace about to be added (sp and those right
// after it), for a new trace's first slice. It returns sp's trace and
// whether sp was added.
func (h *head) addSpan(sp *model.Span, t *headTrace, enc []byte, now int64, room int) (*headTrace, bool) {
	if t == nil {
		t = h.traces[sp.TraceID]
	}
	if t == nil {
		t = &headTrace{start: sp.StartTimeUnixNano, spans: make([]headSpan, 0, room)}
		h.traces[sp.TraceID] = t
		h.bytes += headTraceOverhead + int64(cap(t.spans))*headSpanSize
	} else if t.has(sp.SpanID) {
		return t, false
	}
	if c := cap(t.spans); len(t.spans) == c {
		t.spans = append(t.spans, headSpan{res: sp.Resource, scope: sp.Scope, enc: enc, id: sp.SpanID})
		h.bytes += int64(cap(t.spans)-c) * headSpanSize
	} else {
		t.spans = append(t.spans, headSpan{res: sp.Resource, scope: sp.Scope, enc: enc, id: sp.SpanID})
	}
	t.idBits |= idBit(sp.SpanID)
	if sp.StartTimeUnixNano < t.start {
		t.start = sp.StartTimeUnixNano
	}
	switch {
	case t.ids != nil:
		t.ids[sp.SpanID] = struct{}{}
		h.bytes += headIDOverhead
	case len(t.spans) > 16:
		t.ids = make(map[model.SpanID]struct{}, 2*len(t.spans))
		for _, x := range t.spans {
			t.ids[x.id] = struct{}{}
		}
		h.bytes += 2 * int64(len(t.spans)) * headIDOverhead
	}
	if h.spans == 0 {
		h.created = now
		h.minStart, h.maxStart = sp.StartTimeUnixNano, sp.StartTimeUnixNano
	}
	h.minStart = min(h.minStart, sp.StartTimeUnixNano)
	h.maxStart = max(h.maxStart, sp.StartTimeUnixNano)
	h.spans++
	return t, true
}

// addBatch adds spans whose encodings are rec[bounds[2i]:bounds[2i+1]].
// The head keeps rec (the whole record, while any of its spans is kept).
func (h *head) addBatch(spans []*model.Span, rec []byte, bounds []int, now int64) {
	if len(spans) > 0 {
		h.bytes += int64(cap(rec))
	}
	// The operations of the last few resources: spans of a request come
	// grouped by resource, or at least by a few resources in turn.
	var cache [8]struct {
		res *model.Resource
		ops svcOps
	}
	next := 0
	var t *headTrace
	run := 0 // spans left in the current run of one trace
	// A new trace's slice gets room for the head's mean spans per trace
	// (at most 16: a trace of fewer spans wastes at most 15 headSpans):
	// the spans of a trace usually come in one batch, but spread over its
	// services' resource groups (so not in one run).
	mean := 1
	if n := len(h.traces); n > 0 {
		mean = min((h.spans+n-1)/n, 16)
	}
	// The traces of this batch by a few bits of their id, and the
	// operations (resource, name, kind) added in this batch by a hash:
	// the spans of a trace are spread over the request's resource
	// groups, and most spans repeat an operation of a span before them.
	// A look here costs less than one in h.traces or the service's
	// operations (a string hash).
	var traces [batchTraceSlots]struct {
		id model.TraceID
		t  *headTrace
	}
	var opsSeen [batchOpSlots]struct {
		res  *model.Resource
		kind model.SpanKind
		name string
	}
	for i, sp := range spans {
		// And sometimes by trace: a run of spans of one trace is looked
		// up once, and a new trace's slice gets room for the whole run.
		if run == 0 {
			t = nil
			run = 1
			for _, x := range spans[i+1:] {
				if x.TraceID != sp.TraceID {
					break
				}
				run++
			}
			if c := &traces[(sp.TraceID[15]^sp.TraceID[7])%batchTraceSlots]; c.t != nil && c.id == sp.TraceID {
				t = c.t
			}
		}
		var added bool
		t, added = h.addSpan(sp, t, rec[bounds[2*i]:bounds[2*i+1]:bounds[2*i+1]], now, max(run, mean))
		c := &traces[(sp.TraceID[15]^sp.TraceID[7])%batchTraceSlots]
		c.id, c.t = sp.TraceID, t
		run--
		o := &opsSeen[opSlot(sp)]
		if !added || o.res == sp.Resource && o.kind == sp.Kind && o.name == sp.Name && o.res != nil {
			continue
		}
		var ops svcOps
		found := false
		for j := range cache {
			if c := &cache[j]; c.res == sp.Resource && c.ops.set != nil {
				ops, found = c.ops, true
				break
			}
		}
		if !found {
			ops = h.opsOf(sp.ServiceName())
			cache[next].res, cache[next].ops = sp.Resource, ops
			next = (next + 1) % len(cache)
		}
		ops.add(sp.Name, sp.Kind)
		o.res, o.kind, o.name = sp.Resource, sp.Kind, sp.Name
	}
}

// batchTraceSlots and batchOpSlots size addBatch's tables of the traces
// and operations of a batch.
const (
	batchTraceSlots = 64
	batchOpSlots    = 64
)

// opSlot returns sp's slot in addBatch's table of operations: a hash of its
// resource, kind and name's length and last byte.
func opSlot(sp *model.Span) uint {
	h := uint(uintptr(unsafe.Pointer(sp.Resource))>>4) + uint(sp.Kind)*7 + uint(len(sp.Name))*31
	if n := len(sp.Name); n > 0 {
		h += uint(sp.Name[n-1]) * 131
	}
	return (h ^ h>>6) % batchOpSlots
}

func (t *headTrace) has(id model.SpanID) bool {
	if t.idBits&idBit(id) == 0 {
		return false
	}
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
