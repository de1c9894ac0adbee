package jaeger

import (
	"encoding/base64"
	"math"
	"strconv"

	"github.com/clew-dev/clew/internal/model"
)

// The reference rendering of traces: the structs and mapping the API used
// before encode.go, rendered by encoding/json. TestEncoderMatchesEncodingJSON
// and FuzzEncoder check that traceEncoder writes the same bytes.

type jTrace struct {
	TraceID   string              `json:"traceID"`
	Spans     []jSpan             `json:"spans"`
	Processes map[string]jProcess `json:"processes"`
	Warnings  []string            `json:"warnings"`
}

type jSpan struct {
	TraceID       string       `json:"traceID"`
	SpanID        string       `json:"spanID"`
	Flags         uint32       `json:"flags,omitempty"`
	OperationName string       `json:"operationName"`
	References    []jReference `json:"references"`
	StartTime     uint64       `json:"startTime"`
	Duration      uint64       `json:"duration"`
	Tags          []jKeyValue  `json:"tags"`
	Logs          []jLog       `json:"logs"`
	ProcessID     string       `json:"processID"`
	Warnings      []string     `json:"warnings"`
}

type jReference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jKeyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
}

type jLog struct {
	Timestamp uint64      `json:"timestamp"`
	Fields    []jKeyValue `json:"fields"`
}

type jProcess struct {
	ServiceName string      `json:"serviceName"`
	Tags        []jKeyValue `json:"tags"`
}

func spanIDString(id model.SpanID) string { return id.String() }

// toJaegerTrace renders a trace as the Jaeger UI expects it, mapping OTLP
// fields the way the OpenTelemetry Collector's Jaeger translator does.
func toJaegerTrace(t *model.Trace) jTrace {
	out := jTrace{
		TraceID:   t.TraceID.JaegerString(),
		Spans:     make([]jSpan, 0, len(t.Spans)),
		Processes: map[string]jProcess{},
	}
	procIDs := map[*model.Resource]string{}
	// Resources that are equal but distinct pointers share a process id.
	procByKey := map[string]string{}
	for _, sp := range t.Spans {
		pid, ok := procIDs[sp.Resource]
		if !ok {
			p := toProcess(sp.Resource)
			key := processKey(p)
			if pid, ok = procByKey[key]; !ok {
				pid = "p" + strconv.Itoa(len(out.Processes)+1)
				out.Processes[pid] = p
				procByKey[key] = pid
			}
			procIDs[sp.Resource] = pid
		}
		out.Spans = append(out.Spans, toJaegerSpan(sp, pid))
	}
	return out
}

func processKey(p jProcess) string {
	b := []byte(p.ServiceName)
	for _, kv := range p.Tags {
		b = append(b, 0)
		b = append(b, kv.Key...)
		b = append(b, 0)
		b = append(b, kv.Type...)
		b = append(b, 0)
		b = strconv.AppendQuote(b, jsonText(kv.Value))
	}
	return string(b)
}

func jsonText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return ""
}

func toProcess(r *model.Resource) jProcess {
	p := jProcess{ServiceName: r.ServiceName(), Tags: []jKeyValue{}}
	if r == nil {
		return p
	}
	for _, kv := range r.Attributes {
		if kv.Key == model.AttrServiceName {
			continue
		}
		p.Tags = append(p.Tags, toKeyValue(kv.Key, kv.Value))
	}
	return p
}

func toJaegerSpan(sp *model.Span, pid string) jSpan {
	traceID := sp.TraceID.JaegerString()
	js := jSpan{
		TraceID:       traceID,
		SpanID:        spanIDString(sp.SpanID),
		Flags:         sp.Flags & 0xff,
		OperationName: sp.Name,
		References:    []jReference{},
		StartTime:     sp.StartTimeUnixNano / 1000,
		Duration:      uint64(sp.Duration().Microseconds()),
		Tags:          make([]jKeyValue, 0, len(sp.Attributes)+4),
		Logs:          []jLog{},
		ProcessID:     pid,
	}
	if !sp.ParentSpanID.IsZero() {
		js.References = append(js.References, jReference{RefType: refChildOf, TraceID: traceID, SpanID: spanIDString(sp.ParentSpanID)})
	}
	for i := range sp.Links {
		ln := &sp.Links[i]
		ref := refFollowsFrom
		if v, ok := ln.Attributes.Get(attrRefType); ok && v.Str() == "child_of" {
			ref = refChildOf
		}
		js.References = append(js.References, jReference{RefType: ref, TraceID: ln.TraceID.JaegerString(), SpanID: spanIDString(ln.SpanID)})
	}
	for _, kv := range sp.Attributes {
		js.Tags = append(js.Tags, toKeyValue(kv.Key, kv.Value))
	}
	if sp.Scope != nil {
		if sp.Scope.Name != "" {
			js.Tags = append(js.Tags, jKeyValue{Key: "otel.scope.name", Type: "string", Value: sp.Scope.Name})
		}
		if sp.Scope.Version != "" {
			js.Tags = append(js.Tags, jKeyValue{Key: "otel.scope.version", Type: "string", Value: sp.Scope.Version})
		}
	}
	if k := sp.Kind.String(); k != "" {
		js.Tags = append(js.Tags, jKeyValue{Key: "span.kind", Type: "string", Value: k})
	}
	switch sp.Status.Code {
	case model.StatusError:
		js.Tags = append(js.Tags,
			jKeyValue{Key: "error", Type: "bool", Value: true},
			jKeyValue{Key: "otel.status_code", Type: "string", Value: "ERROR"})
		if sp.Status.Message != "" {
			js.Tags = append(js.Tags, jKeyValue{Key: "otel.status_description", Type: "string", Value: sp.Status.Message})
		}
	case model.StatusOK:
		js.Tags = append(js.Tags, jKeyValue{Key: "otel.status_code", Type: "string", Value: "OK"})
	}
	if sp.TraceState != "" {
		js.Tags = append(js.Tags, jKeyValue{Key: "w3c.tracestate", Type: "string", Value: sp.TraceState})
	}
	for i := range sp.Events {
		ev := &sp.Events[i]
		l := jLog{Timestamp: ev.TimeUnixNano / 1000, Fields: make([]jKeyValue, 0, len(ev.Attributes)+1)}
		if ev.Name != "" {
			l.Fields = append(l.Fields, jKeyValue{Key: "event", Type: "string", Value: ev.Name})
		}
		for _, kv := range ev.Attributes {
			l.Fields = append(l.Fields, toKeyValue(kv.Key, kv.Value))
		}
		js.Logs = append(js.Logs, l)
	}
	return js
}

// toKeyValue keeps the five Jaeger types; arrays and maps become their JSON
// text, as the Collector's translator does.
func toKeyValue(key string, v model.Value) jKeyValue {
	switch v.Type() {
	case model.ValueBool:
		return jKeyValue{Key: key, Type: "bool", Value: v.Bool()}
	case model.ValueInt:
		return jKeyValue{Key: key, Type: "int64", Value: v.Int()}
	case model.ValueDouble:
		f := v.Double()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			// JSON has no such numbers; keep the value readable.
			return jKeyValue{Key: key, Type: "string", Value: v.AsString()}
		}
		return jKeyValue{Key: key, Type: "float64", Value: f}
	case model.ValueBytes:
		return jKeyValue{Key: key, Type: "binary", Value: base64.StdEncoding.EncodeToString(v.Bytes())}
	}
	return jKeyValue{Key: key, Type: "string", Value: v.AsString()}
}
