// Package block is Clew's block format: an immutable Apache Parquet file of
// spans (one row per span, sorted by trace id then start time, zstd) with a
// trace-id index, a bloom filter and a JSON meta file beside it, stored
// through a narrow Backend. FORMAT.md beside this file is the format's
// specification; FormatVersion is its version.
package block

import (
	"encoding/binary"
	"slices"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/store/spancodec"
)

// FormatVersion is the version of the block format this package writes. A
// reader reads versions MinFormatVersion to FormatVersion and refuses
// others. Version 2 added the columns after scope_schema_url; a version 1
// block's columns are a prefix of version 2's.
const FormatVersion = 2

// MinFormatVersion is the oldest block format this package reads.
const MinFormatVersion = 1

// Row is one span as a Parquet row. Field order is the column order; see
// FORMAT.md for the meaning of each column.
type Row struct {
	TraceID       [16]byte `parquet:"trace_id"`
	SpanID        [8]byte  `parquet:"span_id"`
	ParentSpanID  [8]byte  `parquet:"parent_span_id"`
	StartUnixNano int64    `parquet:"start_unix_nano,delta"`
	DurationNano  int64    `parquet:"duration_nano,delta"`
	ServiceName   string   `parquet:"service_name,dict"`
	Name          string   `parquet:"name,dict"`
	Kind          int32    `parquet:"kind,dict"`
	StatusCode    int32    `parquet:"status_code,dict"`
	StatusMessage string   `parquet:"status_message,optional,dict"`
	TraceState    string   `parquet:"trace_state,optional,dict"`
	Flags         uint32   `parquet:"flags,dict"`
	// Aliases has a bit per dedicated column filled from its older
	// semantic-convention key, and bit 31 set when the resource had no
	// service.name.
	Aliases uint32 `parquet:"aliases,dict"`

	// Dedicated span attribute columns: null when the span has no such
	// attribute (or it is empty, or of another type).
	HTTPMethod     string `parquet:"http_method,optional,dict"`
	HTTPStatusCode int64  `parquet:"http_status_code,optional,dict"`
	HTTPRoute      string `parquet:"http_route,optional,dict"`
	URLPath        string `parquet:"url_path,optional,dict"`
	ServerAddress  string `parquet:"server_address,optional,dict"`
	DBSystem       string `parquet:"db_system,optional,dict"`
	DBNamespace    string `parquet:"db_namespace,optional,dict"`
	DBOperation    string `parquet:"db_operation,optional,dict"`
	DBCollection   string `parquet:"db_collection,optional,dict"`
	DBQueryText    string `parquet:"db_query_text,optional,dict"`
	RPCService     string `parquet:"rpc_service,optional,dict"`
	RPCMethod      string `parquet:"rpc_method,optional,dict"`

	// Generic span attributes, one list per value type.
	AttrsStr     []StrAttr    `parquet:"attrs_str,list"`
	AttrsInt     []IntAttr    `parquet:"attrs_int,list"`
	AttrsDouble  []DoubleAttr `parquet:"attrs_double,list"`
	AttrsBool    []BoolAttr   `parquet:"attrs_bool,list"`
	AttrsOther   []OtherAttr  `parquet:"attrs_other,list"`
	DroppedAttrs uint32       `parquet:"dropped_attributes_count,dict"`

	Events        []Event `parquet:"events,list"`
	DroppedEvents uint32  `parquet:"dropped_events_count,dict"`
	Links         []Link  `parquet:"links,list"`
	DroppedLinks  uint32  `parquet:"dropped_links_count,dict"`

	// Dedicated resource attribute columns (service.name is ServiceName).
	ServiceVersion    string `parquet:"resource_service_version,optional,dict"`
	ServiceNamespace  string `parquet:"resource_service_namespace,optional,dict"`
	ServiceInstanceID string `parquet:"resource_service_instance_id,optional,dict"`
	HostName          string `parquet:"resource_host_name,optional,dict"`
	DeploymentEnv     string `parquet:"resource_deployment_environment,optional,dict"`
	SDKName           string `parquet:"resource_telemetry_sdk_name,optional,dict"`
	SDKLanguage       string `parquet:"resource_telemetry_sdk_language,optional,dict"`
	SDKVersion        string `parquet:"resource_telemetry_sdk_version,optional,dict"`
	K8sNamespace      string `parquet:"resource_k8s_namespace_name,optional,dict"`
	K8sPod            string `parquet:"resource_k8s_pod_name,optional,dict"`
	K8sDeployment     string `parquet:"resource_k8s_deployment_name,optional,dict"`
	CloudRegion       string `parquet:"resource_cloud_region,optional,dict"`

	ResourceAttrsStr   []StrAttr   `parquet:"resource_attrs_str,list"`
	ResourceAttrsOther []OtherAttr `parquet:"resource_attrs_other,list"`
	ResourceDropped    uint32      `parquet:"resource_dropped_attributes_count,dict"`
	ResourceSchemaURL  string      `parquet:"resource_schema_url,optional,dict"`

	ScopeName       string      `parquet:"scope_name,optional,dict"`
	ScopeVersion    string      `parquet:"scope_version,optional,dict"`
	ScopeAttrsStr   []StrAttr   `parquet:"scope_attrs_str,list"`
	ScopeAttrsOther []OtherAttr `parquet:"scope_attrs_other,list"`
	ScopeDropped    uint32      `parquet:"scope_dropped_attributes_count,dict"`
	ScopeSchemaURL  string      `parquet:"scope_schema_url,optional,dict"`

	// Version 2 columns (absent from version 1 blocks, where they read as
	// zeros).

	// ParentOffset, when not 0, says the parent is the row this many rows
	// before this one, in the same trace; ParentSpanID is then zeros in
	// the file. Readers set ParentSpanID from it (resolveParents).
	ParentOffset int32 `parquet:"parent_offset,dict"`

	// Attribute columns of the block: the string span attributes of the
	// keys the writer chose for this block (the Parquet key-value
	// metadata clew.block.attr_columns lists them, slot i first), null
	// when the span lacks it (or it is empty).
	Attr0 string `parquet:"attr_0,optional,dict"`
	Attr1 string `parquet:"attr_1,optional,dict"`
	Attr2 string `parquet:"attr_2,optional,dict"`
	Attr3 string `parquet:"attr_3,optional,dict"`
	Attr4 string `parquet:"attr_4,optional,dict"`
	Attr5 string `parquet:"attr_5,optional,dict"`
	Attr6 string `parquet:"attr_6,optional,dict"`
	Attr7 string `parquet:"attr_7,optional,dict"`

	// slotKeys are the keys of the attribute columns, set on rows a
	// Reader gives (nil: the block has none).
	slotKeys *slotKeys
}

