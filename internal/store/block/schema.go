// Package block is Clew's block format: an immutable Apache Parquet file of
// spans (one row per span, sorted by trace id then start time, zstd) with a
// trace-id index, a bloom filter and a JSON meta file beside it, stored
// through a narrow Backend. FORMAT.md beside this file is the format's
// specification; FormatVersion is its version.
package block

import (
	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/spancodec"
)

// FormatVersion is the version of the block format this package writes. A
// reader refuses blocks of other versions.
const FormatVersion = 1

// Row is one span as a Parquet row. Field order is the column order.
type Row struct {
	TraceID       [16]byte `parquet:"trace_id"`
	SpanID        [8]byte  `parquet:"span_id"`
	ParentSpanID  [8]byte  `parquet:"parent_span_id"`
	StartUnixNano int64    `parquet:"start_unix_nano,delta"`
	DurationNano  int64    `parquet:"duration_nano,delta"`
	ServiceName   string   `parquet:"service_name,dict"`
	Name          string   `parquet:"name,dict"`
	Kind          int32    `parquet:"kind"`
	StatusCode    int32    `parquet:"status_code"`
	StatusMessage string   `parquet:"status_message,optional,dict"`
	TraceState    string   `parquet:"trace_state,optional"`
	Flags         uint32   `parquet:"flags"`

	// Dedicated columns for common attributes; null when the span does not
	// carry them (with that type).
	HTTPMethod     string `parquet:"http_method,optional,dict"`
	HTTPStatusCode int64  `parquet:"http_status_code,optional"`
	HTTPRoute      string `parquet:"http_route,optional,dict"`
	DBSystem       string `parquet:"db_system,optional,dict"`
	DBName         string `parquet:"db_name,optional,dict"`
	RPCService     string `parquet:"rpc_service,optional,dict"`
	RPCMethod      string `parquet:"rpc_method,optional,dict"`
	// Dedicated records which dedicated columns hold an attribute, one bit
	// per column in the order above, with the attribute key used (bit 16+:
	// the older semantic-convention key).
	Dedicated uint32 `parquet:"dedicated"`

	Attrs              []Attr `parquet:"attrs,list"`
	DroppedAttrs       uint32 `parquet:"dropped_attributes_count"`
	Events             []Event `parquet:"events,list"`
	DroppedEvents      uint32  `parquet:"dropped_events_count"`
	Links              []Link  `parquet:"links,list"`
	DroppedLinks       uint32  `parquet:"dropped_links_count"`
	ResourceAttrs      []Attr  `parquet:"resource_attrs,list"`
	ResourceDropped    uint32  `parquet:"resource_dropped_attributes_count"`
	ResourceSchemaURL  string  `parquet:"resource_schema_url,optional,dict"`
	ScopeName          string  `parquet:"scope_name,optional,dict"`
	ScopeVersion       string  `parquet:"scope_version,optional,dict"`
	ScopeAttrs         []Attr  `parquet:"scope_attrs,list"`
	ScopeDropped       uint32  `parquet:"scope_dropped_attributes_count"`
	ScopeSchemaURL     string  `parquet:"scope_schema_url,optional,dict"`
}

// Attr is one attribute. Type is the model.ValueType; exactly the column of
// that type is set: Str for strings, Int for ints and bools (0/1), Double
// for doubles, Bytes for bytes, and Bytes holding a spancodec value for
// arrays and maps.
type Attr struct {
	Key    string  `parquet:"key,dict"`
	Type   int32   `parquet:"type"`
	Str    string  `parquet:"str,optional,dict"`
	Int    int64   `parquet:"int,optional"`
	Double float64 `parquet:"double,optional"`
	Bytes  []byte  `parquet:"bytes,optional"`
}

// Event is a span event; TimeOffsetNano is relative to the span start.
type Event struct {
	TimeOffsetNano int64  `parquet:"time_offset_nano"`
	Name           string `parquet:"name,dict"`
	Attrs          []Attr `parquet:"attrs,list"`
	Dropped        uint32 `parquet:"dropped_attributes_count"`
}

