// Package spancodec is a compact binary encoding of span batches, used for
// WAL records, and of single attribute values, used for the composite
// values of block files. Resources and scopes shared by spans of a batch
// are written once. The byte layout is in FORMAT.md beside this file.
//
// Encoders append to a caller's buffer; decoders copy every string out of
// the input, so the input may be reused after they return.
package spancodec

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/clew-dev/clew/internal/model"
)

// Version is the batch format version, the first byte of every batch.
const Version = 1

// MaxDepth bounds the nesting of array and map values when decoding.
const MaxDepth = 32

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("corrupt span batch")

// AppendBatch appends the encoding of spans to dst.
func AppendBatch(dst []byte, spans []*model.Span) []byte {
	return appendBatch(dst, spans, nil)
}

// AppendBatchBounds is AppendBatch that also appends to bounds, for each
// span, the offsets in dst where its AppendSpan encoding starts and ends:
// dst[bounds[2i]:bounds[2i+1]] decodes with DecodeSpan.
func AppendBatchBounds(dst []byte, spans []*model.Span, bounds []int) ([]byte, []int) {
	dst = appendBatch(dst, spans, &bounds)
	return dst, bounds
}

func appendBatch(dst []byte, spans []*model.Span, bounds *[]int) []byte {
	resIdx := map[*model.Resource]int{}
	scopeIdx := map[*model.Scope]int{}
	var resources []*model.Resource
	var scopes []*model.Scope
	for _, s := range spans {
		if s.Resource != nil {
			if _, ok := resIdx[s.Resource]; !ok {
				resIdx[s.Resource] = len(resources)
				resources = append(resources, s.Resource)
			}
		}
		if s.Scope != nil {
			if _, ok := scopeIdx[s.Scope]; !ok {
				scopeIdx[s.Scope] = len(scopes)
				scopes = append(scopes, s.Scope)
			}
		}
	}
	dst = append(dst, Version)
	dst = binary.AppendUvarint(dst, uint64(len(resources)))
	for _, r := range resources {
		dst = AppendAttributes(dst, r.Attributes)
		dst = binary.AppendUvarint(dst, uint64(r.DroppedAttributesCount))
		dst = appendString(dst, r.SchemaURL)
	}
	dst = binary.AppendUvarint(dst, uint64(len(scopes)))
	for _, sc := range scopes {
		dst = appendString(dst, sc.Name)
		dst = appendString(dst, sc.Version)
		dst = AppendAttributes(dst, sc.Attributes)
		dst = binary.AppendUvarint(dst, uint64(sc.DroppedAttributesCount))
		dst = appendString(dst, sc.SchemaURL)
	}
	dst = binary.AppendUvarint(dst, uint64(len(spans)))
	for _, s := range spans {
		ri, si := 0, 0
		if s.Resource != nil {
			ri = resIdx[s.Resource] + 1
		}
		if s.Scope != nil {
			si = scopeIdx[s.Scope] + 1
		}
		dst = binary.AppendUvarint(dst, uint64(ri))
		dst = binary.AppendUvarint(dst, uint64(si))
		start := len(dst)
		dst = AppendSpan(dst, s)
		if bounds != nil {
			*bounds = append(*bounds, start, len(dst))
		}
	}
	return dst
}

// AppendSpan appends a span's own fields (not its resource and scope).
func AppendSpan(dst []byte, s *model.Span) []byte {
	dst = append(dst, s.TraceID[:]...)
	dst = append(dst, s.SpanID[:]...)
	dst = append(dst, s.ParentSpanID[:]...)
	dst = appendString(dst, s.TraceState)
	dst = binary.AppendUvarint(dst, uint64(s.Flags))
	dst = appendString(dst, s.Name)
	dst = binary.AppendVarint(dst, int64(s.Kind))
	dst = binary.AppendUvarint(dst, s.StartTimeUnixNano)
	dst = binary.AppendVarint(dst, int64(s.EndTimeUnixNano-s.StartTimeUnixNano))
	dst = AppendAttributes(dst, s.Attributes)
	dst = binary.AppendUvarint(dst, uint64(s.DroppedAttributesCount))
	dst = binary.AppendUvarint(dst, uint64(len(s.Events)))
	for i := range s.Events {
		e := &s.Events[i]
		dst = binary.AppendUvarint(dst, e.TimeUnixNano)
		dst = appendString(dst, e.Name)
		dst = AppendAttributes(dst, e.Attributes)
		dst = binary.AppendUvarint(dst, uint64(e.DroppedAttributesCount))
	}
	dst = binary.AppendUvarint(dst, uint64(s.DroppedEventsCount))
	dst = binary.AppendUvarint(dst, uint64(len(s.Links)))
	for i := range s.Links {
		l := &s.Links[i]
		dst = append(dst, l.TraceID[:]...)
		dst = append(dst, l.SpanID[:]...)
		dst = appendString(dst, l.TraceState)
		dst = AppendAttributes(dst, l.Attributes)
		dst = binary.AppendUvarint(dst, uint64(l.DroppedAttributesCount))
		dst = binary.AppendUvarint(dst, uint64(l.Flags))
	}
	dst = binary.AppendUvarint(dst, uint64(s.DroppedLinksCount))
	dst = binary.AppendVarint(dst, int64(s.Status.Code))
	dst = appendString(dst, s.Status.Message)
	return dst
}

// AppendAttributes appends a count and the attributes.
func AppendAttributes(dst []byte, attrs model.Attributes) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(attrs)))
	for i := range attrs {
		dst = appendString(dst, attrs[i].Key)
		dst = AppendValue(dst, attrs[i].Value)
	}
	return dst
}

// AppendValue appends a typed value.
func AppendValue(dst []byte, v model.Value) []byte {
	dst = append(dst, byte(v.Type()))
	switch v.Type() {
	case model.ValueString, model.ValueBytes:
		dst = appendString(dst, v.Str())
	case model.ValueBool:
		if v.Bool() {
			dst = append(dst, 1)
		} else {
			dst = append(dst, 0)
		}
	case model.ValueInt:
		dst = binary.AppendVarint(dst, v.Int())
	case model.ValueDouble:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.Double()))
	case model.ValueSlice:
		s := v.Slice()
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		for _, e := range s {
			dst = AppendValue(dst, e)
		}
	case model.ValueMap:
		dst = AppendAttributes(dst, model.Attributes(v.Map()))
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}
