package server

import (
	"net/http"
	"sync/atomic"
)

// Health answers /healthz (the process is alive) and /readyz (every
// component has started and shutdown has not begun).
type Health struct {
	ready atomic.Bool
}

// SetReady marks the server ready or not.
func (h *Health) SetReady(ready bool) { h.ready.Store(ready) }

// Register adds /healthz and /readyz to mux.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !h.ready.Load() {
			WriteError(w, http.StatusServiceUnavailable, "not ready")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ready\n"))
	})
}
