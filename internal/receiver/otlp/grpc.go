package otlp

import (
	"context"
	"fmt"
	"log/slog"
	"math/bits"
	"net"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/clew-dev/clew/internal/server"
)

// GRPC is the OTLP/gRPC receiver component.
type GRPC struct {
	addr     string
	consumer Consumer
	log      *slog.Logger
	srv      *grpc.Server

	mu sync.Mutex
	ln net.Listener
}

var _ server.Component = (*GRPC)(nil)

// NewGRPC returns an OTLP/gRPC receiver on addr accepting messages of up to
// maxBytes (decompressed).
func NewGRPC(addr string, maxBytes int, c Consumer, log *slog.Logger, opts ...grpc.ServerOption) *GRPC {
	r := &GRPC{addr: addr, consumer: c, log: log}
	r.srv = grpc.NewServer(append(opts,
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.MaxRecvMsgSize(maxBytes),
		grpc.MaxConcurrentStreams(1024),
		// gRPC's frames too come from requestPool, which does not clear
		// its buffers (frames are read into them in full).
		experimental.BufferPool(requestPool),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 5 * time.Minute}),
	)...)
	r.srv.RegisterService(&traceServiceDesc, r)
	return r
}

// Name implements server.Component.
func (r *GRPC) Name() string { return NameGRPC }

// Addr returns the bound address once started.
func (r *GRPC) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ln == nil {
		return r.addr
	}
	return r.ln.Addr().String()
}

// Start implements server.Component.
func (r *GRPC) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", r.addr)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	go func() {
		if err := r.srv.Serve(ln); err != nil {
			r.log.Error("OTLP/gRPC server stopped", "err", err)
		}
	}()
	r.log.Info("listening", "component", NameGRPC, "addr", ln.Addr().String())
	return nil
}

// Shutdown implements server.Component: in-flight exports finish first.
func (r *GRPC) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() { r.srv.GracefulStop(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		r.srv.Stop()
		return ctx.Err()
	}
}

// exportRaw decodes and handles one Export call.
func (r *GRPC) exportRaw(ctx context.Context, in []byte) ([]byte, error) {
	spans, arena, err := decodeProtoPooled(in)
	if err != nil {
		r.consumer.Refuse(NameGRPC, ReasonMalformed, 0)
		return nil, status.Errorf(codes.InvalidArgument, "decode ExportTraceServiceRequest: %s", shortErr(err))
	}
	out := export(ctx, r.consumer, NameGRPC, spans, arena.bounds())
	arena.release()
	if out.err != nil {
		if isOverload(out.err) {
			st := status.New(codes.ResourceExhausted, "server overloaded, retry later: "+shortErr(out.err))
			if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)}); err == nil {
				st = d
			}
			return nil, st.Err()
		}
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Errorf(codes.Unavailable, "store: %s", shortErr(out.err))
	}
	b, err := out.resp.MarshalProto()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "encode response: %v", err)
	}
	return b, nil
}

// The service is registered by hand with a raw codec so that a malformed
// request is answered with InvalidArgument (gRPC's own decoding would
// answer Internal) and so the bytes are decoded exactly once, by pdata.
var traceServiceDesc = grpc.ServiceDesc{
	ServiceName: "opentelemetry.proto.collector.trace.v1.TraceService",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Export",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			var in pooledRequest
			if err := dec(&in); err != nil {
				return nil, err
			}
			// Spans decoded from the request point into its bytes; they
			// are done with once exportRaw returns (store.Writer borrows).
			defer in.free()
			if interceptor == nil {
				return srv.(*GRPC).exportRaw(ctx, in.bytes())
			}
			info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/opentelemetry.proto.collector.trace.v1.TraceService/Export"}
			return interceptor(ctx, in.bytes(), info, func(ctx context.Context, req any) (any, error) {
				return srv.(*GRPC).exportRaw(ctx, req.([]byte))
			})
		},
	}},
	Metadata: "opentelemetry/proto/collector/trace/v1/trace_service.proto",
}

// rawCodec passes message bytes through untouched.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch b := v.(type) {
	case []byte:
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	case *[]byte:
		return mem.BufferSlice{mem.SliceBuffer(*b)}, nil
	}
	return nil, fmt.Errorf("BUG: raw codec cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch p := v.(type) {
	case *[]byte:
		*p = data.Materialize()
	case *pooledRequest:
		// One contiguous buffer from gRPC's pool instead of a fresh
		// allocation per request (a third of what ingestion allocated).
		p.buf = data.MaterializeToBuffer(requestPool)
	default:
		return fmt.Errorf("BUG: raw codec cannot unmarshal into %T", v)
	}
	return nil
}

// requestPool gives the buffers requests are gathered into. Unlike gRPC's
// default pool it does not clear a buffer it hands out: MaterializeToBuffer
// overwrites the request's length of it at once, and nothing reads past
// that. Clearing the whole buffer (up to twice the request) per request
// was about 3% of the server's CPU during ingest.
var requestPool = &dirtyPool{}

// dirtyPool is a mem.BufferPool of buffers whose capacities are powers of
// two from 4 KiB to 64 MiB; larger ones are not pooled.
type dirtyPool struct{ tiers [maxPoolTier + 1]sync.Pool }

const (
	minPoolTier = 12 // 4 KiB
	maxPoolTier = 26 // 64 MiB
)

// Get returns a buffer of length n whose bytes are not cleared.
func (p *dirtyPool) Get(n int) *[]byte {
	t := max(bits.Len(uint(max(n, 1)-1)), minPoolTier)
	if t > maxPoolTier {
		b := make([]byte, n)
		return &b
	}
	if v, ok := p.tiers[t].Get().(*[]byte); ok {
		*v = (*v)[:n]
		return v
	}
	b := make([]byte, n, 1<<t)
	return &b
}

// Put returns a buffer Get gave.
func (p *dirtyPool) Put(b *[]byte) {
	c := cap(*b)
	if c < 1<<minPoolTier || c > 1<<maxPoolTier || c&(c-1) != 0 {
		return
	}
	p.tiers[bits.Len(uint(c))-1].Put(b)
}

// pooledRequest is a request's bytes in a buffer of requestPool (or, when
// gRPC received it in one piece, gRPC's own buffer).
type pooledRequest struct{ buf mem.Buffer }

func (r *pooledRequest) bytes() []byte {
	if r.buf == nil {
		return nil
	}
	return r.buf.ReadOnlyData()
}

func (r *pooledRequest) free() {
	if r.buf != nil {
		r.buf.Free()
		r.buf = nil
	}
}