// Link is a span link.
type Link struct {
	TraceID    [16]byte `parquet:"trace_id"`
	SpanID     [8]byte  `parquet:"span_id"`
	TraceState string   `parquet:"trace_state,optional"`
	Attrs      []Attr   `parquet:"attrs,list"`
	Dropped    uint32   `parquet:"dropped_attributes_count"`
	Flags      uint32   `parquet:"flags"`
}

// dedicatedKey maps an attribute key to its dedicated column (bit index)
// and whether the column holds an int.
type dedicatedKey struct {
	bit   uint
	isInt bool
}

// The keys held in dedicated columns. Current semantic-convention names use
// bits 0-6; older names of the same thing use bit+16.
var dedicatedKeys = map[string]dedicatedKey{
	"http.request.method":       {0, false},
	"http.method":               {16, false},
	"http.response.status_code": {1, true},
	"http.status_code":          {17, true},
	"http.route":                {2, false},
	"db.system.name":            {3, false},
	"db.system":                 {19, false},
	"db.namespace":              {4, false},
	"db.name":                   {20, false},
	"rpc.service":               {5, false},
	"rpc.method":                {6, false},
}

var dedicatedNames = func() [32]string {
	var out [32]string
	for k, d := range dedicatedKeys {
		out[d.bit] = k
	}
	return out
}()

func (r *Row) setDedicated(bit uint, v model.Value) {
	switch bit % 16 {
	case 0:
		r.HTTPMethod = v.Str()
	case 1:
		r.HTTPStatusCode = v.Int()
	case 2:
		r.HTTPRoute = v.Str()
	case 3:
		r.DBSystem = v.Str()
	case 4:
		r.DBName = v.Str()
	case 5:
		r.RPCService = v.Str()
	case 6:
		r.RPCMethod = v.Str()
	}
	r.Dedicated |= 1 << bit
}

func (r *Row) dedicated(bit uint) model.Value {
	switch bit % 16 {
	case 0:
		return model.StringValue(r.HTTPMethod)
	case 1:
		return model.IntValue(r.HTTPStatusCode)
	case 2:
		return model.StringValue(r.HTTPRoute)
	case 3:
		return model.StringValue(r.DBSystem)
	case 4:
		return model.StringValue(r.DBName)
	case 5:
		return model.StringValue(r.RPCService)
	case 6:
		return model.StringValue(r.RPCMethod)
	}
	return model.Value{}
}