// attrSlots is the number of attribute columns (Attr0 to Attr7).
const attrSlots = 8

// slotKeys are the keys of a block's attribute columns, "" for unused
// ones.
type slotKeys [attrSlots]string

// slots returns pointers to the attribute columns.
func (r *Row) slots() [attrSlots]*string {
	return [...]*string{&r.Attr0, &r.Attr1, &r.Attr2, &r.Attr3, &r.Attr4, &r.Attr5, &r.Attr6, &r.Attr7}
}

// StrAttr is a string attribute.
type StrAttr struct {
	Key   string `parquet:"key,dict"`
	Value string `parquet:"value,dict"`
}

// IntAttr is an int attribute.
type IntAttr struct {
	Key   string `parquet:"key,dict"`
	Value int64  `parquet:"value"`
}

// DoubleAttr is a double attribute.
type DoubleAttr struct {
	Key   string  `parquet:"key,dict"`
	Value float64 `parquet:"value"`
}

// BoolAttr is a bool attribute.
type BoolAttr struct {
	Key   string `parquet:"key,dict"`
	Value bool   `parquet:"value"`
}

// OtherAttr is an attribute of any type, its value in spancodec's value
// encoding (a type byte then the value): bytes, arrays, maps and empty
// values on spans; every non-string value on resources, scopes, events and
// links.
type OtherAttr struct {
	Key   string `parquet:"key,dict"`
	Value []byte `parquet:"value"`
}

// Event is a span event; TimeOffsetNano is relative to the span start.
type Event struct {
	TimeOffsetNano int64       `parquet:"time_offset_nano,delta"`
	Name           string      `parquet:"name,dict"`
	AttrsStr       []StrAttr   `parquet:"attrs_str,list"`
	AttrsOther     []OtherAttr `parquet:"attrs_other,list"`
	Dropped        uint32      `parquet:"dropped_attributes_count"`
}

// Link is a span link.
type Link struct {
	TraceID    [16]byte    `parquet:"trace_id"`
	SpanID     [8]byte     `parquet:"span_id"`
	TraceState string      `parquet:"trace_state,optional"`
	AttrsStr   []StrAttr   `parquet:"attrs_str,list"`
	AttrsOther []OtherAttr `parquet:"attrs_other,list"`
	Dropped    uint32      `parquet:"dropped_attributes_count"`
	Flags      uint32      `parquet:"flags"`
}

// spanCol describes a dedicated span column: its key, an older key meaning
// the same, and whether it holds an int.
type spanCol struct {
	key, alias string
	isInt      bool
}

// spanCols lists the dedicated span columns in Row order (HTTPStatusCode is
// the only int column).
var spanCols = [...]spanCol{
	{"http.request.method", "http.method", false},
	{"http.response.status_code", "http.status_code", true},
	{"http.route", "", false},
	{"url.path", "", false},
	{"server.address", "", false},
	{"db.system.name", "db.system", false},
	{"db.namespace", "db.name", false},
	{"db.operation.name", "db.operation", false},
	{"db.collection.name", "db.sql.table", false},
	{"db.query.text", "db.statement", false},
	{"rpc.service", "", false},
	{"rpc.method", "", false},
}

