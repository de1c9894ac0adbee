package spancodec

import (
	"encoding/binary"
	"math"

	"github.com/clew-dev/clew/internal/model"
)

// The encoder as it was before it wrote through reserved room (commit
// 34fd311), plain appends of FORMAT.md's fields: the reference the
// encoder must match byte for byte (TestEncoderMatchesReference,
// FuzzEncoderMatchesReference).

func refAppendBatch(dst []byte, spans []*model.Span) ([]byte, []int) {
	var res []*model.Resource
	var scopes []*model.Scope
	resI := map[*model.Resource]int{}
	scopeI := map[*model.Scope]int{}
	for _, s := range spans {
		if s.Resource != nil {
			if _, ok := resI[s.Resource]; !ok {
				resI[s.Resource] = len(res)
				res = append(res, s.Resource)
			}
		}
		if s.Scope != nil {
			if _, ok := scopeI[s.Scope]; !ok {
				scopeI[s.Scope] = len(scopes)
				scopes = append(scopes, s.Scope)
			}
		}
	}
	dst = append(dst, Version)
	dst = binary.AppendUvarint(dst, uint64(len(res)))
	for _, r := range res {
		dst = refAppendAttributes(dst, r.Attributes)
		dst = binary.AppendUvarint(dst, uint64(r.DroppedAttributesCount))
		dst = refAppendString(dst, r.SchemaURL)
	}
	dst = binary.AppendUvarint(dst, uint64(len(scopes)))
	for _, sc := range scopes {
		dst = refAppendString(dst, sc.Name)
		dst = refAppendString(dst, sc.Version)
		dst = refAppendAttributes(dst, sc.Attributes)
		dst = binary.AppendUvarint(dst, uint64(sc.DroppedAttributesCount))
		dst = refAppendString(dst, sc.SchemaURL)
	}
	dst = binary.AppendUvarint(dst, uint64(len(spans)))
	var bounds []int
	for _, s := range spans {
		ri, si := 0, 0
		if s.Resource != nil {
			ri = resI[s.Resource] + 1
		}
		if s.Scope != nil {
			si = scopeI[s.Scope] + 1
		}
		dst = binary.AppendUvarint(dst, uint64(ri))
		dst = binary.AppendUvarint(dst, uint64(si))
		start := len(dst)
		dst = refAppendSpan(dst, s)
		bounds = append(bounds, start, len(dst))
	}
	return dst, bounds
}

func refAppendSpan(dst []byte, s *model.Span) []byte {
	dst = append(dst, s.TraceID[:]...)
	dst = append(dst, s.SpanID[:]...)
	dst = append(dst, s.ParentSpanID[:]...)
	dst = refAppendString(dst, s.TraceState)
	dst = binary.AppendUvarint(dst, uint64(s.Flags))
	dst = refAppendString(dst, s.Name)
	dst = binary.AppendVarint(dst, int64(s.Kind))
	dst = binary.AppendUvarint(dst, s.StartTimeUnixNano)
	dst = binary.AppendVarint(dst, int64(s.EndTimeUnixNano-s.StartTimeUnixNano))
	dst = refAppendAttributes(dst, s.Attributes)
	dst = binary.AppendUvarint(dst, uint64(s.DroppedAttributesCount))
	dst = binary.AppendUvarint(dst, uint64(len(s.Events)))
	for _, e := range s.Events {
		dst = binary.AppendUvarint(dst, e.TimeUnixNano)
		dst = refAppendString(dst, e.Name)
		dst = refAppendAttributes(dst, e.Attributes)
		dst = binary.AppendUvarint(dst, uint64(e.DroppedAttributesCount))
	}
	dst = binary.AppendUvarint(dst, uint64(s.DroppedEventsCount))
	dst = binary.AppendUvarint(dst, uint64(len(s.Links)))
	for _, l := range s.Links {
		dst = append(dst, l.TraceID[:]...)
		dst = append(dst, l.SpanID[:]...)
		dst = refAppendString(dst, l.TraceState)
		dst = refAppendAttributes(dst, l.Attributes)
		dst = binary.AppendUvarint(dst, uint64(l.DroppedAttributesCount))
		dst = binary.AppendUvarint(dst, uint64(l.Flags))
	}
	dst = binary.AppendUvarint(dst, uint64(s.DroppedLinksCount))
	dst = binary.AppendVarint(dst, int64(s.Status.Code))
	return refAppendString(dst, s.Status.Message)
}

func refAppendAttributes(dst []byte, attrs model.Attributes) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(attrs)))
	for _, a := range attrs {
		dst = refAppendString(dst, a.Key)
		dst = refAppendValue(dst, a.Value)
	}
	return dst
}

func refAppendValue(dst []byte, v model.Value) []byte {
	dst = append(dst, byte(v.Type()))
	switch v.Type() {
	case model.ValueString, model.ValueBytes:
		dst = refAppendString(dst, v.Str())
	case model.ValueBool:
		dst = append(dst, byte(b2i(v.Bool())))
	case model.ValueInt:
		dst = binary.AppendVarint(dst, v.Int())
	case model.ValueDouble:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Double()))
	case model.ValueSlice:
		dst = binary.AppendUvarint(dst, uint64(len(v.Slice())))
		for _, e := range v.Slice() {
			dst = refAppendValue(dst, e)
		}
	case model.ValueMap:
		dst = refAppendAttributes(dst, model.Attributes(v.Map()))
	}
	return dst
}

func refAppendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
