package gen

import (
	"fmt"
	"net/http"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
)

func init() {
	registerProtocol(&Protocol{
		Name:            "otlp-grpc",
		Summary:         "OTLP over gRPC (TraceService/Export)",
		DefaultEndpoint: "127.0.0.1:4317",
		Encode:          encodeOTLPProto,
		Dial:            dialOTLPGRPC,
	})
	registerProtocol(&Protocol{
		Name:            "otlp-http",
		Summary:         "OTLP over HTTP, protobuf (POST /v1/traces)",
		DefaultEndpoint: "http://127.0.0.1:4318/v1/traces",
		HTTP:            true,
		Encode:          encodeOTLPProto,
		Dial: func(endpoint string, o SenderOptions) (Sender, error) {
			return newHTTPSender(endpoint, "POST", "application/x-protobuf", o, otlpHTTPResponse(false))
		},
	})
	registerProtocol(&Protocol{
		Name:            "otlp-http-json",
		Summary:         "OTLP over HTTP, JSON (POST /v1/traces)",
		DefaultEndpoint: "http://127.0.0.1:4318/v1/traces",
		HTTP:            true,
		Encode: func(spans []*model.Span) ([][]byte, error) {
			return one((&ptrace.JSONMarshaler{}).MarshalTraces(pdataconv.FromModel(spans)))
		},
		Dial: func(endpoint string, o SenderOptions) (Sender, error) {
			return newHTTPSender(endpoint, "POST", "application/json", o, otlpHTTPResponse(true))
		},
	})
}

func encodeOTLPProto(spans []*model.Span) ([][]byte, error) {
	// TracesData and ExportTraceServiceRequest share their wire form.
	return one((&ptrace.ProtoMarshaler{}).MarshalTraces(pdataconv.FromModel(spans)))
}

// one wraps a single body.
func one(b []byte, err error) ([][]byte, error) {
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}

const otlpExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

func dialOTLPGRPC(endpoint string, o SenderOptions) (Sender, error) {
	return dialGRPC(endpoint, otlpExportMethod, o, func(resp []byte) error { return checkPartial(resp, false) })
}

// checkPartial decodes an ExportTraceServiceResponse and reports its
// partial success as a *RejectedError.
func checkPartial(body []byte, json bool) error {
	if len(body) == 0 {
		return nil
	}
	r := ptraceotlp.NewExportResponse()
	var err error
	if json {
		err = r.UnmarshalJSON(body)
	} else {
		err = r.UnmarshalProto(body)
	}
	if err != nil {
		return fmt.Errorf("decode export response: %w", err)
	}
	if n := r.PartialSuccess().RejectedSpans(); n > 0 {
		return &RejectedError{Spans: n, Message: r.PartialSuccess().ErrorMessage()}
	}
	return nil
}

func otlpHTTPResponse(json bool) func(*http.Response, []byte) error {
	return func(resp *http.Response, body []byte) error {
		return checkPartial(body, json)
	}
}