// resCols lists the dedicated resource columns in Row order.
var resCols = [...]spanCol{
	{"service.version", "", false},
	{"service.namespace", "", false},
	{"service.instance.id", "", false},
	{"host.name", "", false},
	{"deployment.environment.name", "deployment.environment", false},
	{"telemetry.sdk.name", "", false},
	{"telemetry.sdk.language", "", false},
	{"telemetry.sdk.version", "", false},
	{"k8s.namespace.name", "", false},
	{"k8s.pod.name", "", false},
	{"k8s.deployment.name", "", false},
	{"cloud.region", "", false},
}

const (
	resAliasShift  = 16      // alias bits of resource columns start here
	noServiceName  = 1 << 31 // the resource had no string service.name
	httpStatusSlot = 1
)

// colIndex maps a key (or alias) to its column index and whether it is the
// alias.
type colRef struct {
	i     int
	alias bool
}

var spanColIndex, resColIndex = func() (map[string]colRef, map[string]colRef) {
	s, r := map[string]colRef{}, map[string]colRef{}
	for i, c := range spanCols {
		s[c.key] = colRef{i, false}
		if c.alias != "" {
			s[c.alias] = colRef{i, true}
		}
	}
	for i, c := range resCols {
		r[c.key] = colRef{i, false}
		if c.alias != "" {
			r[c.alias] = colRef{i, true}
		}
	}
	return s, r
}()

// spanStrs returns pointers to the dedicated string span columns, indexed
// like spanCols (the int column's slot is nil).
func (r *Row) spanStrs() [len(spanCols)]*string {
	return [...]*string{&r.HTTPMethod, nil, &r.HTTPRoute, &r.URLPath, &r.ServerAddress, &r.DBSystem,
		&r.DBNamespace, &r.DBOperation, &r.DBCollection, &r.DBQueryText, &r.RPCService, &r.RPCMethod}
}

// spanStr returns the dedicated string span column i (spanStrs()[i],
// without making the array; nil for the int column).
func (r *Row) spanStr(i int) *string {
	switch i {
	case 0:
		return &r.HTTPMethod
	case 2:
		return &r.HTTPRoute
	case 3:
		return &r.URLPath
	case 4:
		return &r.ServerAddress
	case 5:
		return &r.DBSystem
	case 6:
		return &r.DBNamespace
	case 7:
		return &r.DBOperation
	case 8:
		return &r.DBCollection
	case 9:
		return &r.DBQueryText
	case 10:
		return &r.RPCService
	case 11:
		return &r.RPCMethod
	}
	return nil
}

// slot returns the attribute column i (slots()[i], without making the
// array).
func (r *Row) slot(i int) *string {
	switch i {
	case 0:
		return &r.Attr0
	case 1:
		return &r.Attr1
	case 2:
		return &r.Attr2
	case 3:
		return &r.Attr3
	case 4:
		return &r.Attr4
	case 5:
		return &r.Attr5
	case 6:
		return &r.Attr6
	}
	return &r.Attr7
}

func (r *Row) resStrs() [len(resCols)]*string {
	return [...]*string{&r.ServiceVersion, &r.ServiceNamespace, &r.ServiceInstanceID, &r.HostName, &r.DeploymentEnv,
		&r.SDKName, &r.SDKLanguage, &r.SDKVersion, &r.K8sNamespace, &r.K8sPod, &r.K8sDeployment, &r.CloudRegion}
}

// reset clears the fields of r that fill may leave unset, keeping the
// storage of the slices it owns (the resource lists are shared with the
// encoder's cache and never appended to); fill sets every other field.
// Clearing only these costs a fraction of clearing the whole Row (over a
// kilobyte, with write barriers while the collector runs);
// TestFillResets checks that a reused row is filled as a new one.
func (r *Row) reset() {
	r.HTTPMethod, r.HTTPStatusCode, r.HTTPRoute, r.URLPath, r.ServerAddress = "", 0, "", "", ""
	r.DBSystem, r.DBNamespace, r.DBOperation, r.DBCollection, r.DBQueryText = "", "", "", "", ""
	r.RPCService, r.RPCMethod = "", ""
	r.Attr0, r.Attr1, r.Attr2, r.Attr3, r.Attr4, r.Attr5, r.Attr6, r.Attr7 = "", "", "", "", "", "", "", ""
	r.AttrsStr, r.AttrsInt, r.AttrsDouble = r.AttrsStr[:0], r.AttrsInt[:0], r.AttrsDouble[:0]
	r.AttrsBool, r.AttrsOther = r.AttrsBool[:0], r.AttrsOther[:0]
	r.Events, r.Links = r.Events[:0], r.Links[:0]
	r.ScopeName, r.ScopeVersion, r.ScopeSchemaURL, r.ScopeDropped = "", "", "", 0
	r.ScopeAttrsStr, r.ScopeAttrsOther = r.ScopeAttrsStr[:0], r.ScopeAttrsOther[:0]
	r.Aliases, r.ParentOffset, r.slotKeys = 0, 0, nil
}

