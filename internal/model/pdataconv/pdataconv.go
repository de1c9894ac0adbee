// Package pdataconv converts between the OpenTelemetry Collector's pdata
// traces (what OTLP decoders and the Collector's protocol translators
// produce) and Clew's model.
package pdataconv

import (
	"github.com/clew-dev/clew/internal/model"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ToModel converts td into spans. Spans of one resource share one
// *model.Resource, spans of one scope one *model.Scope. td is not kept.
func ToModel(td ptrace.Traces) []*model.Span {
	out := make([]*model.Span, 0, td.SpanCount())
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := &model.Resource{
			Attributes:             attrsToModel(rs.Resource().Attributes()),
			DroppedAttributesCount: rs.Resource().DroppedAttributesCount(),
			SchemaURL:              rs.SchemaUrl(),
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			ss := sss.At(j)
			sc := ss.Scope()
			scope := &model.Scope{
				Name:                   sc.Name(),
				Version:                sc.Version(),
				Attributes:             attrsToModel(sc.Attributes()),
				DroppedAttributesCount: sc.DroppedAttributesCount(),
				SchemaURL:              ss.SchemaUrl(),
			}
			spans := ss.Spans()
			block := make([]model.Span, spans.Len()) // one allocation per scope
			for k := 0; k < spans.Len(); k++ {
				s := spans.At(k)
				m := &block[k]
				*m = model.Span{
					Resource:               res,
					Scope:                  scope,
					TraceID:                model.TraceID(s.TraceID()),
					SpanID:                 model.SpanID(s.SpanID()),
					ParentSpanID:           model.SpanID(s.ParentSpanID()),
					TraceState:             s.TraceState().AsRaw(),
					Flags:                  s.Flags(),
					Name:                   s.Name(),
					Kind:                   model.SpanKind(s.Kind()),
					StartTimeUnixNano:      uint64(s.StartTimestamp()),
					EndTimeUnixNano:        uint64(s.EndTimestamp()),
					Attributes:             attrsToModel(s.Attributes()),
					DroppedAttributesCount: s.DroppedAttributesCount(),
					DroppedEventsCount:     s.DroppedEventsCount(),
					DroppedLinksCount:      s.DroppedLinksCount(),
					Status:                 model.Status{Code: model.StatusCode(s.Status().Code()), Message: s.Status().Message()},
				}
				if evs := s.Events(); evs.Len() > 0 {
					m.Events = make([]model.Event, evs.Len())
					for e := 0; e < evs.Len(); e++ {
						ev := evs.At(e)
						m.Events[e] = model.Event{
							TimeUnixNano:           uint64(ev.Timestamp()),
							Name:                   ev.Name(),
							Attributes:             attrsToModel(ev.Attributes()),
							DroppedAttributesCount: ev.DroppedAttributesCount(),
						}
					}
				}
				if ls := s.Links(); ls.Len() > 0 {
					m.Links = make([]model.Link, ls.Len())
					for l := 0; l < ls.Len(); l++ {
						ln := ls.At(l)
						m.Links[l] = model.Link{
							TraceID:                model.TraceID(ln.TraceID()),
							SpanID:                 model.SpanID(ln.SpanID()),
							TraceState:             ln.TraceState().AsRaw(),
							Attributes:             attrsToModel(ln.Attributes()),
							DroppedAttributesCount: ln.DroppedAttributesCount(),
							Flags:                  ln.Flags(),
						}
					}
				}
				out = append(out, m)
			}
		}
	}
	return out
}

func attrsToModel(m pcommon.Map) model.Attributes {
	if m.Len() == 0 {
		return nil
	}
	out := make(model.Attributes, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		out = append(out, model.KeyValue{Key: k, Value: valueToModel(v)})
		return true
	})
	return out
}

func valueToModel(v pcommon.Value) model.Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return model.StringValue(v.Str())
	case pcommon.ValueTypeBool:
		return model.BoolValue(v.Bool())
	case pcommon.ValueTypeInt:
		return model.IntValue(v.Int())
	case pcommon.ValueTypeDouble:
		return model.DoubleValue(v.Double())
	case pcommon.ValueTypeBytes:
		return model.BytesValue(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		vs := make([]model.Value, s.Len())
		for i := range vs {
			vs[i] = valueToModel(s.At(i))
		}
		return model.SliceValue(vs)
	case pcommon.ValueTypeMap:
		return model.MapValue(attrsToModel(v.Map()))
	}
	return model.Value{}
}

