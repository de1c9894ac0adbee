package ui

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func testMux(t *testing.T) *http.ServeMux {
	t.Helper()
	h, err := newHandler(fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html><title>Clew</title>")},
		"assets/app.js":      {Data: []byte(strings.Repeat("console.log(1);", 200))},
		"assets/app.css":     {Data: []byte("body{}")},
		"assets/favicon.svg": {Data: []byte("<svg/>")},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	// Patterns as the APIs and health endpoints register them: they must
	// keep winning over the UI's fallback.
	mux.HandleFunc("GET /api/services", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "services") })
	mux.HandleFunc("GET /api/clew/traces/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "trace") })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "metrics") })
	h.Register(mux)
	return mux
}

func do(mux http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	mux := testMux(t)
	f := func(method, target string, wantCode int, wantBody, wantType string) {
		t.Helper()
		rec := do(mux, method, target, nil)
		if rec.Code != wantCode {
			t.Errorf("%s %s: status %d, want %d", method, target, rec.Code, wantCode)
		}
		if !strings.Contains(rec.Body.String(), wantBody) {
			t.Errorf("%s %s: body %q, want it to contain %q", method, target, rec.Body.String(), wantBody)
		}
		if ct := rec.Header().Get("Content-Type"); wantType != "" && ct != wantType {
			t.Errorf("%s %s: Content-Type %q, want %q", method, target, ct, wantType)
		}
	}
	html := "text/html; charset=utf-8"
	f("GET", "/", 200, "<title>Clew</title>", html)
	f("GET", "/search?service=a", 200, "<title>Clew</title>", html)
	f("GET", "/trace/0af7651916cd43dd8448eb211c80319c", 200, "<title>Clew</title>", html)
	f("GET", "/no/such/page", 200, "<title>Clew</title>", html)
	f("GET", "/assets/app.css", 200, "body{}", "text/css; charset=utf-8")
	f("GET", "/assets/favicon.svg", 200, "<svg/>", "image/svg+xml")
	f("GET", "/assets/missing.js", 404, "not found", "")
	f("GET", "/api/services", 200, "services", "")
	f("GET", "/api/clew/traces/ab", 200, "trace", "")
	f("GET", "/api/unknown", 404, "not found", "")
	f("GET", "/api", 404, "not found", "")
	f("GET", "/tempo/api/nope", 404, "not found", "")
	f("GET", "/debug/pprof/nope", 404, "not found", "")
	f("GET", "/healthz", 200, "ok", "")
	f("GET", "/metrics", 200, "metrics", "")
	f("GET", "/readyz", 404, "not found", "")
	f("POST", "/", 405, "method not allowed", "")
	f("HEAD", "/", 200, "", html)
}

func TestSecurityHeaders(t *testing.T) {
	mux := testMux(t)
	for _, target := range []string{"/", "/assets/app.js", "/trace/xyz", "/api/nope"} {
		rec := do(mux, "GET", target, nil)
		h := rec.Header()
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", target, csp, want)
			}
		}
		for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*"} {
			if strings.Contains(csp, bad) {
				t.Errorf("%s: CSP %q allows %q", target, csp, bad)
			}
		}
		for k, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", target, k, got, want)
			}
		}
	}
}

func TestGzipAndETag(t *testing.T) {
	mux := testMux(t)
	rec := do(mux, "GET", "/assets/app.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip: %v", rec.Header())
	}
	zr, err := gzip.NewReader(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(zr)
	if string(body) != strings.Repeat("console.log(1);", 200) {
		t.Errorf("gzip body differs")
	}
	if rec := do(mux, "GET", "/assets/app.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip sent although q=0")
	}
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := do(mux, "GET", "/assets/app.js", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match: status %d, %d bytes; want 304 and no body", rec.Code, rec.Body.Len())
	}
}

// TestEmbedded checks the committed build: index.html loads the app's script
// and stylesheet from /assets/ and has no inline script or style.
func TestEmbedded(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	index := string(h.index.body)
	for _, want := range []string{`<script type="module" src="/assets/app.js?v=`, `<link rel="stylesheet" href="/assets/app.css?v=`} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	if strings.Contains(index, "<script>") || strings.Contains(index, "<style") || strings.Contains(index, "style=") {
		t.Errorf("index.html has inline script or style:\n%s", index)
	}
	for _, p := range []string{"/assets/app.js", "/assets/app.css", "/assets/favicon.svg"} {
		if h.assets[p] == nil {
			t.Errorf("%s not embedded", p)
		}
	}
}