// FromSpan fills r from sp, reusing r's slices.
func (r *Row) FromSpan(sp *model.Span) {
	var e rowEncoder
	e.fill(r, sp)
}

// rowEncoder fills Rows from spans. It remembers the resource columns of
// the resources it has seen (the spans of one export share a
// *model.Resource), and keeps the
// encoded non-string values in an arena the caller resets once the rows
// are written.
type rowEncoder struct {
	res map[*model.Resource]*resFields
	// recent are the resources looked up last, checked before the map
	// (whose lookup, in a flush of many resources, costs cache misses):
	// the spans of a trace alternate between a few services.
	recent     [recentResources]recentRes
	nextRecent int
	arena      []byte
	// slots are the keys of the attribute columns (none until the writer
	// chooses them); nextSlot is where slot looks first: spans of one
	// source list their attributes in the same order.
	slots    []string
	nextSlot int
}

// slot returns the attribute column of key, or -1.
func (e *rowEncoder) slot(key string) int {
	n := len(e.slots)
	for k := 0; k < n; k++ {
		i := e.nextSlot + k
		if i >= n {
			i -= n
		}
		if e.slots[i] == key {
			e.nextSlot = i + 1
			if e.nextSlot == n {
				e.nextSlot = 0
			}
			return i
		}
	}
	return -1
}

// resFields are the columns of a row that come from its resource.
type resFields struct {
	service    string
	strs       [len(resCols)]string
	aliases    uint32
	attrsStr   []StrAttr
	attrsOther []OtherAttr
	dropped    uint32
	schemaURL  string
}

// maxCachedResources bounds the resource cache; it is emptied when full.
const maxCachedResources = 4096

// spanColLens has, for each first byte of the keys and aliases of
// spanCols, a bit for each of their lengths (all below 64 bytes).
var spanColLens = func() (t [256]uint64) {
	for _, c := range spanCols {
		for _, k := range []string{c.key, c.alias} {
			if k != "" {
				t[k[0]] |= 1 << len(k)
			}
		}
	}
	return t
}()

// maybeSpanCol reports whether key may be a dedicated span column's (its
// key or alias). Most keys are not, and most of those differ from every
// dedicated key in first byte or length: spanColLens tells at once, where
// spanCol compares strings.
func maybeSpanCol(key string) bool {
	n := uint(len(key))
	return n-1 < 63 && spanColLens[key[0]]&(1<<n) != 0
}

// spanCol returns the dedicated span column of key: a switch, which Go
// compiles to a search by length then content, costs a fraction of a map
// lookup (TestSpanColMatchesTable keeps it equal to spanCols).
func (e *rowEncoder) spanCol(key string) (colRef, bool) {
	switch key {
	case "http.request.method":
		return colRef{0, false}, true
	case "http.method":
		return colRef{0, true}, true
	case "http.response.status_code":
		return colRef{1, false}, true
	case "http.status_code":
		return colRef{1, true}, true
	case "http.route":
		return colRef{2, false}, true
	case "url.path":
		return colRef{3, false}, true
	case "server.address":
		return colRef{4, false}, true
	case "db.system.name":
		return colRef{5, false}, true
	case "db.system":
		return colRef{5, true}, true
	case "db.namespace":
		return colRef{6, false}, true
	case "db.name":
		return colRef{6, true}, true
	case "db.operation.name":
		return colRef{7, false}, true
	case "db.operation":
		return colRef{7, true}, true
	case "db.collection.name":
		return colRef{8, false}, true
	case "db.sql.table":
		return colRef{8, true}, true
	case "db.query.text":
		return colRef{9, false}, true
	case "db.statement":
		return colRef{9, true}, true
	case "rpc.service":
		return colRef{10, false}, true
	case "rpc.method":
		return colRef{11, false}, true
	}
	return colRef{}, false
}

// recentRes is a resource and its columns.
type recentRes struct {
	res *model.Resource
	f   *resFields
}

// recentResources is the number of resources a rowEncoder checks before
// its map.
const recentResources = 8

// resource returns the resource columns of res, from the cache if it has
// them.
func (e *rowEncoder) resource(res *model.Resource) *resFields {
	for i := range e.recent {
		if r := &e.recent[i]; r.res == res && r.f != nil {
			return r.f
		}
	}
	f := e.resourceMiss(res)
	e.recent[e.nextRecent] = recentRes{res, f}
	e.nextRecent = (e.nextRecent + 1) % recentResources
	return f
}

