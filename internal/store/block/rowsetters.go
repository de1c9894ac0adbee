package block

import "fmt"

// This file maps each leaf column of Row to the code that stores its
// values, so that the row reader fills rows without reflection.

// leafValue carries one decoded value to a setter. Only the field of the
// leaf's kind is meaningful; b is only valid during the call.
type leafValue struct {
	i int64
	f float64
	s string
	b []byte
}

// leafSetter stores the values of one leaf column. For a leaf inside a
// list, i is the element's index in the outer list and j in the inner
// list (lists of lists are events' and links' attributes); grow1 and grow2
// make room for the elements first.
type leafSetter struct {
	kind  valueKind
	set   func(r *Row, i, j int, v *leafValue)
	grow1 func(r *Row, n int)
	grow2 func(r *Row, i, n int)
}

// valueKind is the Go form a setter takes.
type valueKind uint8

const (
	kindInt    valueKind = iota // int32, uint32 and int64 leaves
	kindFloat                   // double
	kindBool                    // boolean (in i: 0 or 1)
	kindString                  // byte array into a string
	kindBytes                   // byte array into a []byte (copied by the setter)
	kindFixed                   // fixed-length byte array (copied by the setter)
)

// growTo makes *s at least n long, the new elements zero.
func growTo[E any](s *[]E, n int) {
	if l := len(*s); l < n {
		if cap(*s) >= n {
			*s = (*s)[:n]
			clearKeep(s, l)
		} else {
			*s = append(*s, make([]E, n-l)...)
		}
	}
}

// clearKeep clears the elements of *s from l on, keeping the storage of
// the attribute lists of events and links (a scan reuses its rows, whose
// events would otherwise allocate their lists again at every row).
func clearKeep[E any](s *[]E, l int) {
	switch p := any(s).(type) {
	case *[]Event:
		for i := l; i < len(*p); i++ {
			e := &(*p)[i]
			*e = Event{AttrsStr: e.AttrsStr[:0], AttrsOther: e.AttrsOther[:0]}
		}
	case *[]Link:
		for i := l; i < len(*p); i++ {
			e := &(*p)[i]
			*e = Link{AttrsStr: e.AttrsStr[:0], AttrsOther: e.AttrsOther[:0]}
		}
	default:
		clear((*s)[l:])
	}
}

// fieldSet stores a value into one field of a list element.
type fieldSet[E any] struct {
	name string
	kind valueKind
	set  func(e *E, v *leafValue)
}

// addList registers the leaves of a list of E at prefix. at returns the
// list: of the row (top level, outer nil) or of the row's element i of an
// outer list grown by outer.
func addList[E any](reg map[string]leafSetter, prefix string, at func(r *Row, i int) *[]E, outer func(r *Row, n int), fields ...fieldSet[E]) {
	for _, f := range fields {
		set := f.set
		s := leafSetter{kind: f.kind}
		if outer == nil {
			s.grow1 = func(r *Row, n int) { growTo(at(r, 0), n) }
			s.set = func(r *Row, i, _ int, v *leafValue) { set(&(*at(r, 0))[i], v) }
		} else {
			s.grow1 = outer
			s.grow2 = func(r *Row, i, n int) { growTo(at(r, i), n) }
			s.set = func(r *Row, i, j int, v *leafValue) { set(&(*at(r, i))[j], v) }
		}
		reg[prefix+".list.element."+f.name] = s
	}
}

func strFields() []fieldSet[StrAttr] {
	return []fieldSet[StrAttr]{
		{"key", kindString, func(e *StrAttr, v *leafValue) { e.Key = v.s }},
		{"value", kindString, func(e *StrAttr, v *leafValue) { e.Value = v.s }},
	}
}

func otherFields() []fieldSet[OtherAttr] {
	return []fieldSet[OtherAttr]{
		{"key", kindString, func(e *OtherAttr, v *leafValue) { e.Key = v.s }},
		{"value", kindBytes, func(e *OtherAttr, v *leafValue) { e.Value = append([]byte{}, v.b...) }},
	}
}

