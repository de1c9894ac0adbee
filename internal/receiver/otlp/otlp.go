// Package otlp receives OpenTelemetry traces: OTLP/gRPC
// (opentelemetry.proto.collector.trace.v1.TraceService/Export) and OTLP/HTTP
// (POST /v1/traces, protobuf or JSON, gzip). Protobuf requests are decoded
// straight into the model by a hand-written decoder (wire.go, checked
// against the Collector's pdata library), JSON ones with pdata; the spans
// are handed to the pipeline, with the decoder's bounds for its limits,
// and the reply is sent once the pipeline has stored them.
package otlp

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
	"github.com/clew-dev/clew/internal/pipeline"
)

// Receiver names as counted in /metrics.
const (
	NameGRPC = "otlp_grpc"
	NameHTTP = "otlp_http"
)

// Consumer is what the receivers hand spans to; *pipeline.Pipeline
// implements it.
type Consumer interface {
	Consume(ctx context.Context, receiver string, spans []*model.Span) (pipeline.Result, error)
	Refuse(receiver, reason string, n int)
}

// boundedConsumer is a Consumer that can skip its limits on spans whose
// decoder measured them (*pipeline.Pipeline).
type boundedConsumer interface {
	ConsumeBounded(ctx context.Context, receiver string, spans []*model.Span, b *pipeline.Bounds) (pipeline.Result, error)
}

var _ boundedConsumer = (*pipeline.Pipeline)(nil)

// Reasons a whole request is refused, as counted in /metrics.
const (
	ReasonMalformed   = "malformed"
	ReasonTooLarge    = "too_large"
	ReasonBadEncoding = "unsupported_encoding"
	ReasonMediaType   = "unsupported_media_type"
)

// outcome is the outcome of an export for the transports.
type outcome struct {
	resp ptraceotlp.ExportResponse
	err  error
}

// decode turns a request body into spans: protobuf with the wire decoder
// (into pooled memory: release the arena, nil-safe, once the spans are
// consumed), JSON with pdata's OTLP/JSON decoder.
func decode(body []byte, json bool) ([]*model.Span, *decodeArena, error) {
	if !json {
		return decodeProtoPooled(body)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalJSON(body); err != nil {
		return nil, nil, err
	}
	return pdataconv.ToModel(req.Traces()), nil, nil
}

// export passes decoded spans to the consumer and builds the OTLP response,
// with partial success when spans were rejected. b, when not nil, is the
// spans' bounds, for a consumer that takes them.
func export(ctx context.Context, c Consumer, receiver string, spans []*model.Span, b *pipeline.Bounds) outcome {
	resp := ptraceotlp.NewExportResponse()
	if len(spans) == 0 {
		return outcome{resp: resp}
	}
	var res pipeline.Result
	var err error
	if bc, ok := c.(boundedConsumer); ok && b != nil {
		res, err = bc.ConsumeBounded(ctx, receiver, spans, b)
	} else {
		res, err = c.Consume(ctx, receiver, spans)
	}
	if err != nil {
		return outcome{err: err}
	}
	if res.Rejected > 0 {
		ps := resp.PartialSuccess()
		ps.SetRejectedSpans(int64(res.Rejected))
		ps.SetErrorMessage(fmt.Sprintf("%d spans rejected (first reason: %s); see the limits in Clew's configuration reference", res.Rejected, res.RejectReason))
	}
	return outcome{resp: resp}
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
