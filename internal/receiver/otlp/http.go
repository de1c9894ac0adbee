package otlp

import (
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"slices"
	"strings"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/clew-dev/clew/internal/server"
)

const (
	contentProtobuf = "application/x-protobuf"
	contentJSON     = "application/json"
)

// HTTPHandler serves OTLP/HTTP trace exports.
type HTTPHandler struct {
	consumer Consumer
	maxBytes int64
	origins  []string
	log      *slog.Logger
}

// NewHTTPHandler returns the OTLP/HTTP handler. Bodies larger than maxBytes
// after decompression are refused with 413; origins lists the origins
// allowed to send from browsers ("*" for any).
func NewHTTPHandler(c Consumer, maxBytes int64, origins []string, log *slog.Logger) *HTTPHandler {
	return &HTTPHandler{consumer: c, maxBytes: maxBytes, origins: origins, log: log}
}

// Register adds the OTLP/HTTP routes to mux.
func (h *HTTPHandler) Register(mux *http.ServeMux) {
	mux.HandleFunc("/v1/traces", h.serveTraces)
}

func (h *HTTPHandler) serveTraces(w http.ResponseWriter, r *http.Request) {
	h.cors(w, r)
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		h.fail(w, contentJSON, http.StatusMethodNotAllowed, codes.Unimplemented, "method not allowed: use POST")
		return
	}
	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mediaType != contentProtobuf && mediaType != contentJSON) {
		h.consumer.Refuse(NameHTTP, ReasonMediaType, 0)
		h.fail(w, contentJSON, http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("unsupported Content-Type %q: use %s or %s", r.Header.Get("Content-Type"), contentProtobuf, contentJSON))
		return
	}
	buf, err := h.readBody(w, r)
	if err != nil {
		switch {
		case server.IsTooLarge(err):
			h.consumer.Refuse(NameHTTP, ReasonTooLarge, 0)
			h.fail(w, mediaType, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
				fmt.Sprintf("request body larger than %d bytes", h.maxBytes))
		case errors.Is(err, errEncoding):
			h.consumer.Refuse(NameHTTP, ReasonBadEncoding, 0)
			h.fail(w, mediaType, http.StatusUnsupportedMediaType, codes.InvalidArgument, err.Error())
		default:
			h.consumer.Refuse(NameHTTP, ReasonMalformed, 0)
			h.fail(w, mediaType, http.StatusBadRequest, codes.InvalidArgument, "read body: "+shortErr(err))
		}
		return
	}
	// Spans decoded from the body point into it; they are done with once
	// export returns (store.Writer borrows), and the buffer goes back to
	// the pool after that.
	defer requestPool.Put(buf)
	spans, arena, err := decode(*buf, mediaType == contentJSON)
	if err != nil {
		h.consumer.Refuse(NameHTTP, ReasonMalformed, 0)
		h.fail(w, mediaType, http.StatusBadRequest, codes.InvalidArgument, "decode ExportTraceServiceRequest: "+shortErr(err))
		return
	}
	out := export(r.Context(), h.consumer, NameHTTP, spans, arena.bounds())
	arena.release()
	if out.err != nil {
		if isOverload(out.err) {
			w.Header().Set("Retry-After", "1")
			h.fail(w, mediaType, http.StatusServiceUnavailable, codes.Unavailable, "server overloaded, retry later: "+shortErr(out.err))
			return
		}
		h.log.Warn("OTLP/HTTP export failed", "err", out.err)
		w.Header().Set("Retry-After", "5")
		h.fail(w, mediaType, http.StatusServiceUnavailable, codes.Unavailable, "store: "+shortErr(out.err))
		return
	}
	var b []byte
	if mediaType == contentJSON {
		b, err = out.resp.MarshalJSON()
	} else {
		b, err = out.resp.MarshalProto()
	}
	if err != nil {
		h.fail(w, mediaType, http.StatusInternalServerError, codes.Internal, "encode response")
		return
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

var errEncoding = errors.New("unsupported Content-Encoding")

// readBody reads the (decompressed) body, at most maxBytes of it, into a
// buffer of requestPool which the caller must put back.
func (h *HTTPHandler) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, error) {
	// The compressed stream is bounded too, so a small gzip bomb header
	// cannot make us read a huge body.
	var rd io.Reader = http.MaxBytesReader(w, r.Body, h.maxBytes)
	size := int64(64 << 10) // a first guess, when the length is not known
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		if r.ContentLength > 0 {
			// Room to read the end without growing, but no more than 1
			// MiB ahead of the bytes that arrive: a client may announce
			// a length it never sends.
			size = min(r.ContentLength+1, 1<<20)
		}
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		rd = zr
	case "deflate":
		zr, err := zlib.NewReader(rd)
		if err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		defer zr.Close()
		rd = zr
	default:
		return nil, fmt.Errorf("%w %q: use gzip, deflate or none", errEncoding, enc)
	}
	return readPooled(io.LimitReader(rd, h.maxBytes+1), size, h.maxBytes)
}

// readPooled reads all of rd into a buffer of requestPool, starting with
// one of size bytes (the body's length, when known) and doubling it as
// needed: no more than maxBytes, or a *http.MaxBytesError.
func readPooled(rd io.Reader, size, maxBytes int64) (*[]byte, error) {
	buf := requestPool.Get(int(min(max(size, 512), maxBytes+1)))
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > maxBytes {
				requestPool.Put(buf)
				return nil, &http.MaxBytesError{Limit: maxBytes}
			}
			next := requestPool.Get(2 * cap(b))
			*next = append((*next)[:0], b...)
			requestPool.Put(buf)
			buf, b = next, *next
		}
		n, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			requestPool.Put(buf)
			return nil, err
		}
	}
	if int64(len(b)) > maxBytes {
		requestPool.Put(buf)
		return nil, &http.MaxBytesError{Limit: maxBytes}
	}
	*buf = b
	return buf, nil
}

// fail answers with a google.rpc.Status in the request's encoding, as the
// OTLP/HTTP specification asks.
func (h *HTTPHandler) fail(w http.ResponseWriter, mediaType string, httpCode int, code codes.Code, msg string) {
	st := &spb.Status{Code: int32(code), Message: msg}
	var b []byte
	if mediaType == contentProtobuf {
		b, _ = proto.Marshal(st)
	} else {
		mediaType = contentJSON
		b, _ = protojson.Marshal(st)
	}
	w.Header().Set("Content-Type", mediaType)
	w.WriteHeader(httpCode)
	_, _ = w.Write(b)
}

// cors sets the CORS headers browser SDKs need.
func (h *HTTPHandler) cors(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || len(h.origins) == 0 {
		return
	}
	if slices.Contains(h.origins, "*") {
		w.Header().Set("Access-Control-Allow-Origin", "*")
	} else if slices.Contains(h.origins, origin) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
		w.Header().Add("Vary", "Origin")
	} else {
		return
	}
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		allowed := r.Header.Get("Access-Control-Request-Headers")
		if allowed == "" {
			allowed = "Content-Type, Content-Encoding"
		}
		w.Header().Set("Access-Control-Allow-Headers", allowed)
		w.Header().Set("Access-Control-Max-Age", "86400")
	}
}
