package sampling

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"

	"github.com/clew-dev/clew/internal/config"
)

func prob(rate float64) *api_v2.SamplingStrategyResponse {
	return &api_v2.SamplingStrategyResponse{
		StrategyType:          api_v2.SamplingStrategyType_PROBABILISTIC,
		ProbabilisticSampling: &api_v2.ProbabilisticSamplingStrategy{SamplingRate: rate},
	}
}

func rateLimit(n int32) *api_v2.SamplingStrategyResponse {
	return &api_v2.SamplingStrategyResponse{
		StrategyType:         api_v2.SamplingStrategyType_RATE_LIMITING,
		RateLimitingSampling: &api_v2.RateLimitingSamplingStrategy{MaxTracesPerSecond: n},
	}
}

func withOps(r *api_v2.SamplingStrategyResponse, def, lower float64, ops ...any) *api_v2.SamplingStrategyResponse {
	o := &api_v2.PerOperationSamplingStrategies{DefaultSamplingProbability: def, DefaultLowerBoundTracesPerSecond: lower,
		PerOperationStrategies: []*api_v2.OperationSamplingStrategy{}}
	for i := 0; i < len(ops); i += 2 {
		o.PerOperationStrategies = append(o.PerOperationStrategies, &api_v2.OperationSamplingStrategy{
			Operation: ops[i].(string), ProbabilisticSampling: &api_v2.ProbabilisticSamplingStrategy{SamplingRate: ops[i+1].(float64)},
		})
	}
	r.OperationSampling = o
	return r
}

func op(name string, p float64) config.OperationSamplingStrategy {
	return config.OperationSamplingStrategy{Operation: name, Type: "probabilistic", Param: p}
}

func TestDefaultConfigSamplesEverything(t *testing.T) {
	s, err := FromConfig(config.Default().Sampling)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(prob(1), s.Lookup("any-service").Response); diff != "" {
		t.Errorf("default strategy (-want +got):\n%s", diff)
	}
}

func TestLookup(t *testing.T) {
	c := config.Sampling{
		Default: config.SamplingStrategy{Type: "probabilistic", Param: 0.5,
			OperationStrategies: []config.OperationSamplingStrategy{op("/health", 0), op("/metrics", 0)}},
		ServiceStrategies: []config.ServiceSamplingStrategy{
			{Service: "checkout", Type: "probabilistic", Param: 0.8,
				OperationStrategies: []config.OperationSamplingStrategy{op("GET /cart", 0.2), op("/health", 0.01)}},
			{Service: "billing", Type: "ratelimiting", Param: 5},
			{Service: "search", Type: "probabilistic", Param: 0.1},
			{Service: "auth", Type: "probabilistic", Param: 0.3, DefaultLowerBoundTracesPerSecond: 0.5},
		},
	}
	s, err := Compile(c, "sampling.default", "sampling.service_strategies")
	if err != nil {
		t.Fatal(err)
	}
	f := func(service string, want *api_v2.SamplingStrategyResponse) {
		t.Helper()
		if diff := cmp.Diff(want, s.Lookup(service).Response); diff != "" {
			t.Errorf("strategy of %q (-want +got):\n%s", service, diff)
		}
	}
	// A service of its own with operations: its own first, then the
	// default's it does not list.
	f("checkout", withOps(prob(0.8), 0.8, 0, "GET /cart", 0.2, "/health", 0.01, "/metrics", 0.0))
	// Rate limiting inherits the default's operations and probability.
	f("billing", withOps(rateLimit(5), 0.5, 0, "/health", 0.0, "/metrics", 0.0))
	// A probabilistic service inherits the operations with its own rate.
	f("search", withOps(prob(0.1), 0.1, 0, "/health", 0.0, "/metrics", 0.0))
	// A lower bound alone asks for per-operation sampling.
	f("auth", withOps(prob(0.3), 0.3, 0.5, "/health", 0.0, "/metrics", 0.0))
	// Unknown services get the default.
	f("unknown", withOps(prob(0.5), 0.5, 0, "/health", 0.0, "/metrics", 0.0))
	f("", withOps(prob(0.5), 0.5, 0, "/health", 0.0, "/metrics", 0.0))
}

