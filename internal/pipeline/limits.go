package pipeline

import (
	"slices"
	"time"
	"unicode/utf8"

	"github.com/clew-dev/clew/internal/model"
)

// EmptySpanName is the name given to a span sent with an empty name, as
// Jaeger (since v2.16) does, so every API and the UI have something to show
// and select.
const EmptySpanName = "empty-span-name"

// Limits are the validation rules every span passes through. They are
// documented in docs/configuration.md; zero values take the defaults.
type Limits struct {
	// MaxNameBytes caps span, event and attribute-key names (default 1024);
	// longer ones are cut at a UTF-8 boundary.
	MaxNameBytes int
	// MaxAttributeValueBytes caps string and bytes attribute values
	// (default 65536); longer ones are cut.
	MaxAttributeValueBytes int
	// MaxAttributes, MaxEvents and MaxLinks cap the lists of one span
	// (default 1024 each); the excess is dropped and added to the span's
	// dropped counts.
	MaxAttributes int
	MaxEvents     int
	MaxLinks      int
	// MaxFutureSkew is how far in the future a span may start (default 24h).
	MaxFutureSkew time.Duration
}

// MinStartTime is the earliest start time accepted: spans from before 2000
// are taken as broken clocks or unset fields.
var MinStartTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Reasons a span is rejected or adjusted, as counted in /metrics.
const (
	ReasonInvalidTraceID    = "invalid_trace_id"
	ReasonInvalidSpanID     = "invalid_span_id"
	ReasonTimestampRange    = "timestamp_out_of_range"
	AdjustEndBeforeStart    = "end_before_start"
	AdjustEmptyName         = "empty_name"
	AdjustNameTruncated     = "name_truncated"
	AdjustValueTruncated    = "attribute_value_truncated"
	AdjustAttributesDropped = "attributes_dropped"
	AdjustEventsDropped     = "events_dropped"
	AdjustLinksDropped      = "links_dropped"
)

func (l Limits) withDefaults() Limits {
	if l.MaxNameBytes <= 0 {
		l.MaxNameBytes = 1024
	}
	if l.MaxAttributeValueBytes <= 0 {
		l.MaxAttributeValueBytes = 64 << 10
	}
	if l.MaxAttributes <= 0 {
		l.MaxAttributes = 1024
	}
	if l.MaxEvents <= 0 {
		l.MaxEvents = 1024
	}
	if l.MaxLinks <= 0 {
		l.MaxLinks = 1024
	}
	if l.MaxFutureSkew <= 0 {
		l.MaxFutureSkew = 24 * time.Hour
	}
	return l
}

// Bounds describe a batch of spans as the decoder that made them measured
// it while decoding, so that the pipeline need not go over every span and
// attribute again to find that nothing exceeds its limits. Each maximum may
// overstate (a decoder may count strings the limits do not look at, such as
// nested values or a scope's attributes) but never understate what the
// spans hold; the zero value shows nothing (its MinStartTimeUnixNano is
// before MinStartTime), so a batch with it is checked span by span.
type Bounds struct {
	// MaxNameBytes is the longest span name, event name or attribute key
	// (of the spans, their events and links, and their resources).
	MaxNameBytes int
	// MaxValueBytes is the longest string or bytes attribute value (of the
	// spans, their events and links, and their resources).
	MaxValueBytes int
	// MaxAttributes, MaxEvents and MaxLinks are the longest lists of one
	// span.
	MaxAttributes int
	MaxEvents     int
	MaxLinks      int
	// MinStartTimeUnixNano and MaxStartTimeUnixNano are the earliest and
	// latest span start.
	MinStartTimeUnixNano uint64
	MaxStartTimeUnixNano uint64
	// Irregular is set when some span has a zero trace or span id, an
	// empty name, or an end before its start.
	Irregular bool
}

// within reports whether every span of a batch with bounds b passes l
// unchanged at time now: apply would neither reject nor adjust any of them.
func (l Limits) within(b *Bounds, now time.Time) bool {
	return !b.Irregular &&
		b.MinStartTimeUnixNano >= uint64(MinStartTime.UnixNano()) &&
		b.MaxStartTimeUnixNano <= uint64(now.Add(l.MaxFutureSkew).UnixNano()) &&
		b.MaxNameBytes <= l.MaxNameBytes &&
		b.MaxValueBytes <= l.MaxAttributeValueBytes &&
		b.MaxAttributes <= l.MaxAttributes &&
		b.MaxEvents <= l.MaxEvents &&
		b.MaxLinks <= l.MaxLinks
}

