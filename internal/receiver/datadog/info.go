package datadog

import "encoding/json"

// endpoints are the paths /info advertises: the trace endpoints Clew
// decodes. The side endpoints it answers only to keep tracers quiet
// (/v0.6/stats, /telemetry/proxy/, /dogstatsd/v2/proxy, /v0.7/config) are
// left out, so tracers do not compute stats or poll remote configuration
// for Clew's sake.
var endpoints = []string{"/v0.3/traces", "/v0.4/traces", "/v0.5/traces", "/info"}

// info is the body of GET /info, in the trace agent's field names.
type info struct {
	Version          string   `json:"version"`
	Endpoints        []string `json:"endpoints"`
	FeatureFlags     []string `json:"feature_flags"`
	ClientDropP0s    bool     `json:"client_drop_p0s"`
	SpanMetaStructs  bool     `json:"span_meta_structs"`
	LongRunningSpans bool     `json:"long_running_spans"`
	SpanEvents       bool     `json:"span_events"`
	Config           struct {
		DefaultEnv string `json:"default_env"`
	} `json:"config"`
}

func infoResponse(version string) []byte {
	if version == "" {
		version = "dev"
	}
	b, _ := json.MarshalIndent(info{
		Version:      "clew-" + version,
		Endpoints:    endpoints,
		FeatureFlags: []string{},
		// Tracers may send span events natively (span_events in v0.4
		// msgpack); Clew maps them to model events.
		SpanEvents: true,
	}, "", "  ")
	return append(b, '\n')
}
