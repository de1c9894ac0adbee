package sampling

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/clew-dev/clew/internal/config"
	jaegerreceiver "github.com/clew-dev/clew/internal/receiver/jaeger"
)

func testStrategies(t testing.TB) *Strategies {
	t.Helper()
	c := config.Default().Sampling
	c.ServiceStrategies = []config.ServiceSamplingStrategy{{Service: "checkout", Type: "ratelimiting", Param: 25}}
	s, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHTTPHandlers(t *testing.T) {
	s := testStrategies(t)
	mux := http.NewServeMux()
	s.Register(mux)
	agent := s.AgentHandler()
	f := func(h http.Handler, method, target string, wantCode int, wantBody string) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		body, _ := io.ReadAll(rec.Body)
		if rec.Code != wantCode || !strings.Contains(string(body), wantBody) {
			t.Errorf("%s %s = %d %q, want %d and %q", method, target, rec.Code, body, wantCode, wantBody)
		}
		if wantCode == http.StatusOK {
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s %s: Content-Type %q", method, target, ct)
			}
		}
	}
	rl := `{"rateLimitingSampling":{"maxTracesPerSecond":25},"strategyType":"RATE_LIMITING"}`
	all := `{"probabilisticSampling":{"samplingRate":1},"strategyType":"PROBABILISTIC"}`
	f(mux, "GET", "/api/sampling?service=checkout", 200, rl)
	f(mux, "GET", "/api/sampling?service=other", 200, all)
	f(mux, "GET", "/api/sampling?service=a%20b", 200, all)
	f(agent, "GET", "/sampling?service=checkout", 200, rl)
	f(agent, "GET", "/?service=checkout", 200, `{"rateLimitingSampling":{"maxTracesPerSecond":25},"strategyType":1}`)
	f(agent, "GET", "/?service=other", 200, `{"probabilisticSampling":{"samplingRate":1},"strategyType":0}`)

	f(mux, "GET", "/api/sampling", 400, "the 'service' parameter must be given once")
	f(agent, "GET", "/sampling", 400, "the 'service' parameter must be given once")
	f(agent, "GET", "/", 400, "the 'service' parameter must be given once")
	f(agent, "GET", "/sampling?service=a&service=b", 400, "must be given once")
	f(agent, "GET", "/sampling?service=", 400, "must not be empty")
	f(agent, "GET", "/sampling?service=%zz", 400, "malformed query string")
	f(agent, "GET", "/sampling?service="+strings.Repeat("a", 1025), 400, "longer than 1024 bytes")
	f(agent, "GET", "/sampling?service=a&x="+strings.Repeat("a", MaxQueryBytes), 400, "longer than 4096 bytes")
	f(agent, "POST", "/sampling?service=a", 405, "")
	f(agent, "GET", "/baggageRestrictions?service=a", 404, "")
}

// TestCollectorHTTPRoute: the Jaeger collector's HTTP port serves
// /api/sampling beside POST /api/traces when given the handler.
func TestCollectorHTTPRoute(t *testing.T) {
	s := testStrategies(t)
	h := jaegerreceiver.NewHTTPHandler(jaegerreceiver.HTTPOptions{Consumer: nopConsumer{}, Sampling: s.Handler(false)})
	f := func(method, target string, wantCode int) {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		if rec.Code != wantCode {
			t.Errorf("%s %s = %d %q, want %d", method, target, rec.Code, rec.Body, wantCode)
		}
	}
	f("GET", "/api/sampling?service=checkout", 200)
	f("GET", "/api/sampling", 400)
	f("POST", "/api/traces", 415) // the span endpoint is still there
	h = jaegerreceiver.NewHTTPHandler(jaegerreceiver.HTTPOptions{Consumer: nopConsumer{}})
	f("GET", "/api/sampling?service=checkout", 404)
}

func BenchmarkHandler(b *testing.B) {
	h := testStrategies(b).AgentHandler()
	req := httptest.NewRequest("GET", "/sampling?service=checkout", nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
	}
}
