package gen

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

var _ Sender = (*grpcSender)(nil)

// grpcSender calls one unary method with pre-encoded requests. check, when
// not nil, inspects the response bytes.
type grpcSender struct {
	conn    *grpc.ClientConn
	method  string
	timeout time.Duration
	check   func([]byte) error
}

func dialGRPC(endpoint, method string, o SenderOptions, check func([]byte) error) (*grpcSender, error) {
	endpoint = strings.TrimPrefix(strings.TrimPrefix(endpoint, "http://"), "grpc://")
	conn, err := grpc.NewClient(endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(4<<20)),
	)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", endpoint, err)
	}
	return &grpcSender{conn: conn, method: method, timeout: o.Timeout, check: check}, nil
}

// rawCodec sends pre-encoded protobuf bytes as they are and hands back the
// response bytes undecoded.
type rawCodec struct{}

// Marshal passes a []byte through.
func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		return b, nil
	}
	return nil, fmt.Errorf("BUG: raw codec given %T", v)
}

// Unmarshal copies the response bytes.
func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("BUG: raw codec given %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

// Name is "proto": the content-subtype receivers expect.
func (rawCodec) Name() string { return "proto" }

// Send implements Sender.
func (s *grpcSender) Send(ctx context.Context, body []byte) error {
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	var resp []byte
	err := s.conn.Invoke(ctx, s.method, body, &resp, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		if isSlowDown(err) {
			return fmt.Errorf("%w: %v", ErrThrottled, err)
		}
		return err
	}
	if s.check != nil {
		return s.check(resp)
	}
	return nil
}

// Close implements Sender.
func (s *grpcSender) Close() error { return s.conn.Close() }

// isSlowDown reports whether a gRPC error asks the client to retry later:
// RESOURCE_EXHAUSTED, or UNAVAILABLE carrying a RetryInfo (as OTLP servers
// throttle). An UNAVAILABLE without it is a connection failure.
func isSlowDown(err error) bool {
	st := status.Convert(err)
	switch st.Code() {
	case codes.ResourceExhausted:
		return true
	case codes.Unavailable:
		for _, d := range st.Details() {
			if _, ok := d.(*errdetails.RetryInfo); ok {
				return true
			}
		}
	}
	return false
}
