// Package jaeger receives spans from legacy Jaeger clients and agents: the
// agent's UDP ports (emitBatch in compact thrift on 6831, binary thrift on
// 6832), the collector's HTTP endpoint (POST /api/traces, a binary thrift
// Batch, on 14268) and the collector's gRPC service
// (jaeger.api_v2.CollectorService/PostSpans on 14250).
//
// Payloads are decoded with the protocol's own libraries (jaeger-idl's
// generated thrift and protobuf types, Apache Thrift's protocols), mapped to
// OpenTelemetry by the OpenTelemetry Collector's Jaeger translator, and
// converted to Clew's model; docs/receivers/jaeger.md lists the mapping.
package jaeger

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jaegertracing/jaeger-idl/model/v1"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/jaeger"
	jaegertranslator "github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/jaeger"

	clewmodel "github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
	"github.com/clew-dev/clew/internal/pipeline"
)

// Receiver names as counted in /metrics.
const (
	NameAgentCompact  = "jaeger_agent_compact"
	NameAgentBinary   = "jaeger_agent_binary"
	NameCollectorHTTP = "jaeger_collector_http"
	NameCollectorGRPC = "jaeger_collector_grpc"
)

// Reasons a datagram or request is refused, as counted in /metrics.
const (
	ReasonMalformed   = "malformed"
	ReasonTooLarge    = "too_large"
	ReasonBadEncoding = "unsupported_encoding"
	ReasonMediaType   = "unsupported_media_type"
	ReasonUnsupported = "unsupported_method"
	ReasonQueueFull   = "queue_full"
	ReasonShutdown    = "shutting_down"
)

// Consumer is what the receivers hand spans to; *pipeline.Pipeline
// implements it.
type Consumer interface {
	Consume(ctx context.Context, receiver string, spans []*clewmodel.Span) (pipeline.Result, error)
	Refuse(receiver, reason string, n int)
}

var _ Consumer = (*pipeline.Pipeline)(nil)

// ErrTranslatorPanic is returned (wrapped) when the Collector's translator
// panicked on a batch (a nil list element, say, which the decoders never
// produce, but a batch built in code might): a bad batch must not crash a
// receiver.
var ErrTranslatorPanic = errors.New("the translator failed on the batch")

func recoverTranslator(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrTranslatorPanic, r)
	}
}

// ThriftToModel maps a thrift Batch (agent and collector HTTP) to spans by
// the Collector's rules.
func ThriftToModel(b *jaeger.Batch) (_ []*clewmodel.Span, err error) {
	defer recoverTranslator(&err)
	td, err := jaegertranslator.ThriftToTraces(b)
	if err != nil {
		return nil, fmt.Errorf("translate thrift batch: %w", err)
	}
	return pdataconv.ToModel(td), nil
}

// ProtoToModel maps a protobuf Batch (collector gRPC) to spans by the
// Collector's rules.
func ProtoToModel(b *model.Batch) (_ []*clewmodel.Span, err error) {
	defer recoverTranslator(&err)
	td, err := jaegertranslator.ProtoToTraces([]*model.Batch{b})
	if err != nil {
		return nil, fmt.Errorf("translate proto batch: %w", err)
	}
	return pdataconv.ToModel(td), nil
}

// isOverload reports whether err means "retry later".
func isOverload(err error) bool {
	return pipeline.IsOverload(err) || errors.Is(err, context.DeadlineExceeded)
}

// shortErr keeps decoder messages readable and bounded.
func shortErr(err error) string {
	s := err.Error()
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return strings.TrimSpace(s)
}
