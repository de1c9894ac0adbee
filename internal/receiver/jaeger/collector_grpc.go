package jaeger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // clients may compress with gzip
	"google.golang.org/grpc/status"

	"github.com/clew-dev/clew/internal/receiver/ratelog"
	"github.com/clew-dev/clew/internal/server"
)

// GRPCOptions configure the collector gRPC receiver.
type GRPCOptions struct {
	Addr     string
	Consumer Consumer
	// MaxRequestBytes bounds one message (after decompression).
	MaxRequestBytes int
	// ServerOptions are added to the gRPC server's (interceptors for
	// request metrics, for one).
	ServerOptions []grpc.ServerOption
	// Services register more services on the same server (Jaeger remote
	// sampling's SamplingManager); their requests must decode themselves
	// with an Unmarshal([]byte) error method (see rawCodec).
	Services []func(grpc.ServiceRegistrar)
	Logger   *slog.Logger
}

// GRPC is a Component serving jaeger.api_v2.CollectorService/PostSpans, what
// jaeger-agent and the Collector's Jaeger exporter send to.
type GRPC struct {
	o    GRPCOptions
	log  *slog.Logger
	warn *ratelog.Limiter
	srv  *grpc.Server
	ln   net.Listener
	done chan struct{}
}

var (
	_ server.Component              = (*GRPC)(nil)
	_ api_v2.CollectorServiceServer = (*collectorService)(nil)
)

// NewGRPC returns the gRPC receiver; Start binds it.
func NewGRPC(o GRPCOptions) *GRPC {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = 16 << 20
	}
	g := &GRPC{o: o, log: o.Logger.With("component", NameCollectorGRPC)}
	g.warn = ratelog.New(g.log, slog.LevelWarn, 10*time.Second)
	opts := append([]grpc.ServerOption{grpc.MaxRecvMsgSize(o.MaxRequestBytes), grpc.ForceServerCodecV2(rawCodec{})}, o.ServerOptions...)
	g.srv = grpc.NewServer(opts...)
	g.srv.RegisterService(&collectorServiceDesc, &collectorService{g: g})
	for _, register := range o.Services {
		register(g.srv)
	}
	return g
}

// Name implements server.Component.
func (g *GRPC) Name() string { return NameCollectorGRPC }

// Addr returns the bound address once started.
func (g *GRPC) Addr() string {
	if g.ln == nil {
		return g.o.Addr
	}
	return g.ln.Addr().String()
}

// Start implements server.Component.
func (g *GRPC) Start(context.Context) error {
	ln, err := net.Listen("tcp", g.o.Addr)
	if err != nil {
		return err
	}
	g.ln = ln
	g.done = make(chan struct{})
	go func() {
		defer close(g.done)
		if err := g.srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			g.log.Error("gRPC server stopped", "err", err)
		}
	}()
	g.log.Info("listening", "addr", ln.Addr().String())
	return nil
}

// Shutdown implements server.Component: it stops taking calls and waits
// for running ones to finish, or stops them when ctx ends.
func (g *GRPC) Shutdown(ctx context.Context) error {
	stopped := make(chan struct{})
	go func() {
		g.srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		g.srv.Stop()
		<-stopped
		<-g.done
		return ctx.Err()
	}
	<-g.done
	return nil
}

type collectorService struct {
	g *GRPC
}

// collectorServiceDesc is jaeger.api_v2.CollectorService as generated in
// jaeger-idl, except that the request arrives as raw bytes (see rawCodec)
// and is decoded in the handler: a malformed message is then counted and
// answered with InvalidArgument, where a codec error would be an Internal
// error that no receiver metric sees.
var collectorServiceDesc = grpc.ServiceDesc{
	ServiceName: "jaeger.api_v2.CollectorService",
	HandlerType: (*api_v2.CollectorServiceServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "PostSpans",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			var raw rawMessage
			if err := dec(&raw); err != nil {
				return nil, err
			}
			c := srv.(*collectorService)
			req := new(api_v2.PostSpansRequest)
			if err := req.Unmarshal(raw); err != nil {
				c.g.o.Consumer.Refuse(NameCollectorGRPC, ReasonMalformed, 0)
				c.g.warn.Log("refused a malformed PostSpansRequest", "bytes", len(raw), "err", shortErr(err))
				return nil, status.Error(codes.InvalidArgument, "cannot decode PostSpansRequest: "+shortErr(err))
			}
			if interceptor == nil {
				return c.PostSpans(ctx, req)
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/jaeger.api_v2.CollectorService/PostSpans"}
			return interceptor(ctx, req, info, func(ctx context.Context, req any) (any, error) {
				return c.PostSpans(ctx, req.(*api_v2.PostSpansRequest))
			})
		},
	}},
	Streams:  []grpc.StreamDesc{},
	Metadata: "collector.proto",
}

// PostSpans implements api_v2.CollectorServiceServer.
func (c *collectorService) PostSpans(ctx context.Context, req *api_v2.PostSpansRequest) (*api_v2.PostSpansResponse, error) {
	o := c.g.o
	spans, err := ProtoToModel(&req.Batch)
	if err != nil {
		o.Consumer.Refuse(NameCollectorGRPC, ReasonMalformed, len(req.Batch.Spans))
		c.g.warn.Log("refused a batch", "err", shortErr(err))
		return nil, status.Error(codes.InvalidArgument, shortErr(err))
	}
	if len(spans) == 0 {
		return &api_v2.PostSpansResponse{}, nil
	}
	if _, err := o.Consumer.Consume(ctx, NameCollectorGRPC, spans); err != nil {
		switch {
		case isOverload(err):
			return nil, status.Error(codes.ResourceExhausted, "server overloaded, retry later: "+err.Error())
		case errors.Is(err, context.Canceled):
			return nil, status.Error(codes.Canceled, err.Error())
		}
		c.g.warn.Log("cannot store spans", "err", err)
		return nil, status.Error(codes.Internal, fmt.Sprintf("cannot store spans: %v", err))
	}
	return &api_v2.PostSpansResponse{}, nil
}
