package gen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
)

func init() {
	registerProtocol(&Protocol{
		Name:            "otlp-grpc",
		Summary:         "OTLP over gRPC (TraceService/Export)",
		DefaultEndpoint: "127.0.0.1:4317",
		Encode:          encodeOTLPProto,
		Dial:            dialOTLPGRPC,
	})
	registerProtocol(&Protocol{
		Name:            "otlp-http",
		Summary:         "OTLP over HTTP, protobuf (POST /v1/traces)",
		DefaultEndpoint: "http://127.0.0.1:4318/v1/traces",
		HTTP:            true,
		Encode:          encodeOTLPProto,
		Dial: func(endpoint string, o SenderOptions) (Sender, error) {
			return newHTTPSender(endpoint, "POST", "application/x-protobuf", o, otlpHTTPResponse(false))
		},
	})
	registerProtocol(&Protocol{
		Name:            "otlp-http-json",
		Summary:         "OTLP over HTTP, JSON (POST /v1/traces)",
		DefaultEndpoint: "http://127.0.0.1:4318/v1/traces",
		HTTP:            true,
		Encode: func(spans []*model.Span) ([][]byte, error) {
			return one((&ptrace.JSONMarshaler{}).MarshalTraces(pdataconv.FromModel(spans)))
		},
		Dial: func(endpoint string, o SenderOptions) (Sender, error) {
			return newHTTPSender(endpoint, "POST", "application/json", o, otlpHTTPResponse(true))
		},
	})
}

func encodeOTLPProto(spans []*model.Span) ([][]byte, error) {
	// TracesData and ExportTraceServiceRequest share their wire form.
	return one((&ptrace.ProtoMarshaler{}).MarshalTraces(pdataconv.FromModel(spans)))
}

// one wraps a single body.
func one(b []byte, err error) ([][]byte, error) {
	if err != nil {
		return nil, err
	}
	return [][]byte{b}, nil
}

const otlpExportMethod = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

func dialOTLPGRPC(endpoint string, o SenderOptions) (Sender, error) {
	return dialGRPC(endpoint, otlpExportMethod, o, func(resp []byte) error { return checkPartial(resp, false) })
}

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

func (rawCodec) Marshal(v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		return b, nil
	}
	return nil, fmt.Errorf("BUG: raw codec given %T", v)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("BUG: raw codec given %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }

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

// checkPartial decodes an ExportTraceServiceResponse and reports its
// partial success as a *RejectedError.
func checkPartial(body []byte, json bool) error {
	if len(body) == 0 {
		return nil
	}
	r := ptraceotlp.NewExportResponse()
	var err error
	if json {
		err = r.UnmarshalJSON(body)
	} else {
		err = r.UnmarshalProto(body)
	}
	if err != nil {
		return fmt.Errorf("decode export response: %w", err)
	}
	if n := r.PartialSuccess().RejectedSpans(); n > 0 {
		return &RejectedError{Spans: n, Message: r.PartialSuccess().ErrorMessage()}
	}
	return nil
}

func otlpHTTPResponse(json bool) func(*http.Response, []byte) error {
	return func(resp *http.Response, body []byte) error {
		return checkPartial(body, json)
	}
}

// httpSender POSTs (or PUTs) bodies to one URL. check, when not nil,
// inspects a 2xx response.
type httpSender struct {
	url, method, contentType string
	header                   http.Header
	gzip                     bool
	client                   *http.Client
	check                    func(*http.Response, []byte) error
}

func newHTTPSender(url, method, contentType string, o SenderOptions, check func(*http.Response, []byte) error) (*httpSender, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return nil, fmt.Errorf("endpoint %q: want an http:// or https:// URL", url)
	}
	conns := max(o.Conns, 1)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	tr.MaxConnsPerHost = conns
	return &httpSender{
		url: url, method: method, contentType: contentType,
		header: http.Header{},
		gzip:   o.Gzip,
		client: &http.Client{Transport: tr, Timeout: o.Timeout},
		check:  check,
	}, nil
}

// maxResponseBytes bounds what a sender reads of a reply.
const maxResponseBytes = 1 << 20

func (s *httpSender) Send(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, s.method, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", s.contentType)
	if s.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range s.header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		return fmt.Errorf("%w: HTTP %d", ErrThrottled, resp.StatusCode)
	case resp.StatusCode/100 != 2:
		msg := strings.TrimSpace(string(reply))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	if s.check != nil {
		return s.check(resp, reply)
	}
	return nil
}

func (s *httpSender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
