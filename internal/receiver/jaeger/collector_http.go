package jaeger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/clew-dev/clew/internal/receiver/httpbody"
	"github.com/clew-dev/clew/internal/receiver/ratelog"
	"github.com/clew-dev/clew/internal/server"
)

// HTTPOptions configure the collector HTTP handler.
type HTTPOptions struct {
	Consumer Consumer
	// MaxRequestBytes bounds a request body after decompression.
	MaxRequestBytes int64
	// Sampling, when set, serves GET /api/sampling (Jaeger remote
	// sampling) on the same port, as Jaeger's collector does.
	Sampling http.Handler
	Logger   *slog.Logger
}

// NewHTTPHandler returns the handler of the Jaeger collector's HTTP port:
// POST /api/traces with a binary thrift Batch (Content-Type
// application/x-thrift or application/vnd.apache.thrift.binary), gzip or
// deflate encoded or not. It answers 202 once the spans are stored, 400
// for a malformed body, 413 past the limit, 415 for another media type or
// encoding, and 503 with Retry-After when the pipeline is overloaded.
func NewHTTPHandler(o HTTPOptions) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &httpHandler{o: o, warn: ratelog.New(o.Logger.With("component", NameCollectorHTTP), slog.LevelWarn, 10*time.Second)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/traces", h.traces)
	if o.Sampling != nil {
		mux.Handle("GET /api/sampling", o.Sampling)
	}
	return mux
}

type httpHandler struct {
	o    HTTPOptions
	warn *ratelog.Limiter
}

func (h *httpHandler) refuse(w http.ResponseWriter, code int, reason, msg string) {
	h.o.Consumer.Refuse(NameCollectorHTTP, reason, 0)
	h.warn.Log("refused a request", "code", code, "reason", reason, "err", msg)
	server.WriteError(w, code, msg)
}

func (h *httpHandler) traces(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-thrift" && mt != "application/vnd.apache.thrift.binary") {
		h.refuse(w, http.StatusUnsupportedMediaType, ReasonMediaType,
			fmt.Sprintf("unsupported content type %q: want application/x-thrift (a binary thrift Batch)", r.Header.Get("Content-Type")))
		return
	}
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
	batch, err := DecodeBatch(body)
	if err != nil {
		h.refuse(w, http.StatusBadRequest, ReasonMalformed, "cannot decode the thrift batch: "+shortErr(err))
		return
	}
	spans, err := ThriftToModel(batch)
	if err != nil {
		h.refuse(w, http.StatusBadRequest, ReasonMalformed, shortErr(err))
		return
	}
	if len(spans) > 0 {
		if _, err := h.o.Consumer.Consume(r.Context(), NameCollectorHTTP, spans); err != nil {
			if isOverload(err) || errors.Is(err, context.Canceled) {
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
