package demo

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// telemetry is one service's OpenTelemetry setup: its own tracer provider
// (with its own service.name) exporting over the shared gRPC connection.
type telemetry struct {
	service string
	tp      *sdktrace.TracerProvider
	tracer  trace.Tracer
	prop    propagation.TextMapPropagator
	client  *http.Client
}

// maxQueuedSpans bounds the spans a service's SDK buffers before it drops
// (the SDK's own bounded queue).
const maxQueuedSpans = 4096

func newTelemetry(ctx context.Context, service string, conn *grpc.ClientConn, prop propagation.TextMapPropagator, batchTimeout time.Duration) (*telemetry, error) {
	exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithGRPCConn(conn), otlptracegrpc.WithTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter for %s: %w", service, err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", service),
		attribute.String("service.namespace", "clew-demo"),
		attribute.String("service.version", "1.4.2"),
		attribute.String("deployment.environment.name", "demo"),
		attribute.String("telemetry.sdk.name", "opentelemetry"),
		attribute.String("telemetry.sdk.language", "go"),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp,
			sdktrace.WithBatchTimeout(batchTimeout),
			sdktrace.WithMaxQueueSize(maxQueuedSpans),
		),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 32
	return &telemetry{
		service: service,
		tp:      tp,
		tracer:  tp.Tracer("github.com/clew-dev/clew/internal/demo/" + service),
		prop:    prop,
		client: &http.Client{
			Timeout: 10 * time.Second,
			Transport: otelhttp.NewTransport(base,
				otelhttp.WithTracerProvider(tp),
				otelhttp.WithPropagators(prop),
				otelhttp.WithSpanNameFormatter(clientSpanName),
			),
		},
	}, nil
}

// handler instruments a service's mux: one server span per request, named
// after the matched route, continuing the caller's W3C trace context.
func (t *telemetry) handler(mux http.Handler) http.Handler {
	return otelhttp.NewHandler(mux, t.service,
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
	)
}

// clientSpanName names a client span after the route it calls ("POST
// /validate", "GET /kv/{key}"), which reads better in a waterfall than the
// bare method; the demo's routes have few distinct paths.
func clientSpanName(_ string, r *http.Request) string {
	path := r.URL.Path
	if strings.HasPrefix(path, "/kv/") {
		path = "/kv/{key}"
	}
	return r.Method + " " + path
}

func (t *telemetry) shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// fail records err on the span as an exception event and marks the span
// failed.
func fail(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
