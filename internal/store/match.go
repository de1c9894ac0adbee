package store

import (
	"cmp"
	"slices"

	"github.com/clew-dev/clew/internal/model"
)

// MatchSpan reports whether span satisfies every condition of q (see
// TraceQuery). Engines without an index of their own use it to filter.
func MatchSpan(span *model.Span, q *TraceQuery) bool {
	if q.Service != "" && span.ServiceName() != q.Service {
		return false
	}
	if q.Operation != "" && span.Name != q.Operation {
		return false
	}
	if !q.StartMin.IsZero() && span.StartTimeUnixNano < uint64(q.StartMin.UnixNano()) {
		return false
	}
	if !q.StartMax.IsZero() && span.StartTimeUnixNano > uint64(q.StartMax.UnixNano()) {
		return false
	}
	d := span.Duration()
	if q.DurationMin > 0 && d < q.DurationMin {
		return false
	}
	if q.DurationMax > 0 && d > q.DurationMax {
		return false
	}
	for k, v := range q.Tags {
		if !SpanHasTag(span, k, v) {
			return false
		}
	}
	return true
}

// SpanHasTag reports whether span carries tag key with the text value, the
// way Jaeger's search matches tags: the value is compared with the
// attribute's text form (so "123" matches the int 123 and "true" the bool
// true), and the attribute may sit on the span, its resource, its scope, one
// of its events or one of its links. The tags Jaeger derives from span fields
// match too: span.kind, error ("true" for an error status),
// otel.status_code, otel.status_description, otel.scope.name and
// otel.scope.version.
func SpanHasTag(span *model.Span, key, value string) bool {
	if attrHas(span.Attributes, key, value) {
		return true
	}
	if span.Resource != nil && attrHas(span.Resource.Attributes, key, value) {
		return true
	}
	if span.Scope != nil && attrHas(span.Scope.Attributes, key, value) {
		return true
	}
	for i := range span.Events {
		if attrHas(span.Events[i].Attributes, key, value) {
			return true
		}
	}
	for i := range span.Links {
		if attrHas(span.Links[i].Attributes, key, value) {
			return true
		}
	}
	switch key {
	case "span.kind":
		return span.Kind != model.SpanKindUnspecified && span.Kind.String() == value
	case "error":
		return span.Status.Code == model.StatusError && value == "true"
	case "otel.status_code":
		return (span.Status.Code == model.StatusError && value == "ERROR") ||
			(span.Status.Code == model.StatusOK && value == "OK")
	case "otel.status_description":
		return span.Status.Code == model.StatusError && span.Status.Message == value
	case "otel.scope.name":
		return span.Scope != nil && span.Scope.Name != "" && span.Scope.Name == value
	case "otel.scope.version":
		return span.Scope != nil && span.Scope.Version != "" && span.Scope.Version == value
	}
	return false
}

// SpanMayHaveTag is SpanHasTag, true also when an array attribute key has
// an element whose text form is value: the test ScanRequest.Tags hints
// are held to, so that a query matching array elements is not pruned.
func SpanMayHaveTag(span *model.Span, key, value string) bool {
	if SpanHasTag(span, key, value) {
		return true
	}
	elemHas := func(attrs model.Attributes) bool {
		for i := range attrs {
			if attrs[i].Key == key && attrs[i].Value.Type() == model.ValueSlice {
				for _, e := range attrs[i].Value.Slice() {
					if e.AsString() == value {
						return true
					}
				}
			}
		}
		return false
	}
	if elemHas(span.Attributes) || (span.Resource != nil && elemHas(span.Resource.Attributes)) ||
		(span.Scope != nil && elemHas(span.Scope.Attributes)) {
		return true
	}
	for i := range span.Events {
		if elemHas(span.Events[i].Attributes) {
			return true
		}
	}
	for i := range span.Links {
		if elemHas(span.Links[i].Attributes) {
			return true
		}
	}
	return false
}

func attrHas(attrs model.Attributes, key, value string) bool {
	for i := range attrs {
		if attrs[i].Key == key && attrs[i].Value.AsString() == value {
			return true
		}
	}
	return false
}

// Dependencies counts parent/child calls across services in traces. A pair
// counts when a span's parent is in the same trace and belongs to another
// service.
func Dependencies(traces []*model.Trace) []DependencyLink {
	type pair struct{ parent, child string }
	counts := map[pair]uint64{}
	for _, t := range traces {
		byID := make(map[model.SpanID]*model.Span, len(t.Spans))
		for _, s := range t.Spans {
			byID[s.SpanID] = s
		}
		for _, s := range t.Spans {
			if s.IsRoot() {
				continue
			}
			p, ok := byID[s.ParentSpanID]
			if !ok {
				continue
			}
			ps, cs := p.ServiceName(), s.ServiceName()
			if ps != cs {
				counts[pair{ps, cs}]++
			}
		}
	}
	links := make([]DependencyLink, 0, len(counts))
	for p, n := range counts {
		links = append(links, DependencyLink{Parent: p.parent, Child: p.child, CallCount: n})
	}
	SortDependencies(links)
	return links
}

// SortDependencies orders links by parent then child.
func SortDependencies(links []DependencyLink) {
	slices.SortFunc(links, func(a, b DependencyLink) int {
		if c := cmp.Compare(a.Parent, b.Parent); c != 0 {
			return c
		}
		return cmp.Compare(a.Child, b.Child)
	})
}
