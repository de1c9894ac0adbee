package zipkin

import (
	"net/http"
	"slices"
)

// cors lets browser tracers (zipkin-js in a web page) post spans from the
// origins configured, as the Zipkin server does (it allows every origin by
// default). It writes the CORS headers and reports whether the request was
// a preflight, which it has then answered.
func (h *handler) cors(w http.ResponseWriter, r *http.Request) (preflight bool) {
	origin := r.Header.Get("Origin")
	allowed := origin != "" && (slices.Contains(h.o.CORSAllowedOrigins, "*") || slices.Contains(h.o.CORSAllowedOrigins, origin))
	if allowed {
		if slices.Contains(h.o.CORSAllowedOrigins, "*") {
			w.Header().Set("Access-Control-Allow-Origin", "*")
		} else {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
		}
	}
	if r.Method != http.MethodOptions {
		return false
	}
	if allowed {
		w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		reqHeaders := r.Header.Get("Access-Control-Request-Headers")
		if reqHeaders == "" {
			reqHeaders = "Content-Type, Content-Encoding, X-B3-Flags"
		}
		w.Header().Set("Access-Control-Allow-Headers", reqHeaders)
		w.Header().Set("Access-Control-Max-Age", "86400")
	}
	w.Header().Set("Allow", "POST, OPTIONS")
	w.WriteHeader(http.StatusNoContent)
	return true
}