// resourceMiss returns the resource columns of res, missing from the
// recent ones: from the map, or built.
func (e *rowEncoder) resourceMiss(res *model.Resource) *resFields {
	if f := e.res[res]; f != nil {
		return f
	}
	if e.res == nil || len(e.res) >= maxCachedResources {
		e.res = make(map[*model.Resource]*resFields)
	}
	f := &resFields{service: res.ServiceName()}
	if res == nil {
		f.aliases = noServiceName
		e.res[res] = f
		return f
	}
	hasName := false
	for _, kv := range res.Attributes {
		if kv.Key == model.AttrServiceName && !hasName && kv.Value.Type() == model.ValueString && kv.Value.Str() == f.service {
			hasName = true
			continue
		}
		if c, ok := resColIndex[kv.Key]; ok && kv.Value.Type() == model.ValueString && kv.Value.Str() != "" && f.strs[c.i] == "" {
			f.strs[c.i] = kv.Value.Str()
			if c.alias {
				f.aliases |= 1 << (resAliasShift + c.i)
			}
			continue
		}
		f.attrsStr, f.attrsOther = appendSplit(f.attrsStr, f.attrsOther, kv)
	}
	if !hasName {
		f.aliases |= noServiceName
	}
	f.dropped = res.DroppedAttributesCount
	f.schemaURL = res.SchemaURL
	e.res[res] = f
	return f
}

// value encodes v into the arena.
func (e *rowEncoder) value(v model.Value) []byte {
	n := len(e.arena)
	if v.Type() == model.ValueInt {
		// spancodec.AppendValue's encoding of the most common kind
		// (TestEncoderValue), without its call.
		e.arena = binary.AppendVarint(append(e.arena, byte(model.ValueInt)), v.Int())
	} else {
		e.arena = spancodec.AppendValue(e.arena, v)
	}
	return e.arena[n:len(e.arena):len(e.arena)]
}

func (e *rowEncoder) split(strs []StrAttr, others []OtherAttr, attrs model.Attributes) ([]StrAttr, []OtherAttr) {
	for i := range attrs {
		kv := &attrs[i]
		if kv.Value.Type() == model.ValueString {
			strs = append(strs, StrAttr{kv.Key, kv.Value.Str()})
		} else {
			others = append(others, OtherAttr{kv.Key, e.value(kv.Value)})
		}
	}
	return strs, others
}

// fill fills r from sp, reusing r's slices.
func (e *rowEncoder) fill(r *Row, sp *model.Span) {
	r.reset()
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
	for i := range sp.Attributes {
		kv := &sp.Attributes[i]
		c, ok := colRef{}, false
		if maybeSpanCol(kv.Key) {
			c, ok = e.spanCol(kv.Key)
		}
		if ok {
			if c.i == httpStatusSlot {
				if kv.Value.Type() == model.ValueInt && kv.Value.Int() != 0 && r.HTTPStatusCode == 0 {
					r.HTTPStatusCode = kv.Value.Int()
					if c.alias {
						r.Aliases |= 1 << c.i
					}
					continue
				}
			} else if p := r.spanStr(c.i); kv.Value.Type() == model.ValueString && kv.Value.Str() != "" && *p == "" {
				*p = kv.Value.Str()
				if c.alias {
					r.Aliases |= 1 << c.i
				}
				continue
			}
		}
		v := &kv.Value
		switch v.Type() {
		case model.ValueString:
			if len(e.slots) > 0 && v.Str() != "" {
				if i := e.slot(kv.Key); i >= 0 {
					if p := r.slot(i); *p == "" {
						*p = v.Str()
						continue
					}
				}
			}
			r.AttrsStr = append(r.AttrsStr, StrAttr{kv.Key, v.Str()})
		case model.ValueInt:
			r.AttrsInt = append(r.AttrsInt, IntAttr{kv.Key, v.Int()})
		case model.ValueDouble:
			r.AttrsDouble = append(r.AttrsDouble, DoubleAttr{kv.Key, v.Double()})
		case model.ValueBool:
			r.AttrsBool = append(r.AttrsBool, BoolAttr{kv.Key, v.Bool()})
		default:
			r.AttrsOther = append(r.AttrsOther, OtherAttr{kv.Key, e.value(*v)})
		}
	}
	r.DroppedAttrs = sp.DroppedAttributesCount
	for i := range sp.Events {
		ev := &sp.Events[i]
		n := len(r.Events)
		if n < cap(r.Events) {
			r.Events = r.Events[:n+1]
		} else {
			r.Events = append(r.Events, Event{})
		}
		dst := &r.Events[n]
		as, ao := dst.AttrsStr[:0], dst.AttrsOther[:0]
		*dst = Event{TimeOffsetNano: int64(ev.TimeUnixNano - sp.StartTimeUnixNano), Name: ev.Name, Dropped: ev.DroppedAttributesCount}
		dst.AttrsStr, dst.AttrsOther = e.split(as, ao, ev.Attributes)
	}
	r.DroppedEvents = sp.DroppedEventsCount
	for i := range sp.Links {
		l := &sp.Links[i]
		ln := Link{TraceID: l.TraceID, SpanID: l.SpanID, TraceState: l.TraceState, Dropped: l.DroppedAttributesCount, Flags: l.Flags}
		ln.AttrsStr, ln.AttrsOther = e.split(nil, nil, l.Attributes)
		r.Links = append(r.Links, ln)
	}
	r.DroppedLinks = sp.DroppedLinksCount
	f := e.resource(sp.Resource)
	r.ServiceName = f.service
	r.ServiceVersion, r.ServiceNamespace, r.ServiceInstanceID, r.HostName = f.strs[0], f.strs[1], f.strs[2], f.strs[3]
	r.DeploymentEnv, r.SDKName, r.SDKLanguage, r.SDKVersion = f.strs[4], f.strs[5], f.strs[6], f.strs[7]
	r.K8sNamespace, r.K8sPod, r.K8sDeployment, r.CloudRegion = f.strs[8], f.strs[9], f.strs[10], f.strs[11]
	r.Aliases |= f.aliases
	r.ResourceAttrsStr, r.ResourceAttrsOther = f.attrsStr, f.attrsOther
	r.ResourceDropped = f.dropped
	r.ResourceSchemaURL = f.schemaURL
	if sc := sp.Scope; sc != nil {
		r.ScopeName = sc.Name
		r.ScopeVersion = sc.Version
		r.ScopeAttrsStr, r.ScopeAttrsOther = e.split(r.ScopeAttrsStr, r.ScopeAttrsOther, sc.Attributes)
		r.ScopeDropped = sc.DroppedAttributesCount
		r.ScopeSchemaURL = sc.SchemaURL
	}
}

