package native

import (
	"fmt"
	"strconv"

	"github.com/clew-dev/clew/internal/model"
)

// renderTrace converts a stored trace into its JSON document, with at most
// maxSpans spans (the earliest). Spans keep the store's order (start time,
// then span id); times are offsets from the trace's start so that they fit
// JSON numbers exactly. The summary fields describe the whole trace.
func renderTrace(t *model.Trace, maxSpans int, linkExists func(model.TraceID) bool) traceJSON {
	sum := summarize(t)
	spans := t.Spans
	out := traceJSON{
		summaryJSON:       sum.json(),
		StartTimeUnixNano: strconv.FormatUint(sum.start, 10),
		Resources:         []resourceJSON{},
		Scopes:            []scopeJSON{},
		Warnings:          []string{},
	}
	if len(spans) > maxSpans {
		spans = spans[:maxSpans]
		out.Warnings = append(out.Warnings, fmt.Sprintf(
			"the trace has %d spans; only its earliest %d are shown (download it whole as OTLP or Jaeger JSON)", len(t.Spans), maxSpans))
	}
	out.Spans = make([]spanJSON, len(spans))
	resources := map[*model.Resource]int{}
	scopes := map[*model.Scope]int{}
	for i, s := range spans {
		ri, ok := resources[s.Resource]
		if !ok {
			ri = len(out.Resources)
			resources[s.Resource] = ri
			out.Resources = append(out.Resources, renderResource(s.Resource))
		}
		si := -1
		if s.Scope != nil {
			if si, ok = scopes[s.Scope]; !ok {
				si = len(out.Scopes)
				scopes[s.Scope] = si
				out.Scopes = append(out.Scopes, scopeJSON{
					Name:                   s.Scope.Name,
					Version:                s.Scope.Version,
					Attributes:             renderAttrs(s.Scope.Attributes),
					DroppedAttributesCount: s.Scope.DroppedAttributesCount,
				})
			}
		}
		js := spanJSON{
			SpanID:                 s.SpanID.String(),
			Orphan:                 sum.sh.orphan[i],
			Name:                   s.Name,
			Kind:                   kindName(s.Kind),
			Resource:               ri,
			Scope:                  si,
			StartNano:              s.StartTimeUnixNano - sum.start,
			DurationNano:           uint64(s.Duration()),
			Status:                 statusJSON{Code: s.Status.Code.String(), Message: s.Status.Message},
			TraceState:             s.TraceState,
			Flags:                  s.Flags,
			Attributes:             renderAttrs(s.Attributes),
			DroppedAttributesCount: s.DroppedAttributesCount,
			DroppedEventsCount:     s.DroppedEventsCount,
			DroppedLinksCount:      s.DroppedLinksCount,
		}
		if !s.IsRoot() {
			js.ParentSpanID = s.ParentSpanID.String()
		}
		if len(s.Events) > 0 {
			js.Events = make([]eventJSON, len(s.Events))
		}
		if len(s.Links) > 0 {
			js.Links = make([]linkJSON, len(s.Links))
		}
		for j, e := range s.Events {
			js.Events[j] = eventJSON{
				Name:                   e.Name,
				OffsetNano:             int64(e.TimeUnixNano - s.StartTimeUnixNano),
				Attributes:             renderAttrs(e.Attributes),
				DroppedAttributesCount: e.DroppedAttributesCount,
			}
		}
		for j, l := range s.Links {
			js.Links[j] = linkJSON{
				TraceID:                l.TraceID.String(),
				SpanID:                 l.SpanID.String(),
				TraceState:             l.TraceState,
				Attributes:             renderAttrs(l.Attributes),
				DroppedAttributesCount: l.DroppedAttributesCount,
				TraceExists:            !l.TraceID.IsZero() && linkExists(l.TraceID),
			}
		}
		out.Spans[i] = js
	}
	if n := sum.sh.orphans; n > 0 {
		msg := fmt.Sprintf("%d span(s) reference a parent span that is not in the trace", n)
		if noRoot(t) {
			msg = "the trace has no root span; " + msg
		}
		out.Warnings = append(out.Warnings, msg)
	}
	return out
}

func noRoot(t *model.Trace) bool {
	for _, s := range t.Spans {
		if s.IsRoot() {
			return false
		}
	}
	return true
}

func renderResource(r *model.Resource) resourceJSON {
	if r == nil {
		return resourceJSON{ServiceName: model.UnknownService, Attributes: []attrJSON{}}
	}
	return resourceJSON{
		ServiceName:            r.ServiceName(),
		Attributes:             renderAttrs(r.Attributes),
		DroppedAttributesCount: r.DroppedAttributesCount,
		SchemaURL:              r.SchemaURL,
	}
}

func renderAttrs(attrs model.Attributes) []attrJSON {
	out := make([]attrJSON, len(attrs))
	for i, kv := range attrs {
		out[i] = attrJSON{Key: kv.Key, Type: kv.Value.Type().String(), Value: kv.Value.AsString()}
	}
	return out
}

func kindName(k model.SpanKind) string {
	if s := k.String(); s != "" {
		return s
	}
	return "unspecified"
}
