// Package zipkin receives spans from Zipkin clients on the Zipkin server's
// port (9411): POST /api/v2/spans (JSON or proto3) and POST /api/v1/spans
// (JSON, and thrift as the Collector also takes it).
//
// Bodies are decoded with zipkin-go's model (v2 JSON and proto3) and mapped
// to OpenTelemetry by the OpenTelemetry Collector's Zipkin translators, then
// converted to Clew's model; docs/receivers/zipkin.md lists the mapping.
package zipkin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv1"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/translator/zipkin/zipkinv2"
	zipkinmodel "github.com/openzipkin/zipkin-go/model"
	"github.com/openzipkin/zipkin-go/proto/zipkin_proto3"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/model/pdataconv"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/httpbody"
	"github.com/clew-dev/clew/internal/receiver/ratelog"
	"github.com/clew-dev/clew/internal/server"
)

// Name is the receiver name counted in /metrics.
const Name = "zipkin"

// Reasons a request is refused, as counted in /metrics.
const (
	ReasonMalformed   = "malformed"
	ReasonTooLarge    = "too_large"
	ReasonBadEncoding = "unsupported_encoding"
)

// Consumer is what the receiver hands spans to; *pipeline.Pipeline
// implements it.
type Consumer interface {
	Consume(ctx context.Context, receiver string, spans []*model.Span) (pipeline.Result, error)
	Refuse(receiver, reason string, n int)
}

var _ Consumer = (*pipeline.Pipeline)(nil)

// Format is a Zipkin wire format.
type Format int

// The formats the receiver decodes.
const (
	V2JSON Format = iota
	V2Proto
	V1JSON
	V1Thrift
)

// String names the format as error messages do ("v2 JSON", ...).
func (f Format) String() string {
	names := [...]string{"v2 JSON", "v2 proto3", "v1 JSON", "v1 thrift"}
	if f < 0 || int(f) >= len(names) {
		return fmt.Sprintf("format %d", int(f))
	}
	return names[f]
}

// ErrDecoderPanic is returned (wrapped) by Decode for a body on which a
// library decoder panicked; the body is malformed (null where the format has
// an object).
var ErrDecoderPanic = errors.New("malformed body (the decoder failed on it)")

// Decoder turns request bodies into spans. It is safe for concurrent use.
type Decoder struct {
	v2       zipkinv2.ToTranslator
	v1JSON   ptrace.Unmarshaler
	v1Thrift ptrace.Unmarshaler
}

// NewDecoder returns a decoder. parseStringTags makes the translators turn
// string tags that look like numbers or booleans into typed attributes, as
// the Collector's parse_string_tags option does.
func NewDecoder(parseStringTags bool) *Decoder {
	return &Decoder{
		v2:       zipkinv2.ToTranslator{ParseStringTags: parseStringTags},
		v1JSON:   zipkinv1.NewJSONTracesUnmarshaler(parseStringTags),
		v1Thrift: zipkinv1.NewThriftTracesUnmarshaler(),
	}
}

// Decode decodes body in format f. debug marks proto3 spans as debug (the
// request carried X-B3-Flags: 1), as the Collector does.
//
// v2 bodies are decoded with zipkin-go's model and translated by the
// Collector's zipkinv2 translator; v1 bodies go through the Collector's
// zipkinv1 unmarshalers. Shared v2 server spans then get their own span id
// (see separateSharedSpans).
func (d *Decoder) Decode(f Format, body []byte, debug bool) (_ []*model.Span, err error) {
	// zipkin-go's and the Collector's decoders dereference null list
	// elements ("annotations": [null] in v2, a null span or binary
	// annotation in v1): a body must not be able to crash a request.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode Zipkin %s: %w: %v", f, ErrDecoderPanic, r)
		}
	}()
	var td ptrace.Traces
	var zspans []*zipkinmodel.SpanModel
	switch f {
	case V2JSON:
		var ok bool
		if zspans, ok = parseV2JSON(body); !ok {
			zspans = nil
			err = json.Unmarshal(body, &zspans)
		}
	case V2Proto:
		zspans, err = zipkin_proto3.ParseSpans(body, debug)
	case V1JSON:
		td, err = d.v1JSON.UnmarshalTraces(body)
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if fixed, ok, ferr := stringifyV1Values(body); ok && ferr == nil {
				td, err = d.v1JSON.UnmarshalTraces(fixed)
			}
		}
	case V1Thrift:
		if err = checkV1Thrift(body); err == nil {
			td, err = d.v1Thrift.UnmarshalTraces(body)
		}
	default:
		return nil, fmt.Errorf("unknown format %d", f)
	}
	if err != nil {
		return nil, fmt.Errorf("decode Zipkin %s: %w", f, err)
	}
	var shared map[spanKey]bool
	if f == V2JSON || f == V2Proto {
		shared = sharedServerSpans(zspans)
		if td, err = d.v2.ToTraces(zspans); err != nil {
			return nil, fmt.Errorf("translate Zipkin %s: %w", f, err)
		}
	}
	spans := pdataconv.ToModel(td)
	if len(shared) > 0 {
		separateSharedSpans(spans, shared)
	}
	return spans, nil
}

