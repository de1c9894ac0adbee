package sampling

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/clew-dev/clew/internal/config"
	"github.com/clew-dev/clew/internal/server"
)

// Name is the agent sampling listener's name in /metrics and logs.
const Name = "jaeger_agent_sampling"

// MaxQueryBytes bounds the query string of a sampling request.
const MaxQueryBytes = 4096

// ParseServiceParam returns the service named by a sampling request's
// query string, which must carry service exactly once, not empty and at
// most config.MaxSamplingNameBytes long.
func ParseServiceParam(rawQuery string) (string, error) {
	if len(rawQuery) > MaxQueryBytes {
		return "", fmt.Errorf("the query string is longer than %d bytes", MaxQueryBytes)
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", fmt.Errorf("malformed query string: %w", err)
	}
	services := q["service"]
	switch {
	case len(services) != 1:
		return "", errors.New("the 'service' parameter must be given once: GET ?service=NAME")
	case services[0] == "":
		return "", errors.New("the 'service' parameter must not be empty")
	case len(services[0]) > config.MaxSamplingNameBytes:
		return "", fmt.Errorf("the 'service' parameter is longer than %d bytes", config.MaxSamplingNameBytes)
	}
	return services[0], nil
}

// Handler answers GET requests for the strategy of ?service=NAME: 200 and
// the reply's JSON (its LegacyJSON when legacy is set), or 400 with a
// message for a missing, repeated, empty or oversized service.
func (s *Strategies) Handler(legacy bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		service, err := ParseServiceParam(r.URL.RawQuery)
		if err != nil {
			server.WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		reply := s.Lookup(service)
		body := reply.JSON
		if legacy {
			body = reply.LegacyJSON
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(body)
	})
}

// Register adds GET /api/sampling, Jaeger collector's and query service's
// sampling endpoint, to mux.
func (s *Strategies) Register(mux *http.ServeMux) {
	mux.Handle("GET /api/sampling", s.Handler(false))
}

// AgentHandler returns the handler of jaeger-agent's HTTP sampling port
// (5778): GET /sampling?service=NAME, and the legacy GET /?service=NAME
// whose strategy type is a number.
func (s *Strategies) AgentHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /sampling", s.Handler(false))
	mux.Handle("GET /{$}", s.Handler(true))
	return mux
}