// apply checks and corrects sp in place. It returns the reason for
// rejecting the span ("" to keep it) and the adjustments made.
func (l Limits) apply(sp *model.Span, now time.Time) (reject string, adjusted []string) {
	switch {
	case sp.TraceID.IsZero():
		return ReasonInvalidTraceID, nil
	case sp.SpanID.IsZero():
		return ReasonInvalidSpanID, nil
	case sp.StartTimeUnixNano < uint64(MinStartTime.UnixNano()),
		sp.StartTimeUnixNano > uint64(now.Add(l.MaxFutureSkew).UnixNano()):
		return ReasonTimestampRange, nil
	}
	note := func(reason string) {
		for _, a := range adjusted {
			if a == reason {
				return
			}
		}
		adjusted = append(adjusted, reason)
	}
	if sp.EndTimeUnixNano < sp.StartTimeUnixNano {
		sp.EndTimeUnixNano = sp.StartTimeUnixNano
		note(AdjustEndBeforeStart)
	}
	if sp.Name == "" {
		sp.Name = EmptySpanName
		note(AdjustEmptyName)
	} else if len(sp.Name) > l.MaxNameBytes {
		sp.Name = truncateUTF8(sp.Name, l.MaxNameBytes)
		note(AdjustNameTruncated)
	}
	if len(sp.Attributes) > l.MaxAttributes {
		sp.DroppedAttributesCount += uint32(len(sp.Attributes) - l.MaxAttributes)
		sp.Attributes = sp.Attributes[:l.MaxAttributes]
		note(AdjustAttributesDropped)
	}
	if len(sp.Events) > l.MaxEvents {
		sp.DroppedEventsCount += uint32(len(sp.Events) - l.MaxEvents)
		sp.Events = sp.Events[:l.MaxEvents]
		note(AdjustEventsDropped)
	}
	if len(sp.Links) > l.MaxLinks {
		sp.DroppedLinksCount += uint32(len(sp.Links) - l.MaxLinks)
		sp.Links = sp.Links[:l.MaxLinks]
		note(AdjustLinksDropped)
	}
	if l.clampAttrs(sp.Attributes) {
		note(AdjustValueTruncated)
	}
	for i := range sp.Events {
		ev := &sp.Events[i]
		if len(ev.Name) > l.MaxNameBytes {
			ev.Name = truncateUTF8(ev.Name, l.MaxNameBytes)
			note(AdjustNameTruncated)
		}
		if l.clampAttrs(ev.Attributes) {
			note(AdjustValueTruncated)
		}
	}
	for i := range sp.Links {
		if l.clampAttrs(sp.Links[i].Attributes) {
			note(AdjustValueTruncated)
		}
	}
	if sp.Resource != nil && l.needsClamp(sp.Resource.Attributes) {
		// Resources are shared: between the spans of a request, across
		// requests (the X-Ray receiver remembers a segment's resource for
		// its subsegments), and with the store, which may keep them. So the
		// span gets a clamped copy instead of a change in place, which
		// would race with other requests and alter what was stored.
		r := *sp.Resource
		r.Attributes = slices.Clone(r.Attributes)
		l.clampAttrs(r.Attributes)
		sp.Resource = &r
		note(AdjustValueTruncated)
	}
	return "", adjusted
}

// needsClamp reports whether clampAttrs would change attrs.
func (l Limits) needsClamp(attrs model.Attributes) bool {
	for i := range attrs {
		if len(attrs[i].Key) > l.MaxNameBytes || l.valueTooLong(attrs[i].Value) {
			return true
		}
	}
	return false
}

// valueTooLong reports whether v is a string or bytes value over
// MaxAttributeValueBytes.
func (l Limits) valueTooLong(v model.Value) bool {
	t := v.Type()
	return (t == model.ValueString || t == model.ValueBytes) && len(v.Str()) > l.MaxAttributeValueBytes
}

// clampAttrs cuts over-long keys and string or bytes values in place and
// reports whether it changed anything.
func (l Limits) clampAttrs(attrs model.Attributes) bool {
	changed := false
	for i := range attrs {
		kv := &attrs[i]
		if len(kv.Key) > l.MaxNameBytes {
			kv.Key = truncateUTF8(kv.Key, l.MaxNameBytes)
			changed = true
		}
		if !l.valueTooLong(kv.Value) {
			continue
		}
		if s := kv.Value.Str(); kv.Value.Type() == model.ValueString {
			kv.Value = model.StringValue(truncateUTF8(s, l.MaxAttributeValueBytes))
		} else {
			kv.Value = model.BytesValue([]byte(s[:l.MaxAttributeValueBytes]))
		}
		changed = true
	}
	return changed
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
