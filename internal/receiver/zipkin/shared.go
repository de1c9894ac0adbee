package zipkin

import (
	"encoding/binary"
	"hash/fnv"

	zipkinmodel "github.com/openzipkin/zipkin-go/model"

	"github.com/clew-dev/clew/internal/model"
)

// Zipkin's shared spans: a server that joins its caller's span reports a
// SERVER span with the same trace and span id as the caller's CLIENT span
// ("shared": true). The Collector's translator keeps both ids as they are,
// leaving two spans of one id in a trace. Clew keys spans by (trace id,
// span id), and span trees need distinct ids, so the receiver does at
// ingest what Jaeger's query service does at read time (its span-id
// deduper): the server half gets an id of its own, derived from the shared
// id so that a retried request maps the same way, and becomes the child of
// the client half; spans of the same service in the same request that
// named the shared id as parent become children of the server half.

type spanKey struct {
	trace model.TraceID
	span  model.SpanID
}

// sharedServerSpans returns the (trace, span) ids of the shared server spans
// among zspans, or nil.
func sharedServerSpans(zspans []*zipkinmodel.SpanModel) map[spanKey]bool {
	var out map[spanKey]bool
	for _, z := range zspans {
		if z == nil || !z.Shared || z.Kind != zipkinmodel.Server {
			continue
		}
		if out == nil {
			out = map[spanKey]bool{}
		}
		out[spanKey{model.TraceIDFromUint64s(z.TraceID.High, z.TraceID.Low), model.SpanIDFromUint64(uint64(z.ID))}] = true
	}
	return out
}

// SharedServerSpanID is the span id Clew gives the server half of a shared
// Zipkin span with span id id in trace trace: the FNV-1a hash of both ids,
// never zero and never id itself.
func SharedServerSpanID(trace model.TraceID, id model.SpanID) model.SpanID {
	h := fnv.New64a()
	h.Write(trace[:])
	h.Write(id[:])
	h.Write([]byte("zipkin shared server span"))
	v := h.Sum64()
	if v == 0 || v == id.Uint64() {
		v++
	}
	var out model.SpanID
	binary.BigEndian.PutUint64(out[:], v)
	return out
}

// separateSharedSpans rewrites the server halves of shared spans in place.
func separateSharedSpans(spans []*model.Span, shared map[spanKey]bool) {
	type moved struct {
		id      model.SpanID
		service string
	}
	renamed := map[spanKey]moved{}
	for _, s := range spans {
		k := spanKey{s.TraceID, s.SpanID}
		if s.Kind != model.SpanKindServer || !shared[k] {
			continue
		}
		newID := SharedServerSpanID(s.TraceID, s.SpanID)
		renamed[k] = moved{newID, s.ServiceName()}
		s.ParentSpanID = s.SpanID
		s.SpanID = newID
	}
	for _, s := range spans {
		m, ok := renamed[spanKey{s.TraceID, s.ParentSpanID}]
		if ok && s.SpanID != m.id && s.ServiceName() == m.service {
			s.ParentSpanID = m.id
		}
	}
}
