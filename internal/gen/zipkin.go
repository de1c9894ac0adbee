package gen

import (
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv2"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
)

func init() {
	registerProtocol(&Protocol{
		Name:            "zipkin",
		Summary:         "Zipkin API v2, JSON (POST /api/v2/spans)",
		DefaultEndpoint: "http://127.0.0.1:9411/api/v2/spans",
		HTTP:            true,
		Encode:          zipkinEncoder(zipkinv2.NewJSONTracesMarshaler()),
		Dial: func(endpoint string, o SenderOptions) (Sender, error) {
			return newHTTPSender(endpoint, "POST", "application/json", o, nil)
		},
	})
	registerProtocol(&Protocol{
		Name:            "zipkin-proto",
		Summary:         "Zipkin API v2, proto3 (POST /api/v2/spans)",
		DefaultEndpoint: "http://127.0.0.1:9411/api/v2/spans",
		HTTP:            true,
		Encode:          zipkinEncoder(zipkinv2.NewProtobufTracesMarshaler()),
		Dial: func(endpoint string, o SenderOptions) (Sender, error) {
			return newHTTPSender(endpoint, "POST", "application/x-protobuf", o, nil)
		},
	})
}

// zipkinEncoder maps spans to Zipkin v2 with the Collector's translator
// (zipkin-go's model) and encodes them with m.
func zipkinEncoder(m ptrace.Marshaler) func([]*model.Span) ([][]byte, error) {
	return func(spans []*model.Span) ([][]byte, error) {
		return one(m.MarshalTraces(pdataconv.FromModel(spans)))
	}
}