// FromSpan fills r from sp, reusing r's slices.
func (r *Row) FromSpan(sp *model.Span) {
	*r = Row{
		Attrs:         r.Attrs[:0],
		Events:        r.Events[:0],
		Links:         r.Links[:0],
		ResourceAttrs: r.ResourceAttrs[:0],
		ScopeAttrs:    r.ScopeAttrs[:0],
	}
	r.TraceID = sp.TraceID
	r.SpanID = sp.SpanID
	r.ParentSpanID = sp.ParentSpanID
	r.StartUnixNano = int64(sp.StartTimeUnixNano)
	r.DurationNano = int64(sp.EndTimeUnixNano - sp.StartTimeUnixNano)
	r.Name = sp.Name
	r.Kind = int32(sp.Kind)
	r.StatusCode = int32(sp.Status.Code)
	r.StatusMessage = sp.Status.Message
	r.TraceState = sp.TraceState
	r.Flags = sp.Flags
	for _, kv := range sp.Attributes {
		if d, ok := dedicatedKeys[kv.Key]; ok && r.Dedicated&(1<<(d.bit%16)|1<<(d.bit%16+16)) == 0 {
			if (d.isInt && kv.Value.Type() == model.ValueInt) || (!d.isInt && kv.Value.Type() == model.ValueString) {
				r.setDedicated(d.bit, kv.Value)
				continue
			}
		}
		r.Attrs = append(r.Attrs, fromValue(kv.Key, kv.Value))
	}
	r.DroppedAttrs = sp.DroppedAttributesCount
	for i := range sp.Events {
		e := &sp.Events[i]
		r.Events = append(r.Events, Event{
			TimeOffsetNano: int64(e.TimeUnixNano - sp.StartTimeUnixNano),
			Name:           e.Name,
			Attrs:          appendAttrs(nil, e.Attributes),
			Dropped:        e.DroppedAttributesCount,
		})
	}
	r.DroppedEvents = sp.DroppedEventsCount
	for i := range sp.Links {
		l := &sp.Links[i]
		r.Links = append(r.Links, Link{TraceID: l.TraceID, SpanID: l.SpanID, TraceState: l.TraceState,
			Attrs: appendAttrs(nil, l.Attributes), Dropped: l.DroppedAttributesCount, Flags: l.Flags})
	}
	r.DroppedLinks = sp.DroppedLinksCount
	r.ServiceName = sp.ServiceName()
	if res := sp.Resource; res != nil {
		r.ResourceAttrs = appendAttrs(r.ResourceAttrs, res.Attributes)
		r.ResourceDropped = res.DroppedAttributesCount
		r.ResourceSchemaURL = res.SchemaURL
	}
	if sc := sp.Scope; sc != nil {
		r.ScopeName = sc.Name
		r.ScopeVersion = sc.Version
		r.ScopeAttrs = appendAttrs(r.ScopeAttrs, sc.Attributes)
		r.ScopeDropped = sc.DroppedAttributesCount
		r.ScopeSchemaURL = sc.SchemaURL
	}
}

func appendAttrs(dst []Attr, attrs model.Attributes) []Attr {
	for _, kv := range attrs {
		dst = append(dst, fromValue(kv.Key, kv.Value))
	}
	return dst
}

func fromValue(key string, v model.Value) Attr {
	a := Attr{Key: key, Type: int32(v.Type())}
	switch v.Type() {
	case model.ValueString:
		a.Str = v.Str()
	case model.ValueBool:
		if v.Bool() {
			a.Int = 1
		}
	case model.ValueInt:
		a.Int = v.Int()
	case model.ValueDouble:
		a.Double = v.Double()
	case model.ValueBytes:
		a.Bytes = v.Bytes()
	case model.ValueSlice, model.ValueMap:
		a.Bytes = spancodec.AppendValue(nil, v)
	}
	return a
}

func toValue(a *Attr) model.Value {
	switch model.ValueType(a.Type) {
	case model.ValueString:
		return model.StringValue(a.Str)
	case model.ValueBool:
		return model.BoolValue(a.Int != 0)
	case model.ValueInt:
		return model.IntValue(a.Int)
	case model.ValueDouble:
		return model.DoubleValue(a.Double)
	case model.ValueBytes:
		return model.BytesValue(a.Bytes)
	case model.ValueSlice, model.ValueMap:
		v, err := spancodec.DecodeValue(a.Bytes)
		if err != nil {
			return model.StringValue("<corrupt value>")
		}
		return v
	}
	return model.Value{}
}

func toAttrs(in []Attr) model.Attributes {
	if len(in) == 0 {
		return nil
	}
	out := make(model.Attributes, len(in))
	for i := range in {
		out[i] = model.KeyValue{Key: in[i].Key, Value: toValue(&in[i])}
	}
	return out
}

// spanBuilder turns rows into spans, sharing equal resources and scopes
// between consecutive rows.
type spanBuilder struct {
	lastRes   *model.Resource
	lastResID resKey
	lastScope *model.Scope
	lastScID  scopeKey
}

type resKey struct {
	svc, schema string
	n           int
	first       string
}

type scopeKey struct{ name, version, schema string }

