package demo

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// telemetry is one service's OpenTelemetry setup: its own tracer provider
// (with its own service.name) and exporter.
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

// exportTimeout bounds one export of a batch of spans.
const exportTimeout = 10 * time.Second

// newExporter returns an OTLP exporter: over HTTP when endpoint is a URL
// (http://host:4318, with /v1/traces added when the URL has no path),
// otherwise over the shared gRPC connection.
func newExporter(ctx context.Context, endpoint string, conn *grpc.ClientConn) (sdktrace.SpanExporter, error) {
	if !isHTTPEndpoint(endpoint) {
		return otlptracegrpc.New(ctx, otlptracegrpc.WithGRPCConn(conn), otlptracegrpc.WithTimeout(exportTimeout))
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("OTLP endpoint %q: not a valid URL", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(exportTimeout))
}

func isHTTPEndpoint(endpoint string) bool {
	return strings.HasPrefix(endpoint, "http://") || strings.HasPrefix(endpoint, "https://")
}

func newTelemetry(service string, exp sdktrace.SpanExporter, prop propagation.TextMapPropagator, batchTimeout time.Duration) *telemetry {
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
	}
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