// Options configure the handler.
type Options struct {
	Consumer Consumer
	// MaxRequestBytes bounds a request body after decompression.
	MaxRequestBytes int64
	// ParseStringTags: see NewDecoder.
	ParseStringTags bool
	// CORSAllowedOrigins are the web origins browser tracers may post
	// from ("*" for any; none when empty).
	CORSAllowedOrigins []string
	Logger             *slog.Logger
}

// NewHandler returns the handler of the Zipkin port. It answers 202 once the
// spans are stored, 400 with a message for a malformed body, 413 past the
// limit, 415 for an unknown Content-Encoding, and 503 with Retry-After when
// the pipeline is overloaded.
//
// As in the Collector, the Content-Type picks the decoder: on /api/v2/spans
// application/x-protobuf is proto3 and anything else JSON; on /api/v1/spans
// application/x-thrift is thrift and anything else JSON.
func NewHandler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &handler{
		o:    o,
		dec:  NewDecoder(o.ParseStringTags),
		warn: ratelog.New(o.Logger.With("component", Name), slog.LevelWarn, 10*time.Second),
	}
	mux := http.NewServeMux()
	for _, path := range []string{"/api/v2/spans", "/api/v1/spans"} {
		mux.HandleFunc("OPTIONS "+path, func(w http.ResponseWriter, r *http.Request) { h.cors(w, r) })
	}
	mux.HandleFunc("POST /api/v2/spans", func(w http.ResponseWriter, r *http.Request) {
		f := V2JSON
		if mediaType(r) == "application/x-protobuf" {
			f = V2Proto
		}
		h.serve(w, r, f)
	})
	mux.HandleFunc("POST /api/v1/spans", func(w http.ResponseWriter, r *http.Request) {
		f := V1JSON
		if mediaType(r) == "application/x-thrift" {
			f = V1Thrift
		}
		h.serve(w, r, f)
	})
	return mux
}

func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

type handler struct {
	o    Options
	dec  *Decoder
	warn *ratelog.Limiter
}

func (h *handler) refuse(w http.ResponseWriter, code int, reason, msg string) {
	h.o.Consumer.Refuse(Name, reason, 0)
	h.warn.Log("refused a request", "code", code, "reason", reason, "err", msg)
	server.WriteError(w, code, msg)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, f Format) {
	h.cors(w, r)
	body, err := httpbody.Read(r, h.o.MaxRequestBytes)
	switch {
	case errors.Is(err, httpbody.ErrTooLarge):
		h.refuse(w, http.StatusRequestEntityTooLarge, ReasonTooLarge, err.Error())
		return
	case errors.Is(err, httpbody.ErrEncoding):
		h.refuse(w, http.StatusUnsupportedMediaType, ReasonBadEncoding, err.Error())
		return
	case err != nil:
		h.refuse(w, http.StatusBadRequest, ReasonMalformed, "cannot read body: "+shortErr(err))
		return
	}
	spans, err := h.dec.Decode(f, body, r.Header.Get("X-B3-Flags") == "1")
	if err != nil {
		h.refuse(w, http.StatusBadRequest, ReasonMalformed, shortErr(err))
		return
	}
	if len(spans) > 0 {
		if _, err := h.o.Consumer.Consume(r.Context(), Name, spans); err != nil {
			if pipeline.IsOverload(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				// Overloaded, or the client gave up waiting: either way it
				// may retry, and nothing here is worth a log line.
				w.Header().Set("Retry-After", "1")
				server.WriteError(w, http.StatusServiceUnavailable, "server overloaded, retry later: "+err.Error())
				return
			}
			h.warn.Log("cannot store spans", "err", err)
			server.WriteError(w, http.StatusInternalServerError, "cannot store spans: "+err.Error())
			return
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// shortErr keeps decoder messages readable and bounded.
func shortErr(err error) string {
	s := err.Error()
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return strings.TrimSpace(s)
}
