// Package ui serves Clew's web UI: the single-page app built from ui/ (see
// ui/README.md) and embedded in the binary, so `go build ./cmd/clew` alone
// gives the whole UI. Every response carries a strict Content-Security-Policy
// (no inline script, no eval, nothing from other origins) and the usual
// security headers.
package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed dist
var dist embed.FS

// ContentSecurityPolicy is the policy sent with every UI response. Scripts,
// styles and data come only from Clew itself; style-src has no
// 'unsafe-inline' (the app sets styles through the CSSOM, which CSP allows).
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	gz    []byte // nil when compression does not pay
	ctype string
	etag  string
}

// Handler serves the UI. Create it with New.
type Handler struct {
	assets map[string]*asset // by URL path: /assets/app.js
	index  *asset
}

// New loads the embedded assets. It fails only if the build left dist
// incomplete (no index.html).
func New() (*Handler, error) {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, err
	}
	return newHandler(sub)
}

func newHandler(files fs.FS) (*Handler, error) {
	h := &Handler{assets: map[string]*asset{}}
	err := fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		h.assets["/"+p] = newAsset(p, body)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load UI assets: %w", err)
	}
	h.index = h.assets["/index.html"]
	if h.index == nil {
		return nil, fmt.Errorf("load UI assets: index.html missing (run make ui)")
	}
	return h, nil
}

func newAsset(name string, body []byte) *asset {
	sum := sha256.Sum256(body)
	a := &asset{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
	a.ctype = mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		a.ctype = "text/javascript; charset=utf-8"
	case ".css":
		a.ctype = "text/css; charset=utf-8"
	case ".html":
		a.ctype = "text/html; charset=utf-8"
	case ".svg":
		a.ctype = "image/svg+xml"
	}
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	if len(body) > 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body)*9/10 {
			a.gz = buf.Bytes()
		}
	}
	return a
}

// Register mounts the UI on mux as its fallback route ("/", matched only by
// paths no other pattern claims), so the APIs, /metrics and the health
// endpoints keep their own handlers.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("/", h)
}

// reserved are path prefixes the SPA fallback must never answer with the
// app: an unknown API path gets a plain 404, not HTML.
var reserved = []string{"/api/", "/tempo/", "/metrics", "/healthz", "/readyz", "/debug/"}

// ServeHTTP serves /assets/* from the embedded build and index.html for
// every other page path (the app routes on the client).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	for _, prefix := range reserved {
		if p == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(p, prefix) {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
	}
	if strings.HasPrefix(p, "/assets/") {
		a := h.assets[p]
		if a == nil {
			http.Error(w, "404 page not found", http.StatusNotFound)
			return
		}
		serve(w, r, a)
		return
	}
	// Everything else is a page of the app: /, /search, /trace/{id}, and
	// unknown pages, which the app itself reports.
	serve(w, r, h.index)
}

func serve(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	// Revalidate every time: a 304 costs a round trip, and a new binary's
	// UI is never mixed with an old one's.
	hd.Set("Cache-Control", "no-cache")
	hd.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = a.gz
		hd.Set("Content-Encoding", "gzip")
	}
	hd.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
		return true
	}
	return false
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
}