// FromModel converts spans into pdata traces, grouping spans by their
// *Resource and *Scope pointers in order of first appearance.
func FromModel(spans []*model.Span) ptrace.Traces {
	td := ptrace.NewTraces()
	type scopeKey struct {
		r *model.Resource
		s *model.Scope
	}
	resIdx := map[*model.Resource]ptrace.ResourceSpans{}
	scopeIdx := map[scopeKey]ptrace.ScopeSpans{}
	for _, sp := range spans {
		rs, ok := resIdx[sp.Resource]
		if !ok {
			rs = td.ResourceSpans().AppendEmpty()
			if sp.Resource != nil {
				attrsFromModel(rs.Resource().Attributes(), sp.Resource.Attributes)
				rs.Resource().SetDroppedAttributesCount(sp.Resource.DroppedAttributesCount)
				rs.SetSchemaUrl(sp.Resource.SchemaURL)
			}
			resIdx[sp.Resource] = rs
		}
		k := scopeKey{sp.Resource, sp.Scope}
		ss, ok := scopeIdx[k]
		if !ok {
			ss = rs.ScopeSpans().AppendEmpty()
			if sp.Scope != nil {
				ss.Scope().SetName(sp.Scope.Name)
				ss.Scope().SetVersion(sp.Scope.Version)
				attrsFromModel(ss.Scope().Attributes(), sp.Scope.Attributes)
				ss.Scope().SetDroppedAttributesCount(sp.Scope.DroppedAttributesCount)
				ss.SetSchemaUrl(sp.Scope.SchemaURL)
			}
			scopeIdx[k] = ss
		}
		SpanFromModel(ss.Spans().AppendEmpty(), sp)
	}
	return td
}

// SpanFromModel fills dst with sp's fields.
func SpanFromModel(dst ptrace.Span, sp *model.Span) {
	dst.SetTraceID(pcommon.TraceID(sp.TraceID))
	dst.SetSpanID(pcommon.SpanID(sp.SpanID))
	dst.SetParentSpanID(pcommon.SpanID(sp.ParentSpanID))
	dst.TraceState().FromRaw(sp.TraceState)
	dst.SetFlags(sp.Flags)
	dst.SetName(sp.Name)
	dst.SetKind(ptrace.SpanKind(sp.Kind))
	dst.SetStartTimestamp(pcommon.Timestamp(sp.StartTimeUnixNano))
	dst.SetEndTimestamp(pcommon.Timestamp(sp.EndTimeUnixNano))
	attrsFromModel(dst.Attributes(), sp.Attributes)
	dst.SetDroppedAttributesCount(sp.DroppedAttributesCount)
	dst.SetDroppedEventsCount(sp.DroppedEventsCount)
	dst.SetDroppedLinksCount(sp.DroppedLinksCount)
	dst.Status().SetCode(ptrace.StatusCode(sp.Status.Code))
	dst.Status().SetMessage(sp.Status.Message)
	for i := range sp.Events {
		ev := &sp.Events[i]
		e := dst.Events().AppendEmpty()
		e.SetTimestamp(pcommon.Timestamp(ev.TimeUnixNano))
		e.SetName(ev.Name)
		attrsFromModel(e.Attributes(), ev.Attributes)
		e.SetDroppedAttributesCount(ev.DroppedAttributesCount)
	}
	for i := range sp.Links {
		ln := &sp.Links[i]
		l := dst.Links().AppendEmpty()
		l.SetTraceID(pcommon.TraceID(ln.TraceID))
		l.SetSpanID(pcommon.SpanID(ln.SpanID))
		l.TraceState().FromRaw(ln.TraceState)
		attrsFromModel(l.Attributes(), ln.Attributes)
		l.SetDroppedAttributesCount(ln.DroppedAttributesCount)
		l.SetFlags(ln.Flags)
	}
}

func attrsFromModel(dst pcommon.Map, attrs model.Attributes) {
	if len(attrs) == 0 {
		return
	}
	dst.EnsureCapacity(len(attrs))
	for _, kv := range attrs {
		valueFromModel(dst.PutEmpty(kv.Key), kv.Value)
	}
}

func valueFromModel(dst pcommon.Value, v model.Value) {
	switch v.Type() {
	case model.ValueString:
		dst.SetStr(v.Str())
	case model.ValueBool:
		dst.SetBool(v.Bool())
	case model.ValueInt:
		dst.SetInt(v.Int())
	case model.ValueDouble:
		dst.SetDouble(v.Double())
	case model.ValueBytes:
		dst.SetEmptyBytes().FromRaw(v.Bytes())
	case model.ValueSlice:
		s := dst.SetEmptySlice()
		for _, e := range v.Slice() {
			valueFromModel(s.AppendEmpty(), e)
		}
	case model.ValueMap:
		attrsFromModel(dst.SetEmptyMap(), v.Map())
	}
}