func appendSplit(strs []StrAttr, others []OtherAttr, kv model.KeyValue) ([]StrAttr, []OtherAttr) {
	if kv.Value.Type() == model.ValueString {
		return append(strs, StrAttr{kv.Key, kv.Value.Str()}), others
	}
	return strs, append(others, OtherAttr{kv.Key, spancodec.AppendValue(nil, kv.Value)})
}

func otherValue(b []byte) model.Value {
	v, err := spancodec.DecodeValue(b)
	if err != nil {
		return model.StringValue("<corrupt value>")
	}
	return v
}

// joinAttrs rebuilds attributes from the string and other lists.
func joinAttrs(dst model.Attributes, strs []StrAttr, others []OtherAttr) model.Attributes {
	for i := range strs {
		dst = append(dst, model.KeyValue{Key: strs[i].Key, Value: model.StringValue(strs[i].Value)})
	}
	for i := range others {
		dst = append(dst, model.KeyValue{Key: others[i].Key, Value: otherValue(others[i].Value)})
	}
	return dst
}

// spanBuilder turns rows into spans, sharing equal resources and scopes
// between consecutive rows.
type spanBuilder struct {
	lastRes   *model.Resource
	lastScope *model.Scope
	resRow    Row // resource fields of the row lastRes was built from
	// keep, when positive, is how many resources and scopes the builder
	// remembers instead of the last one only (the Iterator's: the spans
	// of a trace alternate between a few services, so that the last
	// resource alone misses at almost every span). Spans of equal
	// resource columns then share one *model.Resource, and of equal
	// scope columns one *model.Scope, which the block writer caches by
	// pointer.
	keep   int
	res    []keptRes // most recently used first, about
	scopes []*model.Scope
}

// keptRes is a resource a spanBuilder remembers, with the row fields it
// was built from.
type keptRes struct {
	res *model.Resource
	row *Row
}

func sameStrAttrs(a, b []StrAttr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameOtherAttrs(a, b []OtherAttr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || string(a[i].Value) != string(b[i].Value) {
			return false
		}
	}
	return true
}

func (b *spanBuilder) sameResource(r *Row) bool {
	return b.lastRes != nil && sameResourceCols(&b.resRow, r)
}

// sameResourceCols reports whether rows p and r have equal resource
// columns.
func sameResourceCols(p, r *Row) bool {
	return p.ServiceName == r.ServiceName && p.resStrs2() == r.resStrs2() &&
		p.Aliases&^((1<<resAliasShift)-1) == r.Aliases&^((1<<resAliasShift)-1) &&
		p.ResourceDropped == r.ResourceDropped && p.ResourceSchemaURL == r.ResourceSchemaURL &&
		sameStrAttrs(p.ResourceAttrsStr, r.ResourceAttrsStr) && sameOtherAttrs(p.ResourceAttrsOther, r.ResourceAttrsOther)
}