// rowSetters maps every leaf column path of Row (dotted) to its setter.
var rowSetters = func() map[string]leafSetter {
	reg := map[string]leafSetter{}
	top := func(path string, kind valueKind, set func(r *Row, v *leafValue)) {
		reg[path] = leafSetter{kind: kind, set: func(r *Row, _, _ int, v *leafValue) { set(r, v) }}
	}
	top("trace_id", kindFixed, func(r *Row, v *leafValue) { copy(r.TraceID[:], v.b) })
	top("span_id", kindFixed, func(r *Row, v *leafValue) { copy(r.SpanID[:], v.b) })
	top("parent_span_id", kindFixed, func(r *Row, v *leafValue) { copy(r.ParentSpanID[:], v.b) })
	top("start_unix_nano", kindInt, func(r *Row, v *leafValue) { r.StartUnixNano = v.i })
	top("duration_nano", kindInt, func(r *Row, v *leafValue) { r.DurationNano = v.i })
	top("service_name", kindString, func(r *Row, v *leafValue) { r.ServiceName = v.s })
	top("name", kindString, func(r *Row, v *leafValue) { r.Name = v.s })
	top("kind", kindInt, func(r *Row, v *leafValue) { r.Kind = int32(v.i) })
	top("status_code", kindInt, func(r *Row, v *leafValue) { r.StatusCode = int32(v.i) })
	top("status_message", kindString, func(r *Row, v *leafValue) { r.StatusMessage = v.s })
	top("trace_state", kindString, func(r *Row, v *leafValue) { r.TraceState = v.s })
	top("flags", kindInt, func(r *Row, v *leafValue) { r.Flags = uint32(v.i) })
	top("aliases", kindInt, func(r *Row, v *leafValue) { r.Aliases = uint32(v.i) })
	top("http_status_code", kindInt, func(r *Row, v *leafValue) { r.HTTPStatusCode = v.i })
	strCol := func(path string, field func(r *Row) *string) {
		top(path, kindString, func(r *Row, v *leafValue) { *field(r) = v.s })
	}
	for path, field := range map[string]func(r *Row) *string{
		"http_method": func(r *Row) *string { return &r.HTTPMethod }, "http_route": func(r *Row) *string { return &r.HTTPRoute },
		"url_path": func(r *Row) *string { return &r.URLPath }, "server_address": func(r *Row) *string { return &r.ServerAddress },
		"db_system": func(r *Row) *string { return &r.DBSystem }, "db_namespace": func(r *Row) *string { return &r.DBNamespace },
		"db_operation": func(r *Row) *string { return &r.DBOperation }, "db_collection": func(r *Row) *string { return &r.DBCollection },
		"db_query_text": func(r *Row) *string { return &r.DBQueryText }, "rpc_service": func(r *Row) *string { return &r.RPCService },
		"rpc_method":                      func(r *Row) *string { return &r.RPCMethod },
		"resource_service_version":        func(r *Row) *string { return &r.ServiceVersion },
		"resource_service_namespace":      func(r *Row) *string { return &r.ServiceNamespace },
		"resource_service_instance_id":    func(r *Row) *string { return &r.ServiceInstanceID },
		"resource_host_name":              func(r *Row) *string { return &r.HostName },
		"resource_deployment_environment": func(r *Row) *string { return &r.DeploymentEnv },
		"resource_telemetry_sdk_name":     func(r *Row) *string { return &r.SDKName },
		"resource_telemetry_sdk_language": func(r *Row) *string { return &r.SDKLanguage },
		"resource_telemetry_sdk_version":  func(r *Row) *string { return &r.SDKVersion },
		"resource_k8s_namespace_name":     func(r *Row) *string { return &r.K8sNamespace },
		"resource_k8s_pod_name":           func(r *Row) *string { return &r.K8sPod },
		"resource_k8s_deployment_name":    func(r *Row) *string { return &r.K8sDeployment },
		"resource_cloud_region":           func(r *Row) *string { return &r.CloudRegion },
		"resource_schema_url":             func(r *Row) *string { return &r.ResourceSchemaURL },
		"scope_name":                      func(r *Row) *string { return &r.ScopeName },
		"scope_version":                   func(r *Row) *string { return &r.ScopeVersion },
		"scope_schema_url":                func(r *Row) *string { return &r.ScopeSchemaURL },
	} {
		strCol(path, field)
	}
	top("dropped_attributes_count", kindInt, func(r *Row, v *leafValue) { r.DroppedAttrs = uint32(v.i) })
	top("dropped_events_count", kindInt, func(r *Row, v *leafValue) { r.DroppedEvents = uint32(v.i) })
	top("dropped_links_count", kindInt, func(r *Row, v *leafValue) { r.DroppedLinks = uint32(v.i) })
	top("resource_dropped_attributes_count", kindInt, func(r *Row, v *leafValue) { r.ResourceDropped = uint32(v.i) })
	top("scope_dropped_attributes_count", kindInt, func(r *Row, v *leafValue) { r.ScopeDropped = uint32(v.i) })
	top("parent_offset", kindInt, func(r *Row, v *leafValue) { r.ParentOffset = int32(v.i) })
	for i := 0; i < attrSlots; i++ {
		strCol(fmt.Sprintf("attr_%d", i), func(r *Row) *string { return r.slots()[i] })
	}

	addList(reg, "attrs_str", func(r *Row, _ int) *[]StrAttr { return &r.AttrsStr }, nil, strFields()...)
	addList(reg, "attrs_int", func(r *Row, _ int) *[]IntAttr { return &r.AttrsInt }, nil,
		fieldSet[IntAttr]{"key", kindString, func(e *IntAttr, v *leafValue) { e.Key = v.s }},
		fieldSet[IntAttr]{"value", kindInt, func(e *IntAttr, v *leafValue) { e.Value = v.i }})
	addList(reg, "attrs_double", func(r *Row, _ int) *[]DoubleAttr { return &r.AttrsDouble }, nil,
		fieldSet[DoubleAttr]{"key", kindString, func(e *DoubleAttr, v *leafValue) { e.Key = v.s }},
		fieldSet[DoubleAttr]{"value", kindFloat, func(e *DoubleAttr, v *leafValue) { e.Value = v.f }})
	addList(reg, "attrs_bool", func(r *Row, _ int) *[]BoolAttr { return &r.AttrsBool }, nil,
		fieldSet[BoolAttr]{"key", kindString, func(e *BoolAttr, v *leafValue) { e.Key = v.s }},
		fieldSet[BoolAttr]{"value", kindBool, func(e *BoolAttr, v *leafValue) { e.Value = v.i != 0 }})
	addList(reg, "attrs_other", func(r *Row, _ int) *[]OtherAttr { return &r.AttrsOther }, nil, otherFields()...)
	addList(reg, "resource_attrs_str", func(r *Row, _ int) *[]StrAttr { return &r.ResourceAttrsStr }, nil, strFields()...)
	addList(reg, "resource_attrs_other", func(r *Row, _ int) *[]OtherAttr { return &r.ResourceAttrsOther }, nil, otherFields()...)
	addList(reg, "scope_attrs_str", func(r *Row, _ int) *[]StrAttr { return &r.ScopeAttrsStr }, nil, strFields()...)
	addList(reg, "scope_attrs_other", func(r *Row, _ int) *[]OtherAttr { return &r.ScopeAttrsOther }, nil, otherFields()...)

	addList(reg, "events", func(r *Row, _ int) *[]Event { return &r.Events }, nil,
		fieldSet[Event]{"time_offset_nano", kindInt, func(e *Event, v *leafValue) { e.TimeOffsetNano = v.i }},
		fieldSet[Event]{"name", kindString, func(e *Event, v *leafValue) { e.Name = v.s }},
		fieldSet[Event]{"dropped_attributes_count", kindInt, func(e *Event, v *leafValue) { e.Dropped = uint32(v.i) }})
	growEvents := func(r *Row, n int) { growTo(&r.Events, n) }
	addList(reg, "events.list.element.attrs_str", func(r *Row, i int) *[]StrAttr { return &r.Events[i].AttrsStr }, growEvents, strFields()...)
	addList(reg, "events.list.element.attrs_other", func(r *Row, i int) *[]OtherAttr { return &r.Events[i].AttrsOther }, growEvents, otherFields()...)

	addList(reg, "links", func(r *Row, _ int) *[]Link { return &r.Links }, nil,
		fieldSet[Link]{"trace_id", kindFixed, func(e *Link, v *leafValue) { copy(e.TraceID[:], v.b) }},
		fieldSet[Link]{"span_id", kindFixed, func(e *Link, v *leafValue) { copy(e.SpanID[:], v.b) }},
		fieldSet[Link]{"trace_state", kindString, func(e *Link, v *leafValue) { e.TraceState = v.s }},
		fieldSet[Link]{"dropped_attributes_count", kindInt, func(e *Link, v *leafValue) { e.Dropped = uint32(v.i) }},
		fieldSet[Link]{"flags", kindInt, func(e *Link, v *leafValue) { e.Flags = uint32(v.i) }})
	growLinks := func(r *Row, n int) { growTo(&r.Links, n) }
	addList(reg, "links.list.element.attrs_str", func(r *Row, i int) *[]StrAttr { return &r.Links[i].AttrsStr }, growLinks, strFields()...)
	addList(reg, "links.list.element.attrs_other", func(r *Row, i int) *[]OtherAttr { return &r.Links[i].AttrsOther }, growLinks, otherFields()...)
	return reg
}()
