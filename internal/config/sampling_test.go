package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func loadYAML(t *testing.T, yaml string, args ...string) (Config, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clew.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load("clew", append([]string{"--config", path}, args...), func(string) string { return "" }, io.Discard)
	return cfg, err
}

func TestSamplingFromYAML(t *testing.T) {
	cfg, err := loadYAML(t, `
sampling:
  default:
    type: probabilistic
    param: 0.5
    operation_strategies:
      - {operation: /health, type: probabilistic, param: 0}
  service_strategies:
    - service: checkout
      type: ratelimiting
      param: 7
    - service: search
      type: probabilistic
      param: 0.05
      default_lower_bound_traces_per_second: 0.5
      operation_strategies:
        - {operation: GET /search, type: probabilistic, param: 0.5}
`, "--sampling.default.param=0.25")
	if err != nil {
		t.Fatal(err)
	}
	want := Sampling{
		Default: SamplingStrategy{Type: "probabilistic", Param: 0.25, // the flag wins over the file
			OperationStrategies: []OperationSamplingStrategy{{Operation: "/health", Type: "probabilistic"}}},
		ServiceStrategies: []ServiceSamplingStrategy{
			{Service: "checkout", Type: "ratelimiting", Param: 7},
			{Service: "search", Type: "probabilistic", Param: 0.05, DefaultLowerBoundTracesPerSecond: 0.5,
				OperationStrategies: []OperationSamplingStrategy{{Operation: "GET /search", Type: "probabilistic", Param: 0.5}}},
		},
	}
	if diff := cmp.Diff(want, cfg.Sampling); diff != "" {
		t.Errorf("sampling (-want +got):\n%s", diff)
	}
	for _, s := range Settings(&cfg) {
		if strings.Contains(s.Path, "strategies") && s.Path != "sampling.strategies_file" {
			t.Errorf("setting %s should not exist: lists are YAML-only", s.Path)
		}
	}
	if d := Default(); d.Sampling.Default.Type != "probabilistic" || d.Sampling.Default.Param != 1 {
		t.Errorf("default strategy %+v, want probabilistic 1 (keep every trace)", d.Sampling.Default)
	}
}

func TestSamplingValidate(t *testing.T) {
	f := func(yaml string, wants ...string) {
		t.Helper()
		_, err := loadYAML(t, yaml)
		for _, w := range wants {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Load(%s) = %v, want it to say %q", yaml, err, w)
			}
		}
	}
	f("sampling: {default: {type: probabilistic, param: 1.5}}", "sampling.default: probabilistic param 1.5: want a probability from 0 to 1")
	f("sampling: {default: {type: rate_limiting, param: 1}}", `sampling.default: type "rate_limiting": want probabilistic or ratelimiting`)
	f("sampling: {service_strategies: [{service: a, type: ratelimiting, param: 0.5}]}",
		"sampling.service_strategies[0] (a): ratelimiting param 0.5: want a whole number of traces per second from 0 to 32767")
	f("sampling: {service_strategies: [{service: a, type: probabilistic, param: 1, operation_strategies: [{operation: x, type: ratelimiting, param: 1}]}]}",
		`sampling.service_strategies[0] (a).operation_strategies[0] (x): type "ratelimiting": operation strategies must be probabilistic`)
	f("sampling: {strategies_file: s.json, service_strategies: [{service: a, type: probabilistic, param: 1}]}",
		"sampling.strategies_file and sampling.service_strategies are both set")
	f("sampling: {service_strategies: [{service: a, typ: probabilistic}]}", "typ") // unknown keys are errors
	f("receivers: {jaeger: {agent_sampling: {addr: ''}}}", "receivers.jaeger.agent_sampling.addr must be set")
}