func (r *Row) resStrs2() [len(resCols)]string {
	return [...]string{r.ServiceVersion, r.ServiceNamespace, r.ServiceInstanceID, r.HostName, r.DeploymentEnv,
		r.SDKName, r.SDKLanguage, r.SDKVersion, r.K8sNamespace, r.K8sPod, r.K8sDeployment, r.CloudRegion}
}

func (b *spanBuilder) resource(r *Row) *model.Resource {
	if b.keep > 0 {
		return b.keptResource(r)
	}
	if b.sameResource(r) {
		return b.lastRes
	}
	b.lastRes = newResource(r, &b.resRow)
	return b.lastRes
}

// keptResource returns the kept resource of r's columns, moved one place
// towards the front, or builds it and keeps it in place of the least
// recently used one.
func (b *spanBuilder) keptResource(r *Row) *model.Resource {
	for i := range b.res {
		if k := b.res[i]; sameResourceCols(k.row, r) {
			if i > 0 {
				b.res[i-1], b.res[i] = k, b.res[i-1]
			}
			return k.res
		}
	}
	var row *Row
	if len(b.res) < b.keep {
		row = new(Row)
		b.res = append(b.res, keptRes{})
	} else {
		row = b.res[len(b.res)-1].row
	}
	k := keptRes{res: newResource(r, row), row: row}
	copy(b.res[1:], b.res[:len(b.res)-1])
	b.res[0] = k
	return k.res
}

// newResource builds the resource of r's columns and sets kept to those
// columns.
func newResource(r *Row, kept *Row) *model.Resource {
	res := &model.Resource{DroppedAttributesCount: r.ResourceDropped, SchemaURL: r.ResourceSchemaURL}
	n := 1 + len(r.ResourceAttrsStr) + len(r.ResourceAttrsOther)
	vals := r.resStrs2()
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	attrs := make(model.Attributes, 0, n)
	if r.Aliases&noServiceName == 0 {
		attrs = append(attrs, model.KeyValue{Key: model.AttrServiceName, Value: model.StringValue(r.ServiceName)})
	}
	for i, v := range vals {
		if v == "" {
			continue
		}
		key := resCols[i].key
		if r.Aliases&(1<<(resAliasShift+i)) != 0 {
			key = resCols[i].alias
		}
		attrs = append(attrs, model.KeyValue{Key: key, Value: model.StringValue(v)})
	}
	attrs = joinAttrs(attrs, r.ResourceAttrsStr, r.ResourceAttrsOther)
	if len(attrs) > 0 {
		res.Attributes = attrs
	}
	*kept = Row{ServiceName: r.ServiceName, Aliases: r.Aliases, ResourceDropped: r.ResourceDropped, ResourceSchemaURL: r.ResourceSchemaURL,
		ResourceAttrsStr: append([]StrAttr(nil), r.ResourceAttrsStr...), ResourceAttrsOther: cloneOthers(r.ResourceAttrsOther)}
	ps := kept.resStrs()
	for i, v := range vals {
		*ps[i] = v
	}
	return res
}

func cloneOthers(in []OtherAttr) []OtherAttr {
	out := make([]OtherAttr, len(in))
	for i := range in {
		out[i] = OtherAttr{in[i].Key, append([]byte(nil), in[i].Value...)}
	}
	return out
}

// ToSpan builds a span from r. The span does not alias r.
func (b *spanBuilder) ToSpan(r *Row) *model.Span {
	sp := new(model.Span)
	b.fillSpan(sp, r)
	return sp
}

