package gen

import (
	"context"

	"github.com/apache/thrift/lib/go/thrift"
	jmodel "github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/agent"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	jaegertranslator "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/jaeger"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
)

// maxJaegerDatagram is the jaeger clients' default UDP packet size.
const maxJaegerDatagram = 65000

func init() {
	registerProtocol(&Protocol{
		Name:            "jaeger-compact",
		Summary:         "Jaeger agent, emitBatch in compact thrift over UDP",
		DefaultEndpoint: "127.0.0.1:6831",
		MaxBodyBytes:    maxJaegerDatagram,
		Encode: func(spans []*model.Span) ([][]byte, error) {
			return encodeEmitBatch(spans, func(t thrift.TTransport) thrift.TProtocol {
				return thrift.NewTCompactProtocolConf(t, &thrift.TConfiguration{})
			})
		},
		UDP:  true,
		Dial: dialUDP,
	})
	registerProtocol(&Protocol{
		Name:            "jaeger-binary",
		Summary:         "Jaeger agent, emitBatch in binary thrift over UDP",
		DefaultEndpoint: "127.0.0.1:6832",
		MaxBodyBytes:    maxJaegerDatagram,
		Encode: func(spans []*model.Span) ([][]byte, error) {
			return encodeEmitBatch(spans, func(t thrift.TTransport) thrift.TProtocol {
				return thrift.NewTBinaryProtocolConf(t, &thrift.TConfiguration{})
			})
		},
		UDP:  true,
		Dial: dialUDP,
	})
	registerProtocol(&Protocol{
		Name:            "jaeger-http",
		Summary:         "Jaeger collector, binary thrift Batch over HTTP (POST /api/traces)",
		DefaultEndpoint: "http://127.0.0.1:14268/api/traces",
		HTTP:            true,
		Encode:          encodeJaegerHTTP,
		Dial: func(endpoint string, o SenderOptions) (Sender, error) {
			return newHTTPSender(endpoint, "POST", "application/x-thrift", o, nil)
		},
	})
	registerProtocol(&Protocol{
		Name:            "jaeger-grpc",
		Summary:         "Jaeger collector, gRPC (CollectorService/PostSpans)",
		DefaultEndpoint: "127.0.0.1:14250",
		Encode:          encodeJaegerGRPC,
		Dial: func(endpoint string, o SenderOptions) (Sender, error) {
			return dialGRPC(endpoint, "/jaeger.api_v2.CollectorService/PostSpans", o, nil)
		},
	})
}

// jaegerBatches maps spans to Jaeger batches (one per resource) with the
// Collector's translator, the mapping Jaeger's own OTLP support uses.
func jaegerBatches(spans []*model.Span) []*jmodel.Batch {
	return jaegertranslator.ProtoFromTraces(pdataconv.FromModel(spans))
}

func encodeJaegerGRPC(spans []*model.Span) ([][]byte, error) {
	var out [][]byte
	for _, b := range jaegerBatches(spans) {
		req := api_v2.PostSpansRequest{Batch: *b}
		body, err := req.Marshal()
		if err != nil {
			return nil, err
		}
		out = append(out, body)
	}
	return out, nil
}

func encodeJaegerHTTP(spans []*model.Span) ([][]byte, error) {
	ser := thrift.NewTSerializer()
	var out [][]byte
	for _, b := range jaegerBatches(spans) {
		body, err := ser.Write(context.Background(), thriftBatch(b))
		if err != nil {
			return nil, err
		}
		out = append(out, append([]byte(nil), body...))
	}
	return out, nil
}

func encodeEmitBatch(spans []*model.Span, newProto func(thrift.TTransport) thrift.TProtocol) ([][]byte, error) {
	ctx := context.Background()
	var out [][]byte
	for i, b := range jaegerBatches(spans) {
		buf := thrift.NewTMemoryBuffer()
		p := newProto(buf)
		if err := p.WriteMessageBegin(ctx, "emitBatch", thrift.ONEWAY, int32(i+1)); err != nil {
			return nil, err
		}
		args := agent.AgentEmitBatchArgs{Batch: thriftBatch(b)}
		if err := args.Write(ctx, p); err != nil {
			return nil, err
		}
		if err := p.WriteMessageEnd(ctx); err != nil {
			return nil, err
		}
		if err := p.Flush(ctx); err != nil {
			return nil, err
		}
		out = append(out, append([]byte(nil), buf.Bytes()...))
	}
	return out, nil
}

// thriftBatch converts a Jaeger model batch to its thrift form, field by
// field, as the Jaeger clients write it.
func thriftBatch(b *jmodel.Batch) *jaeger.Batch {
	out := &jaeger.Batch{Process: &jaeger.Process{}}
	if b.Process != nil {
		out.Process.ServiceName = b.Process.ServiceName
		out.Process.Tags = thriftTags(b.Process.Tags)
	}
	out.Spans = make([]*jaeger.Span, 0, len(b.Spans))
	for _, s := range b.Spans {
		ts := &jaeger.Span{
			TraceIdLow:    int64(s.TraceID.Low),
			TraceIdHigh:   int64(s.TraceID.High),
			SpanId:        int64(s.SpanID),
			ParentSpanId:  int64(s.ParentSpanID()),
			OperationName: s.OperationName,
			Flags:         int32(s.Flags),
			StartTime:     s.StartTime.UnixMicro(),
			Duration:      s.Duration.Microseconds(),
			Tags:          thriftTags(s.Tags),
		}
		for _, r := range s.References {
			rt := jaeger.SpanRefType_CHILD_OF
			if r.RefType == jmodel.FollowsFrom {
				rt = jaeger.SpanRefType_FOLLOWS_FROM
			}
			ts.References = append(ts.References, &jaeger.SpanRef{
				RefType: rt, TraceIdLow: int64(r.TraceID.Low), TraceIdHigh: int64(r.TraceID.High), SpanId: int64(r.SpanID),
			})
		}
		for _, l := range s.Logs {
			ts.Logs = append(ts.Logs, &jaeger.Log{Timestamp: l.Timestamp.UnixMicro(), Fields: thriftTags(l.Fields)})
		}
		out.Spans = append(out.Spans, ts)
	}
	return out
}

func thriftTags(kvs []jmodel.KeyValue) []*jaeger.Tag {
	if len(kvs) == 0 {
		return nil
	}
	out := make([]*jaeger.Tag, 0, len(kvs))
	for i := range kvs {
		kv := &kvs[i]
		t := &jaeger.Tag{Key: kv.Key}
		switch kv.VType {
		case jmodel.ValueType_BOOL:
			t.VType, t.VBool = jaeger.TagType_BOOL, thrift.BoolPtr(kv.VBool)
		case jmodel.ValueType_INT64:
			t.VType, t.VLong = jaeger.TagType_LONG, thrift.Int64Ptr(kv.VInt64)
		case jmodel.ValueType_FLOAT64:
			t.VType, t.VDouble = jaeger.TagType_DOUBLE, thrift.Float64Ptr(kv.VFloat64)
		case jmodel.ValueType_BINARY:
			t.VType, t.VBinary = jaeger.TagType_BINARY, kv.VBinary
		default:
			t.VType, t.VStr = jaeger.TagType_STRING, thrift.StringPtr(kv.VStr)
		}
		out = append(out, t)
	}
	return out
}
