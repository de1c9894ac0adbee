// Package datadog receives traces from Datadog tracing libraries: it serves
// the trace agent's HTTP API (default port 8126) — /v0.3/traces,
// /v0.4/traces and /v0.5/traces in msgpack (v0.3 and v0.4 also in JSON),
// /info, and calm answers to the side endpoints tracers call — decodes the
// payloads with Datadog's own msgpack types, converts them to the model as
// the OpenTelemetry Collector's datadog receiver does (docs/receivers/datadog.md
// lists every rule) and hands them to the pipeline.
package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/ratelog"
	"github.com/clew-dev/clew/internal/server"
)

// Name is the receiver's name in /metrics and logs.
const Name = "datadog"

// Reasons a whole request is refused, as counted in /metrics.
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

// Options configure a Receiver.
type Options struct {
	// Addr is the listen address (host:port).
	Addr string
	// MaxRequestBytes caps a request body (after decompression); larger
	// bodies are answered with 413.
	MaxRequestBytes int64
	// Version is Clew's version, reported by /info.
	Version string
	// Metrics instruments the HTTP handler; nil leaves it uninstrumented.
	Metrics *server.HTTPMetrics
	Logger  *slog.Logger
}

// Receiver is the Datadog agent API as a server.Component.
type Receiver struct {
	*server.HTTPServer
	h *Handler
}

var _ server.Component = (*Receiver)(nil)

// New returns the receiver; it listens once started.
func New(c Consumer, o Options) *Receiver {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := NewHandler(c, o.MaxRequestBytes, o.Version, o.Logger)
	mux := http.NewServeMux()
	h.Register(mux)
	var handler http.Handler = mux
	if o.Metrics != nil {
		handler = o.Metrics.Wrap(Name, o.Logger, mux)
	}
	return &Receiver{HTTPServer: server.NewHTTPServer(Name, o.Addr, handler, o.Logger), h: h}
}

// Handler serves the Datadog agent API's routes.
type Handler struct {
	consumer Consumer
	tr       *Translator
	maxBytes int64
	info     []byte
	log      *slog.Logger
	bad      *ratelog.Limiter
	bufs     sync.Pool
}

// NewHandler returns the handler. Bodies larger than maxBytes are refused.
func NewHandler(c Consumer, maxBytes int64, version string, log *slog.Logger) *Handler {
	if maxBytes <= 0 {
		maxBytes = 16 << 20
	}
	return &Handler{
		consumer: c,
		tr:       NewTranslator(0),
		maxBytes: maxBytes,
		info:     infoResponse(version),
		log:      log,
		bad:      ratelog.New(log, slog.LevelWarn, 10*time.Second),
		bufs:     sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, v := range []Version{V03, V04, V05} {
		serve := h.traces(v)
		mux.HandleFunc("PUT /"+string(v)+"/traces", serve)
		mux.HandleFunc("POST /"+string(v)+"/traces", serve)
	}
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(h.info)
	})
	// Side endpoints: answered so tracers stay quiet, their data discarded.
	mux.HandleFunc("/v0.6/stats", h.discard(http.StatusOK, "OK"))
	mux.HandleFunc("/telemetry/proxy/", h.discard(http.StatusAccepted, "{}"))
	mux.HandleFunc("/dogstatsd/v2/proxy", h.discard(http.StatusOK, "OK"))
	mux.HandleFunc("/v0.7/config", func(w http.ResponseWriter, r *http.Request) {
		h.drain(r)
		server.WriteError(w, http.StatusNotFound, "remote configuration is not available: Clew is not a Datadog agent")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("Clew: Datadog trace agent API\n"))
	})
}

// rateByService is the reply to v0.4 and v0.5 trace requests: keep every
// trace (Clew does not sample at the tracer).
var rateByService = []byte(`{"rate_by_service":{"service:,env:":1}}` + "\n")

func (h *Handler) traces(v Version) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		buf := h.bufs.Get().(*bytes.Buffer)
		buf.Reset()
		defer func() {
			if buf.Cap() <= 4<<20 {
				h.bufs.Put(buf)
			}
		}()
		if err := h.readBody(w, r, buf); err != nil {
			switch {
			case server.IsTooLarge(err):
				h.refuse(w, r, ReasonTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", h.maxBytes), err)
			case errors.Is(err, errEncoding):
				h.refuse(w, r, ReasonBadEncoding, http.StatusUnsupportedMediaType, err.Error(), err)
			default:
				h.refuse(w, r, ReasonMalformed, http.StatusBadRequest, "read body: "+shortErr(err), err)
			}
			return
		}
		traces, err := Decode(v, r.Header.Get("Content-Type"), buf.Bytes())
		if err != nil {
			h.refuse(w, r, ReasonMalformed, http.StatusBadRequest, shortErr(err), err)
			return
		}
		spans := h.tr.ToModel(traces, Tracer{
			Language:        r.Header.Get("Datadog-Meta-Lang"),
			LanguageVersion: r.Header.Get("Datadog-Meta-Lang-Version"),
			TracerVersion:   r.Header.Get("Datadog-Meta-Tracer-Version"),
			ContainerID:     r.Header.Get("Datadog-Container-ID"),
		})
		if len(spans) > 0 {
			if _, err := h.consumer.Consume(r.Context(), Name, spans); err != nil {
				w.Header().Set("Retry-After", "1")
				if pipeline.IsOverload(err) {
					server.WriteError(w, http.StatusTooManyRequests, "Clew is overloaded: retry later")
				} else {
					server.WriteError(w, http.StatusServiceUnavailable, "spans not stored: retry later")
				}
				return
			}
		}
		// Spans the pipeline rejected as invalid are counted in /metrics;
		// the protocol has no way to report them to the tracer.
		if v == V03 {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("OK\n"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(rateByService)
	}
}

var errEncoding = errors.New("unsupported Content-Encoding")

func (h *Handler) readBody(w http.ResponseWriter, r *http.Request, buf *bytes.Buffer) error {
	var body io.Reader = http.MaxBytesReader(w, r.Body, h.maxBytes)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		body = &maxReader{r: zr, n: h.maxBytes}
	default:
		return fmt.Errorf("%w %q: use gzip or none", errEncoding, enc)
	}
	_, err := buf.ReadFrom(body)
	return err
}

// maxReader fails with *http.MaxBytesError after n bytes, bounding what a
// compressed body may expand to.
type maxReader struct {
	r io.Reader
	n int64
}

func (m *maxReader) Read(p []byte) (int, error) {
	if m.n < 0 {
		return 0, &http.MaxBytesError{}
	}
	if int64(len(p)) > m.n+1 {
		p = p[:m.n+1]
	}
	n, err := m.r.Read(p)
	m.n -= int64(n)
	if m.n < 0 {
		return n, &http.MaxBytesError{}
	}
	return n, err
}

func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, reason string, code int, msg string, err error) {
	h.consumer.Refuse(Name, reason, 0)
	h.bad.Log("datadog: refused request", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", reason, "err", shortErr(err))
	server.WriteError(w, code, msg)
}

// drain reads and discards up to the body limit, so the client's
// connection can be reused.
func (h *Handler) drain(r *http.Request) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, h.maxBytes))
}

func (h *Handler) discard(code int, reply string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.drain(r)
		if strings.HasPrefix(reply, "{") {
			w.Header().Set("Content-Type", "application/json")
		} else {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(reply + "\n"))
	}
}

// shortErr keeps decoder messages readable and bounded.
func shortErr(err error) string {
	s := err.Error()
	if len(s) > 512 {
		s = s[:512] + "..."
	}
	return strings.TrimSpace(s)
}
