package sampling

import (
	"context"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/clew-dev/clew/internal/config"
)

// params is the request of GetSamplingStrategy as the gRPC codec hands
// it over: a codec that decodes gogo messages by their Unmarshal method
// (the Jaeger collector port's) calls Unmarshal, and a malformed message
// is kept as an error for the handler to answer with InvalidArgument
// rather than failing in the codec with an Internal error.
type params struct {
	p   api_v2.SamplingStrategyParameters
	err error
}

// Unmarshal decodes the protobuf message; it never fails itself.
func (m *params) Unmarshal(b []byte) error {
	m.err = m.p.Unmarshal(b)
	return nil
}

// RegisterGRPC adds jaeger.api_v2.SamplingManager to a gRPC server whose
// codec decodes requests with their Unmarshal method (the Jaeger
// collector receiver's server).
func (s *Strategies) RegisterGRPC(r grpc.ServiceRegistrar) {
	r.RegisterService(&samplingManagerDesc, s)
}

var _ api_v2.SamplingManagerServer = (*Strategies)(nil)

// GetSamplingStrategy implements api_v2.SamplingManagerServer.
func (s *Strategies) GetSamplingStrategy(_ context.Context, p *api_v2.SamplingStrategyParameters) (*api_v2.SamplingStrategyResponse, error) {
	switch {
	case p.ServiceName == "":
		return nil, status.Error(codes.InvalidArgument, "serviceName must be set")
	case len(p.ServiceName) > config.MaxSamplingNameBytes:
		return nil, status.Errorf(codes.InvalidArgument, "serviceName is longer than %d bytes", config.MaxSamplingNameBytes)
	}
	return s.Lookup(p.ServiceName).Response, nil
}

// samplingManagerDesc is jaeger.api_v2.SamplingManager as generated in
// jaeger-idl, except that the request is decoded through params.
var samplingManagerDesc = grpc.ServiceDesc{
	ServiceName: "jaeger.api_v2.SamplingManager",
	HandlerType: (*api_v2.SamplingManagerServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "GetSamplingStrategy",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			var in params
			if err := dec(&in); err != nil {
				return nil, err
			}
			if in.err != nil {
				return nil, status.Error(codes.InvalidArgument, "cannot decode SamplingStrategyParameters: "+in.err.Error())
			}
			s := srv.(*Strategies)
			if interceptor == nil {
				return s.GetSamplingStrategy(ctx, &in.p)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/jaeger.api_v2.SamplingManager/GetSamplingStrategy"}
			return interceptor(ctx, &in.p, info, func(ctx context.Context, req any) (any, error) {
				return s.GetSamplingStrategy(ctx, req.(*api_v2.SamplingStrategyParameters))
			})
		},
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: "sampling.proto",
}
