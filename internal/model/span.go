package model

import (
	"sort"
	"time"
)

// Semantic-convention keys the model itself looks at.
const (
	AttrServiceName = "service.name"
	// UnknownService is the service of a span whose resource has no
	// service.name, as the OpenTelemetry SDKs name it.
	UnknownService = "unknown_service"
)

// Resource describes the entity that produced spans. Spans of one batch share
// one *Resource; it is immutable once a span referring to it is stored.
type Resource struct {
	Attributes             Attributes
	DroppedAttributesCount uint32
	SchemaURL              string
}

// ServiceName returns the string value of service.name, or UnknownService.
func (r *Resource) ServiceName() string {
	if r != nil {
		if v, ok := r.Attributes.Get(AttrServiceName); ok && v.Type() == ValueString && v.Str() != "" {
			return v.Str()
		}
	}
	return UnknownService
}

// Scope is the instrumentation scope (library) that produced spans. Shared
// and immutable like Resource.
type Scope struct {
	Name                   string
	Version                string
	Attributes             Attributes
	DroppedAttributesCount uint32
	SchemaURL              string
}

// SpanKind is OpenTelemetry's span kind; the numbers are OTLP's.
type SpanKind int32

// The span kinds.
const (
	SpanKindUnspecified SpanKind = 0
	SpanKindInternal    SpanKind = 1
	SpanKindServer      SpanKind = 2
	SpanKindClient      SpanKind = 3
	SpanKindProducer    SpanKind = 4
	SpanKindConsumer    SpanKind = 5
)

var spanKindNames = [...]string{"", "internal", "server", "client", "producer", "consumer"}

// String returns the kind as Jaeger's span.kind tag writes it ("server",
// "client", ...), and "" for unspecified or unknown kinds.
func (k SpanKind) String() string {
	if k >= 0 && int(k) < len(spanKindNames) {
		return spanKindNames[k]
	}
	return ""
}

// ParseSpanKind parses the names String returns (case-sensitive) and
// "unspecified". It reports false for anything else.
func ParseSpanKind(s string) (SpanKind, bool) {
	for i, n := range spanKindNames {
		if n == s && i > 0 {
			return SpanKind(i), true
		}
	}
	if s == "unspecified" || s == "" {
		return SpanKindUnspecified, true
	}
	return 0, false
}

// StatusCode is OpenTelemetry's span status code; the numbers are OTLP's.
type StatusCode int32

// The status codes.
const (
	StatusUnset StatusCode = 0
	StatusOK    StatusCode = 1
	StatusError StatusCode = 2
)

// String returns "unset", "ok" or "error".
func (c StatusCode) String() string {
	switch c {
	case StatusOK:
		return "ok"
	case StatusError:
		return "error"
	}
	return "unset"
}

// Status is a span's status.
type Status struct {
	Code    StatusCode
	Message string
}

// Event is a timestamped annotation of a span (a Jaeger log).
type Event struct {
	TimeUnixNano           uint64
	Name                   string
	Attributes             Attributes
	DroppedAttributesCount uint32
}

// Link points from a span to another span, in this trace or another.
type Link struct {
	TraceID                TraceID
	SpanID                 SpanID
	TraceState             string
	Attributes             Attributes
	DroppedAttributesCount uint32
	Flags                  uint32
}

// Span is one span with pointers to its shared resource and scope.
//
// A Span handed to a store belongs to the store; a Span returned by a store is
// shared and read-only.
type Span struct {
	Resource *Resource
	Scope    *Scope

	TraceID      TraceID
	SpanID       SpanID
	ParentSpanID SpanID
	TraceState   string
	Flags        uint32

	Name              string
	Kind              SpanKind
	StartTimeUnixNano uint64
	EndTimeUnixNano   uint64

	Attributes             Attributes
	DroppedAttributesCount uint32
	Events                 []Event
	DroppedEventsCount     uint32
	Links                  []Link
	DroppedLinksCount      uint32
	Status                 Status
}

// ServiceName returns the service of the span's resource.
func (s *Span) ServiceName() string { return s.Resource.ServiceName() }

// Duration returns end minus start, or 0 when end is before start.
func (s *Span) Duration() time.Duration {
	if s.EndTimeUnixNano < s.StartTimeUnixNano {
		return 0
	}
	return time.Duration(s.EndTimeUnixNano - s.StartTimeUnixNano)
}

// StartTime returns the start as a time.Time.
func (s *Span) StartTime() time.Time { return time.Unix(0, int64(s.StartTimeUnixNano)) }

// IsRoot reports whether the span has no parent.
func (s *Span) IsRoot() bool { return s.ParentSpanID.IsZero() }

// Size returns an estimate of the memory the span holds, not counting its
// shared resource and scope.
func (s *Span) Size() int {
	n := 200 + len(s.Name) + len(s.TraceState) + len(s.Status.Message) + s.Attributes.Size()
	for i := range s.Events {
		n += 48 + len(s.Events[i].Name) + s.Events[i].Attributes.Size()
	}
	for i := range s.Links {
		n += 64 + len(s.Links[i].TraceState) + s.Links[i].Attributes.Size()
	}
	return n
}

// Trace is the spans of one trace id, ordered by start time then span id.
type Trace struct {
	TraceID TraceID
	Spans   []*Span
}

// SortSpans orders spans by start time, then span id, for a stable output.
func SortSpans(spans []*Span) {
	sort.SliceStable(spans, func(i, j int) bool {
		a, b := spans[i], spans[j]
		if a.StartTimeUnixNano != b.StartTimeUnixNano {
			return a.StartTimeUnixNano < b.StartTimeUnixNano
		}
		return string(a.SpanID[:]) < string(b.SpanID[:])
	})
}

// Start returns the earliest span start of the trace.
func (t *Trace) Start() uint64 {
	var min uint64
	for i, s := range t.Spans {
		if i == 0 || s.StartTimeUnixNano < min {
			min = s.StartTimeUnixNano
		}
	}
	return min
}

// End returns the latest span end of the trace.
func (t *Trace) End() uint64 {
	var max uint64
	for _, s := range t.Spans {
		if s.EndTimeUnixNano > max {
			max = s.EndTimeUnixNano
		}
	}
	return max
}

// Root returns the trace's root span: the earliest span without a parent, or
// failing that the earliest span whose parent is not in the trace. It returns
// nil for an empty trace.
func (t *Trace) Root() *Span {
	var orphan *Span
	var ids map[SpanID]struct{}
	for _, s := range t.Spans {
		if s.IsRoot() {
			return s
		}
	}
	for _, s := range t.Spans {
		if ids == nil {
			ids = make(map[SpanID]struct{}, len(t.Spans))
			for _, x := range t.Spans {
				ids[x.SpanID] = struct{}{}
			}
		}
		if _, ok := ids[s.ParentSpanID]; !ok {
			orphan = s
			break
		}
	}
	if orphan == nil && len(t.Spans) > 0 {
		return t.Spans[0]
	}
	return orphan
}