// fillSpan sets sp to the span of r, reusing the memory of sp's
// attributes, events (with their attributes) and links. The span does not
// alias r.
func (b *spanBuilder) fillSpan(sp *model.Span, r *Row) {
	attrs, events, links := sp.Attributes[:0], sp.Events[:0], sp.Links[:0]
	*sp = model.Span{
		TraceID:                r.TraceID,
		SpanID:                 r.SpanID,
		ParentSpanID:           r.ParentSpanID,
		TraceState:             r.TraceState,
		Flags:                  r.Flags,
		Name:                   r.Name,
		Kind:                   model.SpanKind(r.Kind),
		StartTimeUnixNano:      uint64(r.StartUnixNano),
		EndTimeUnixNano:        uint64(r.StartUnixNano + r.DurationNano),
		Status:                 model.Status{Code: model.StatusCode(r.StatusCode), Message: r.StatusMessage},
		DroppedAttributesCount: r.DroppedAttrs,
		DroppedEventsCount:     r.DroppedEvents,
		DroppedLinksCount:      r.DroppedLinks,
	}
	strs := r.spanStrs()
	n := len(r.AttrsStr) + len(r.AttrsInt) + len(r.AttrsDouble) + len(r.AttrsBool) + len(r.AttrsOther)
	for i, p := range strs {
		if (p != nil && *p != "") || (i == httpStatusSlot && r.HTTPStatusCode != 0) {
			n++
		}
	}
	var slots [attrSlots]*string
	if r.slotKeys != nil {
		slots = r.slots()
		for _, p := range slots {
			if *p != "" {
				n++
			}
		}
	}
	if n > 0 {
		attrs = slices.Grow(attrs, n)
		for i, p := range strs {
			key := spanCols[i].key
			if r.Aliases&(1<<i) != 0 {
				key = spanCols[i].alias
			}
			switch {
			case i == httpStatusSlot && r.HTTPStatusCode != 0:
				attrs = append(attrs, model.KeyValue{Key: key, Value: model.IntValue(r.HTTPStatusCode)})
			case p != nil && *p != "":
				attrs = append(attrs, model.KeyValue{Key: key, Value: model.StringValue(*p)})
			}
		}
		for i, p := range slots {
			if p != nil && *p != "" {
				attrs = append(attrs, model.KeyValue{Key: r.slotKeys[i], Value: model.StringValue(*p)})
			}
		}
		for i := range r.AttrsStr {
			attrs = append(attrs, model.KeyValue{Key: r.AttrsStr[i].Key, Value: model.StringValue(r.AttrsStr[i].Value)})
		}
		for i := range r.AttrsInt {
			attrs = append(attrs, model.KeyValue{Key: r.AttrsInt[i].Key, Value: model.IntValue(r.AttrsInt[i].Value)})
		}
		for i := range r.AttrsDouble {
			attrs = append(attrs, model.KeyValue{Key: r.AttrsDouble[i].Key, Value: model.DoubleValue(r.AttrsDouble[i].Value)})
		}
		for i := range r.AttrsBool {
			attrs = append(attrs, model.KeyValue{Key: r.AttrsBool[i].Key, Value: model.BoolValue(r.AttrsBool[i].Value)})
		}
		for i := range r.AttrsOther {
			attrs = append(attrs, model.KeyValue{Key: r.AttrsOther[i].Key, Value: otherValue(r.AttrsOther[i].Value)})
		}
	}
	sp.Attributes = attrs // nil for a new span without attributes
	if len(r.Events) > 0 {
		events = slices.Grow(events, len(r.Events))[:len(r.Events)]
		for i := range r.Events {
			e := &r.Events[i]
			events[i] = model.Event{TimeUnixNano: uint64(r.StartUnixNano + e.TimeOffsetNano), Name: e.Name,
				Attributes: joinAttrs(events[i].Attributes[:0], e.AttrsStr, e.AttrsOther), DroppedAttributesCount: e.Dropped}
		}
	}
	sp.Events = events
	if len(r.Links) > 0 {
		links = slices.Grow(links, len(r.Links))[:len(r.Links)]
		for i := range r.Links {
			l := &r.Links[i]
			links[i] = model.Link{TraceID: l.TraceID, SpanID: l.SpanID, TraceState: l.TraceState,
				Attributes: joinAttrs(links[i].Attributes[:0], l.AttrsStr, l.AttrsOther), DroppedAttributesCount: l.Dropped, Flags: l.Flags}
		}
	}
	sp.Links = links
	sp.Resource = b.resource(r)
	sp.Scope = b.scope(r)
}

// sameScope reports whether sc is the scope of r's columns; scopes with
// attributes never compare equal.
func sameScope(sc *model.Scope, r *Row) bool {
	return sc != nil && sc.Name == r.ScopeName && sc.Version == r.ScopeVersion && sc.SchemaURL == r.ScopeSchemaURL &&
		sc.DroppedAttributesCount == r.ScopeDropped && len(sc.Attributes) == 0 && len(r.ScopeAttrsStr) == 0 && len(r.ScopeAttrsOther) == 0
}

// scope returns the scope of r's columns: the last one, a kept one (keep)
// or a new one.
func (b *spanBuilder) scope(r *Row) *model.Scope {
	if sameScope(b.lastScope, r) {
		return b.lastScope
	}
	if b.keep > 0 {
		for i, sc := range b.scopes {
			if sameScope(sc, r) {
				b.scopes[i], b.lastScope = b.lastScope, sc
				return sc
			}
		}
		if b.lastScope != nil {
			if len(b.scopes) < b.keep {
				b.scopes = append(b.scopes, nil)
			}
			copy(b.scopes[1:], b.scopes[:len(b.scopes)-1])
			b.scopes[0] = b.lastScope
		}
	}
	b.lastScope = &model.Scope{Name: r.ScopeName, Version: r.ScopeVersion, DroppedAttributesCount: r.ScopeDropped, SchemaURL: r.ScopeSchemaURL,
		Attributes: joinAttrs(nil, r.ScopeAttrsStr, r.ScopeAttrsOther)}
	return b.lastScope
}