func TestLookupWithoutDefaultOperations(t *testing.T) {
	c := config.Sampling{
		Default: config.SamplingStrategy{Type: "ratelimiting", Param: 2, OperationStrategies: nil},
		ServiceStrategies: []config.ServiceSamplingStrategy{
			{Service: "a", Type: "probabilistic", Param: 0.25},
			{Service: "b", Type: "ratelimiting", Param: 7, OperationStrategies: []config.OperationSamplingStrategy{op("x", 1)}},
			{Service: "c", Type: "probabilistic", Param: 0.01, DefaultLowerBoundTracesPerSecond: 1},
		},
	}
	s, err := Compile(c, "d", "s")
	if err != nil {
		t.Fatal(err)
	}
	for service, want := range map[string]*api_v2.SamplingStrategyResponse{
		"a":     prob(0.25),
		"b":     withOps(rateLimit(7), fallbackProbability, 0, "x", 1.0),
		"c":     withOps(prob(0.01), 0.01, 1),
		"other": rateLimit(2),
	} {
		if diff := cmp.Diff(want, s.Lookup(service).Response); diff != "" {
			t.Errorf("strategy of %q (-want +got):\n%s", service, diff)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	f := func(c config.Sampling, wants ...string) {
		t.Helper()
		_, err := Compile(c, "sampling.default", "sampling.service_strategies")
		if err == nil {
			t.Fatalf("Compile(%+v) = nil error, want %q", c, wants)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}
	def := config.SamplingStrategy{Type: "probabilistic", Param: 1}
	svc := func(ss ...config.ServiceSamplingStrategy) config.Sampling {
		return config.Sampling{Default: def, ServiceStrategies: ss}
	}
	f(config.Sampling{Default: config.SamplingStrategy{Type: "probabilistic", Param: 1.5}},
		"sampling.default: probabilistic param 1.5: want a probability from 0 to 1")
	f(config.Sampling{Default: config.SamplingStrategy{Type: "probabilistic", Param: -0.1}}, "param -0.1")
	f(config.Sampling{Default: config.SamplingStrategy{Type: "const", Param: 1}}, `sampling.default: type "const": want probabilistic or ratelimiting`)
	f(config.Sampling{}, "sampling.default: type must be set")
	f(config.Sampling{Default: config.SamplingStrategy{Type: "ratelimiting", Param: 2.5}}, "ratelimiting param 2.5: want a whole number")
	f(config.Sampling{Default: config.SamplingStrategy{Type: "ratelimiting", Param: 40000}}, "from 0 to 32767")
	f(config.Sampling{Default: config.SamplingStrategy{Type: "ratelimiting", Param: 1, DefaultLowerBoundTracesPerSecond: 1}},
		"default_lower_bound_traces_per_second needs a probabilistic strategy")
	f(config.Sampling{Default: config.SamplingStrategy{Type: "probabilistic", Param: 1, DefaultLowerBoundTracesPerSecond: -1}},
		"default_lower_bound_traces_per_second -1")
	f(svc(config.ServiceSamplingStrategy{Type: "probabilistic", Param: 1}), "sampling.service_strategies[0]: service must be set")
	f(svc(config.ServiceSamplingStrategy{Service: "a", Type: "probabilistic", Param: 1}, config.ServiceSamplingStrategy{Service: "a", Type: "probabilistic", Param: 1}),
		`sampling.service_strategies[1]: service "a" is listed twice`)
	f(svc(config.ServiceSamplingStrategy{Service: strings.Repeat("s", 1025), Type: "probabilistic", Param: 1}), "service is longer than 1024 bytes")
	f(svc(config.ServiceSamplingStrategy{Service: "a", Type: "ratelimiting", Param: -1}), "sampling.service_strategies[0] (a): ratelimiting param -1")
	f(svc(config.ServiceSamplingStrategy{Service: "a", Type: "probabilistic", Param: 1,
		OperationStrategies: []config.OperationSamplingStrategy{{Operation: "x", Type: "ratelimiting", Param: 1}}}),
		`sampling.service_strategies[0] (a).operation_strategies[0] (x): type "ratelimiting": operation strategies must be probabilistic`)
	f(svc(config.ServiceSamplingStrategy{Service: "a", Type: "probabilistic", Param: 1,
		OperationStrategies: []config.OperationSamplingStrategy{op("x", 1), op("x", 0.5), op("", 1), op("y", 2)}}),
		`operation_strategies[1]: operation "x" is listed twice`, "operation_strategies[2]: operation must be set",
		"operation_strategies[3] (y): probabilistic param 2")
	// Every error is reported, not only the first.
	f(svc(config.ServiceSamplingStrategy{Service: "a", Type: "x"}, config.ServiceSamplingStrategy{Service: "b", Type: "probabilistic", Param: 9}),
		`(a): type "x"`, "(b): probabilistic param 9")
}

func TestConfigValidate(t *testing.T) {
	c := config.Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c.Sampling.Default.Param = 2
	c.Sampling.StrategiesFile = "s.json"
	c.Sampling.ServiceStrategies = []config.ServiceSamplingStrategy{{Service: "a", Type: "ratelimiting", Param: 1}}
	c.Receivers.Jaeger.AgentSampling.Addr = ""
	err := c.Validate()
	for _, want := range []string{
		"sampling.default: probabilistic param 2",
		"sampling.strategies_file and sampling.service_strategies are both set",
		"receivers.jaeger.agent_sampling.addr must be set",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to say %q", err, want)
		}
	}
}

func TestFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	def := config.Default().Sampling

	c := def
	c.StrategiesFile = "testdata/strategies.json"
	s, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(withOps(rateLimit(5), 0.5, 0, "/health", 0.0, "/metrics", 0.0), s.Lookup("bar").Response); diff != "" {
		t.Errorf("bar (-want +got):\n%s", diff)
	}

	c.StrategiesFile = "testdata/strategies-lower-bound.json"
	if s, err = FromConfig(c); err != nil {
		t.Fatal(err)
	}
	for service, want := range map[string]*api_v2.SamplingStrategyResponse{
		"checkout": rateLimit(100), // the lower bound alone is not inherited: clients would drop the rate limit
		"search":   withOps(prob(0.001), 0.001, 1, "GET /search", 0.05),
		"other":    withOps(prob(0.01), 0.01, 0.1),
	} {
		if diff := cmp.Diff(want, s.Lookup(service).Response); diff != "" {
			t.Errorf("%s (-want +got):\n%s", service, diff)
		}
	}

	// Without a default_strategy the configured default stays.
	c.StrategiesFile = write("no-default.json", `{"service_strategies": [{"service": "a", "type": "ratelimiting", "param": 3}]}`)
	if s, err = FromConfig(c); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(prob(1), s.Lookup("b").Response); diff != "" {
		t.Errorf("default (-want +got):\n%s", diff)
	}

	f := func(body string, wants ...string) {
		t.Helper()
		c := def
		c.StrategiesFile = write("bad.json", body)
		_, err := FromConfig(c)
		if err == nil {
			t.Fatalf("FromConfig(%s) = nil error", body)
		}
		for _, w := range append(wants, c.StrategiesFile) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
	}
	f(`{"default_strategy": {"type": "probabilistic", "param": 3}}`, "default_strategy: probabilistic param 3")
	f(`{"service_strategies": [{"service": "a", "type": "probabilistic", "param": 1, "operation_strategy": []}]}`, `unknown field "operation_strategy"`)
	f(`{"service_strategies": [{"service": "a", "type": "ratelimiting"`, "decode strategies")
	f(`{} {}`, "unexpected data after the JSON object")
	f(`{"service_strategies": [{"service": "a", "type": "probabilistic", "param": 1}, {"service": "a", "type": "probabilistic", "param": 1}]}`,
		`service_strategies[1]: service "a" is listed twice`)

	c = def
	c.StrategiesFile = filepath.Join(dir, "missing.json")
	if _, err := FromConfig(c); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
	c.StrategiesFile = write("big.json", `{"service_strategies": [`+strings.Repeat(" ", MaxFileBytes)+`]}`)
	if _, err := FromConfig(c); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized file: %v", err)
	}
}
