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
	"slices"

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
	// Number the distinct resources and scopes in order of first use.
	// Spans come grouped by resource and scope, so a check against the
	// previous span's answers almost every lookup; the maps are made only
	// for the rare batch with many of them.
	var res ptrIndex[model.Resource]
	var scopes ptrIndex[model.Scope]
	for _, s := range spans {
		if s.Resource != nil && s.Resource != res.last {
			res.index(s.Resource)
		}
		if s.Scope != nil && s.Scope != scopes.last {
			scopes.index(s.Scope)
		}
	}
	dst = append(dst, Version)
	dst = appendUvarint(dst, uint64(len(res.items)))
	for _, r := range res.items {
		dst = AppendAttributes(dst, r.Attributes)
		dst = appendUvarint(dst, uint64(r.DroppedAttributesCount))
		dst = appendString(dst, r.SchemaURL)
	}
	dst = appendUvarint(dst, uint64(len(scopes.items)))
	for _, sc := range scopes.items {
		dst = appendString(dst, sc.Name)
		dst = appendString(dst, sc.Version)
		dst = AppendAttributes(dst, sc.Attributes)
		dst = appendUvarint(dst, uint64(sc.DroppedAttributesCount))
		dst = appendString(dst, sc.SchemaURL)
	}
	dst = appendUvarint(dst, uint64(len(spans)))
	res.last, scopes.last = nil, nil
	var bs []int // this batch's bounds
	if bounds != nil {
		n := len(*bounds)
		*bounds = slices.Grow(*bounds, 2*len(spans))[:n+2*len(spans)]
		bs = (*bounds)[n:]
	}
	for k, s := range spans {
		ri, si := 0, 0
		if s.Resource != nil {
			ri = res.index(s.Resource) + 1
		}
		if s.Scope != nil {
			si = scopes.index(s.Scope) + 1
		}
		dst = reserve(dst, 2*maxVarint)
		p := base(dst)
		start := putUvarint(p, putUvarint(p, len(dst), uint64(ri)), uint64(si))
		dst = AppendSpan(dst[:start], s)
		if bs != nil {
			bs[2*k], bs[2*k+1] = start, len(dst)
		}
	}
	return dst
}

// ptrIndex numbers the distinct resources (or scopes) of a batch in order
// of first use. A lookup of the previous one is answered without a search;
// the others search the few seen so far, or a map once there are many.
type ptrIndex[T any] struct {
	items []*T
	last  *T
	lastI int
	m     map[*T]int
}

// batchIndexLinear is the number of resources (or scopes) searched
// linearly before a map is built.
const batchIndexLinear = 8

// index returns p's number, numbering it if it is new.
func (x *ptrIndex[T]) index(p *T) int {
	if p == x.last {
		return x.lastI
	}
	i, ok := -1, false
	if x.m != nil {
		i, ok = x.m[p]
	} else {
		for j, c := range x.items {
			if c == p {
				i, ok = j, true
				break
			}
		}
	}
	if !ok {
		i = len(x.items)
		x.items = append(x.items, p)
		switch {
		case x.m != nil:
			x.m[p] = i
		case len(x.items) > batchIndexLinear:
			x.m = make(map[*T]int, 2*len(x.items))
			for j, c := range x.items {
				x.m[c] = j
			}
		}
	}
	x.last, x.lastI = p, i
	return i
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
		dst = appendUvarint(dst, uint64(len(s)))
		for _, e := range s {
			dst = AppendValue(dst, e)
		}
	case model.ValueMap:
		dst = AppendAttributes(dst, model.Attributes(v.Map()))
	}
	return dst
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendUvarint is binary.AppendUvarint with the one-byte case (most
// counts, lengths and flags) inline.
func appendUvarint(dst []byte, v uint64) []byte {
	if v < 0x80 {
		return append(dst, byte(v))
	}
	return binary.AppendUvarint(dst, v)
}

func appendString(dst []byte, s string) []byte {
	if len(s) < 0x80 {
		dst = append(dst, byte(len(s)))
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
	}
	return append(dst, s...)
}
