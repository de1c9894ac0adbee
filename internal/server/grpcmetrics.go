package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// GRPCMetrics instruments gRPC servers with request latencies by method and
// status code.
type GRPCMetrics struct {
	duration *prometheus.HistogramVec
}

// NewGRPCMetrics registers the metrics with reg (when not nil).
func NewGRPCMetrics(reg prometheus.Registerer) *GRPCMetrics {
	m := &GRPCMetrics{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "clew_grpc_request_duration_seconds",
		Help:    "Latency of gRPC calls, by server, method and status code.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
	}, []string{"server", "method", "code"})}
	if reg != nil {
		reg.MustRegister(m.duration)
	}
	return m
}

// Interceptor returns a unary interceptor recording each call under server.
// A nil *GRPCMetrics records nothing.
func (m *GRPCMetrics) Interceptor(server string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		if m != nil {
			m.duration.WithLabelValues(server, info.FullMethod, status.Code(err).String()).Observe(time.Since(start).Seconds())
		}
		return resp, err
	}
}