// ToSpan builds a span from r.
func (b *spanBuilder) ToSpan(r *Row) *model.Span {
	sp := &model.Span{
		TraceID:           r.TraceID,
		SpanID:            r.SpanID,
		ParentSpanID:      r.ParentSpanID,
		TraceState:        r.TraceState,
		Flags:             r.Flags,
		Name:              r.Name,
		Kind:              model.SpanKind(r.Kind),
		StartTimeUnixNano: uint64(r.StartUnixNano),
		EndTimeUnixNano:   uint64(r.StartUnixNano + r.DurationNano),
		Status:            model.Status{Code: model.StatusCode(r.StatusCode), Message: r.StatusMessage},
		DroppedAttributesCount: r.DroppedAttrs,
		DroppedEventsCount:     r.DroppedEvents,
		DroppedLinksCount:      r.DroppedLinks,
	}
	n := len(r.Attrs)
	for d := r.Dedicated; d != 0; d &= d - 1 {
		n++
	}
	if n > 0 {
		attrs := make(model.Attributes, 0, n)
		for bit := uint(0); bit < 32; bit++ {
			if r.Dedicated&(1<<bit) != 0 {
				attrs = append(attrs, model.KeyValue{Key: dedicatedNames[bit], Value: r.dedicated(bit)})
			}
		}
		for i := range r.Attrs {
			attrs = append(attrs, model.KeyValue{Key: r.Attrs[i].Key, Value: toValue(&r.Attrs[i])})
		}
		sp.Attributes = attrs
	}
	if len(r.Events) > 0 {
		sp.Events = make([]model.Event, len(r.Events))
		for i := range r.Events {
			e := &r.Events[i]
			sp.Events[i] = model.Event{TimeUnixNano: uint64(r.StartUnixNano + e.TimeOffsetNano), Name: e.Name,
				Attributes: toAttrs(e.Attrs), DroppedAttributesCount: e.Dropped}
		}
	}
	if len(r.Links) > 0 {
		sp.Links = make([]model.Link, len(r.Links))
		for i := range r.Links {
			l := &r.Links[i]
			sp.Links[i] = model.Link{TraceID: l.TraceID, SpanID: l.SpanID, TraceState: l.TraceState,
				Attributes: toAttrs(l.Attrs), DroppedAttributesCount: l.Dropped, Flags: l.Flags}
		}
	}
	rk := resKey{svc: r.ServiceName, schema: r.ResourceSchemaURL, n: len(r.ResourceAttrs)}
	if len(r.ResourceAttrs) > 0 {
		rk.first = r.ResourceAttrs[len(r.ResourceAttrs)-1].Str
	}
	if b.lastRes != nil && b.lastResID == rk && sameAttrs(b.lastRes.Attributes, r.ResourceAttrs) && b.lastRes.DroppedAttributesCount == r.ResourceDropped {
		sp.Resource = b.lastRes
	} else {
		sp.Resource = &model.Resource{Attributes: toAttrs(r.ResourceAttrs), DroppedAttributesCount: r.ResourceDropped, SchemaURL: r.ResourceSchemaURL}
		b.lastRes, b.lastResID = sp.Resource, rk
	}
	sk := scopeKey{r.ScopeName, r.ScopeVersion, r.ScopeSchemaURL}
	if b.lastScope != nil && b.lastScID == sk && len(r.ScopeAttrs) == 0 && len(b.lastScope.Attributes) == 0 && b.lastScope.DroppedAttributesCount == r.ScopeDropped {
		sp.Scope = b.lastScope
	} else {
		sp.Scope = &model.Scope{Name: r.ScopeName, Version: r.ScopeVersion, Attributes: toAttrs(r.ScopeAttrs), DroppedAttributesCount: r.ScopeDropped, SchemaURL: r.ScopeSchemaURL}
		b.lastScope, b.lastScID = sp.Scope, sk
	}
	return sp
}

func sameAttrs(m model.Attributes, rows []Attr) bool {
	if len(m) != len(rows) {
		return false
	}
	for i := range rows {
		if m[i].Key != rows[i].Key || !m[i].Value.Equal(toValue(&rows[i])) {
			return false
		}
	}
	return true
}
