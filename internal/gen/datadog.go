package gen

import (
	"strconv"

	pb "github.com/DataDog/datadog-agent/pkg/proto/pbgo/trace"

	"github.com/clew-dev/clew/internal/model"
)

func init() {
	registerProtocol(&Protocol{
		Name:            "datadog",
		Summary:         "Datadog agent API v0.4, msgpack (PUT /v0.4/traces)",
		DefaultEndpoint: "http://127.0.0.1:8126/v0.4/traces",
		HTTP:            true,
		Encode:          encodeDatadog,
		Dial: func(endpoint string, o SenderOptions) (Sender, error) {
			s, err := newHTTPSender(endpoint, "PUT", "application/msgpack", o, nil)
			if err != nil {
				return nil, err
			}
			s.header.Set("Datadog-Meta-Lang", "go")
			s.header.Set("Datadog-Meta-Tracer-Version", "clew-gen")
			return s, nil
		},
	})
}

// encodeDatadog writes spans as a v0.4 payload: an array of traces, each an
// array of spans, in Datadog's own msgpack types. Trace ids keep 128 bits
// as current tracers send them: the low half in trace_id, the high half in
// the _dd.p.tid tag.
func encodeDatadog(spans []*model.Span) ([][]byte, error) {
	var traces pb.Traces
	index := map[model.TraceID]int{}
	for _, sp := range spans {
		i, ok := index[sp.TraceID]
		if !ok {
			i = len(traces)
			index[sp.TraceID] = i
			traces = append(traces, nil)
		}
		traces[i] = append(traces[i], datadogSpan(sp))
	}
	b, err := traces.MarshalMsg(nil)
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}

func datadogSpan(sp *model.Span) *pb.Span {
	high, low := sp.TraceID.Uint64s()
	out := &pb.Span{
		Service:  sp.ServiceName(),
		Name:     sp.Name,
		Resource: sp.Name,
		TraceID:  low,
		SpanID:   sp.SpanID.Uint64(),
		ParentID: sp.ParentSpanID.Uint64(),
		Start:    int64(sp.StartTimeUnixNano),
		Duration: int64(sp.Duration()),
		Meta:     map[string]string{},
		Metrics:  map[string]float64{},
		Type:     datadogType(sp),
	}
	if high != 0 {
		out.Meta["_dd.p.tid"] = strconv.FormatUint(high, 16)
	}
	if k := sp.Kind.String(); k != "" {
		out.Meta["span.kind"] = k
	}
	if sp.Resource != nil {
		if v, ok := sp.Resource.Attributes.Get("deployment.environment.name"); ok {
			out.Meta["env"] = v.AsString()
		}
		if v, ok := sp.Resource.Attributes.Get("service.version"); ok {
			out.Meta["version"] = v.AsString()
		}
	}
	for _, kv := range sp.Attributes {
		switch kv.Value.Type() {
		case model.ValueInt:
			out.Metrics[kv.Key] = float64(kv.Value.Int())
		case model.ValueDouble:
			out.Metrics[kv.Key] = kv.Value.Double()
		default:
			out.Meta[kv.Key] = kv.Value.AsString()
		}
	}
	for _, e := range sp.Events {
		if e.Name == "exception" {
			// Tracers report errors in tags, not events.
			for _, kv := range e.Attributes {
				switch kv.Key {
				case "exception.type":
					out.Meta["error.type"] = kv.Value.AsString()
				case "exception.message":
					out.Meta["error.message"] = kv.Value.AsString()
				}
			}
			continue
		}
		ev := &pb.SpanEvent{TimeUnixNano: e.TimeUnixNano, Name: e.Name, Attributes: map[string]*pb.AttributeAnyValue{}}
		for _, kv := range e.Attributes {
			ev.Attributes[kv.Key] = datadogValue(kv.Value)
		}
		out.SpanEvents = append(out.SpanEvents, ev)
	}
	for _, l := range sp.Links {
		lh, ll := l.TraceID.Uint64s()
		out.SpanLinks = append(out.SpanLinks, &pb.SpanLink{TraceID: ll, TraceIDHigh: lh, SpanID: l.SpanID.Uint64(), Tracestate: l.TraceState, Flags: l.Flags})
	}
	if sp.Status.Code == model.StatusError {
		out.Error = 1
		if _, ok := out.Meta["error.message"]; !ok && sp.Status.Message != "" {
			out.Meta["error.message"] = sp.Status.Message
		}
	}
	return out
}

// datadogType is the span type Datadog's UI groups by.
func datadogType(sp *model.Span) string {
	if _, ok := sp.Attributes.Get("db.system.name"); ok {
		return "db"
	}
	switch sp.Kind {
	case model.SpanKindServer:
		return "web"
	case model.SpanKindClient:
		return "http"
	}
	return "custom"
}

func datadogValue(v model.Value) *pb.AttributeAnyValue {
	switch v.Type() {
	case model.ValueBool:
		return &pb.AttributeAnyValue{Type: pb.AttributeAnyValue_BOOL_VALUE, BoolValue: v.Bool()}
	case model.ValueInt:
		return &pb.AttributeAnyValue{Type: pb.AttributeAnyValue_INT_VALUE, IntValue: v.Int()}
	case model.ValueDouble:
		return &pb.AttributeAnyValue{Type: pb.AttributeAnyValue_DOUBLE_VALUE, DoubleValue: v.Double()}
	}
	return &pb.AttributeAnyValue{Type: pb.AttributeAnyValue_STRING_VALUE, StringValue: v.AsString()}
}
