package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/opentracing/opentracing-go"
	jaegerclient "github.com/uber/jaeger-client-go"
	jaegercfg "github.com/uber/jaeger-client-go/config"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// remoteTracer is a jaeger-client-go tracer configured as an application
// would be with Clew in place of jaeger-agent: the remote sampler (no const
// sampler; until a strategy arrives it samples 0.1%, jaeger-client-go's
// default) polling Clew's agent sampling port, and the UDP reporter to
// Clew's compact agent port. Only the refresh interval is shortened from a
// minute so the test need not wait.
func remoteTracer(t *testing.T, s *Server, service string) (opentracing.Tracer, *jaegerclient.RemotelyControlledSampler, io.Closer) {
	t.Helper()
	cfg := jaegercfg.Configuration{
		ServiceName: service,
		Sampler: &jaegercfg.SamplerConfig{
			Type:                    jaegerclient.SamplerTypeRemote,
			Param:                   0.001,
			SamplingServerURL:       "http://" + s.Addr("receivers.jaeger.agent-sampling.addr") + "/sampling",
			SamplingRefreshInterval: 100 * time.Millisecond,
		},
		Reporter: &jaegercfg.ReporterConfig{
			LocalAgentHostPort:  s.Addr("receivers.jaeger.agent-compact.addr"),
			BufferFlushInterval: 50 * time.Millisecond,
		},
	}
	tracer, closer, err := cfg.NewTracer()
	if err != nil {
		t.Fatal(err)
	}
	remote, ok := tracer.(*jaegerclient.Tracer).Sampler().(*jaegerclient.RemotelyControlledSampler)
	if !ok {
		t.Fatalf("sampler is %T, want the remotely controlled sampler", tracer.(*jaegerclient.Tracer).Sampler())
	}
	return tracer, remote, closer
}

// TestJaegerClientRemoteSampling: a jaeger-client-go application with the
// remote sampler and no sampling settings of its own gets Clew's default
// strategy (probabilistic 1.0) and so every trace arrives.
func TestJaegerClientRemoteSampling(t *testing.T) {
	s := Start(t)
	const service, traces = "remote-sampled", 50
	tracer, remote, closer := remoteTracer(t, s, service)
	defer closer.Close()

	if got := fmt.Sprint(remote.Sampler()); !strings.Contains(got, "samplingRate=0.001") {
		t.Fatalf("initial sampler %s, want the 0.1%% probabilistic one", got)
	}
	Eventually(t, 10*time.Second, func() error {
		if p, ok := remote.Sampler().(*jaegerclient.ProbabilisticSampler); !ok || p.SamplingRate() != 1 {
			return fmt.Errorf("sampler is %s", remote.Sampler())
		}
		return nil
	})
	if n := s.Metric(t, `clew_http_request_duration_seconds_count{server="jaeger_agent_sampling",route="GET /sampling",code="200"`); n < 1 {
		t.Errorf("Clew counted %v sampling requests from the client", n)
	}

	if n := emitTraces(tracer, traces); n != traces {
		t.Errorf("jaeger-client-go sampled %d of %d traces, want all", n, traces)
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"service": {service}, "limit": {"1000"}, "lookback": {"1h"}}
	Eventually(t, 15*time.Second, func() error {
		if got := findTraces(t, s, q); len(got) != traces {
			return fmt.Errorf("%d traces of %s stored, want %d", len(got), service, traces)
		}
		return nil
	})
}

// emitTraces starts n two-span traces and returns how many the tracer
// sampled.
func emitTraces(tracer opentracing.Tracer, n int) int {
	sampled := 0
	for i := range n {
		root := tracer.StartSpan(fmt.Sprintf("GET /item/%d", i))
		if root.Context().(jaegerclient.SpanContext).IsSampled() {
			sampled++
		}
		child := tracer.StartSpan("SELECT item", opentracing.ChildOf(root.Context()))
		child.Finish()
		root.Finish()
	}
	return sampled
}

// TestJaegerClientWithoutRemoteSampling is the control of the test above:
// with Clew's sampling port switched off, the same client keeps its
// initial 0.1% sampler and records (almost) nothing.
func TestJaegerClientWithoutRemoteSampling(t *testing.T) {
	s := Start(t, "--receivers.jaeger.agent-sampling.enabled=false")
	tracer, remote, closer := remoteTracer(t, s, "not-remote-sampled")
	defer closer.Close()
	time.Sleep(time.Second) // ten refresh intervals
	if got := fmt.Sprint(remote.Sampler()); !strings.Contains(got, "samplingRate=0.001") {
		t.Fatalf("sampler %s, want the initial 0.1%% one", got)
	}
	if n := emitTraces(tracer, 50); n > 5 {
		t.Errorf("the initial sampler kept %d of 50 traces", n)
	}
}

// samplingConfig has a per-service rate-limiting strategy, a
// per-operation one and a default of 25%.
const samplingConfig = `
sampling:
  default:
    type: probabilistic
    param: 0.25
  service_strategies:
    - service: checkout
      type: ratelimiting
      param: 7
    - service: search
      type: probabilistic
      param: 0.05
      default_lower_bound_traces_per_second: 0.5
      operation_strategies:
        - operation: GET /search
          type: probabilistic
          param: 0.5
`

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestRemoteSamplingEndpoints checks that every sampling endpoint — the
// agent's HTTP port (/sampling and legacy /), /api/sampling on the
// collector HTTP and query ports, and SamplingManager on the collector
// gRPC port — serves the configured strategies, and that jaeger-client-go
// applies them.
func TestRemoteSamplingEndpoints(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "clew.yaml")
	if err := os.WriteFile(cfgPath, []byte(samplingConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	s := Start(t, "--config="+cfgPath)
	agent := "http://" + s.Addr("receivers.jaeger.agent-sampling.addr")
	endpoints := []string{
		agent + "/sampling",
		"http://" + s.Addr("receivers.jaeger.collector-http.addr") + "/api/sampling",
		s.QueryURL() + "/api/sampling",
	}
	type reply struct {
		StrategyType          any `json:"strategyType"`
		ProbabilisticSampling *struct {
			SamplingRate float64 `json:"samplingRate"`
		} `json:"probabilisticSampling"`
		RateLimitingSampling *struct {
			MaxTracesPerSecond int `json:"maxTracesPerSecond"`
		} `json:"rateLimitingSampling"`
		OperationSampling *struct {
			DefaultSamplingProbability       float64 `json:"defaultSamplingProbability"`
			DefaultLowerBoundTracesPerSecond float64 `json:"defaultLowerBoundTracesPerSecond"`
			PerOperationStrategies           []struct {
				Operation             string `json:"operation"`
				ProbabilisticSampling struct {
					SamplingRate float64 `json:"samplingRate"`
				} `json:"probabilisticSampling"`
			} `json:"perOperationStrategies"`
		} `json:"operationSampling"`
	}
	get := func(u string) reply {
		t.Helper()
		code, body := httpGet(t, u)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, code, body)
		}
		var r reply
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("GET %s: %v: %s", u, err, body)
		}
		return r
	}
	for _, e := range endpoints {
		r := get(e + "?service=checkout")
		if r.StrategyType != "RATE_LIMITING" || r.RateLimitingSampling == nil || r.RateLimitingSampling.MaxTracesPerSecond != 7 || r.ProbabilisticSampling != nil {
			t.Errorf("%s checkout: %+v", e, r)
		}
		r = get(e + "?service=search")
		if r.StrategyType != "PROBABILISTIC" || r.ProbabilisticSampling == nil || r.ProbabilisticSampling.SamplingRate != 0.05 ||
			r.OperationSampling == nil || r.OperationSampling.DefaultSamplingProbability != 0.05 || r.OperationSampling.DefaultLowerBoundTracesPerSecond != 0.5 ||
			len(r.OperationSampling.PerOperationStrategies) != 1 || r.OperationSampling.PerOperationStrategies[0].Operation != "GET /search" ||
			r.OperationSampling.PerOperationStrategies[0].ProbabilisticSampling.SamplingRate != 0.5 {
			t.Errorf("%s search: %+v", e, r)
		}
		r = get(e + "?service=anything-else")
		if r.StrategyType != "PROBABILISTIC" || r.ProbabilisticSampling == nil || r.ProbabilisticSampling.SamplingRate != 0.25 || r.OperationSampling != nil {
			t.Errorf("%s default: %+v", e, r)
		}
		if code, body := httpGet(t, e); code != http.StatusBadRequest || !strings.Contains(body, "'service' parameter") {
			t.Errorf("GET %s without service: %d %q, want 400 with a message", e, code, body)
		}
	}
	// jaeger-agent's legacy root endpoint writes the type as a number.
	if r := get(agent + "/?service=checkout"); r.StrategyType != float64(1) || r.RateLimitingSampling == nil || r.RateLimitingSampling.MaxTracesPerSecond != 7 {
		t.Errorf("legacy /: %+v", r)
	}

	conn, err := grpc.NewClient(s.Addr("receivers.jaeger.collector-grpc.addr"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := api_v2.NewSamplingManagerClient(conn)
	gr, err := client.GetSamplingStrategy(ctx, &api_v2.SamplingStrategyParameters{ServiceName: "checkout"})
	if err != nil {
		t.Fatal(err)
	}
	if gr.StrategyType != api_v2.SamplingStrategyType_RATE_LIMITING || gr.GetRateLimitingSampling().GetMaxTracesPerSecond() != 7 {
		t.Errorf("gRPC checkout: %v", gr)
	}
	if gr, err = client.GetSamplingStrategy(ctx, &api_v2.SamplingStrategyParameters{ServiceName: "search"}); err != nil {
		t.Fatal(err)
	}
	if ops := gr.GetOperationSampling(); ops == nil || len(ops.PerOperationStrategies) != 1 || ops.PerOperationStrategies[0].GetProbabilisticSampling().GetSamplingRate() != 0.5 {
		t.Errorf("gRPC search: %v", gr)
	}
	if _, err := client.GetSamplingStrategy(ctx, &api_v2.SamplingStrategyParameters{}); err == nil {
		t.Error("gRPC without a service name: no error")
	}

	// jaeger-client-go applies what it fetched.
	for service, want := range map[string]string{
		"checkout": "RateLimitingSampler(maxTracesPerSecond=7)",
		"search":   "GET /search",
	} {
		_, remote, closer := remoteTracer(t, s, service)
		Eventually(t, 10*time.Second, func() error {
			if got := fmt.Sprint(remote.Sampler()); !strings.Contains(got, want) {
				return fmt.Errorf("%s: sampler %s, want %s", service, got, want)
			}
			return nil
		})
		closer.Close()
	}
}

// TestSamplingStrategiesFileInvalid: a strategies file that cannot work
// stops clew at start with a message naming the file and the entry.
func TestSamplingStrategiesFileInvalid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strategies.json")
	body := `{"service_strategies": [{"service": "checkout", "type": "probabilistic", "param": 5}]}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(Binary(t), "--storage=memory", "--sampling.strategies-file="+path)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("clew started with an invalid strategies file:\n%s", out)
	}
	if want := "service_strategies[0] (checkout): probabilistic param 5"; !strings.Contains(string(out), want) || !strings.Contains(string(out), path) {
		t.Errorf("clew said %q, want it to name %s and say %q", out, path, want)
	}
}

// TestSamplingStrategiesFile serves a Jaeger strategies file.
func TestSamplingStrategiesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strategies.json")
	body := `{"default_strategy": {"type": "probabilistic", "param": 0.5},
	  "service_strategies": [{"service": "foo", "type": "ratelimiting", "param": 3}]}`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	s := Start(t, "--sampling.strategies-file="+path)
	agent := "http://" + s.Addr("receivers.jaeger.agent-sampling.addr")
	for u, want := range map[string]string{
		agent + "/sampling?service=foo": `{"rateLimitingSampling":{"maxTracesPerSecond":3},"strategyType":"RATE_LIMITING"}`,
		agent + "/sampling?service=bar": `{"probabilisticSampling":{"samplingRate":0.5},"strategyType":"PROBABILISTIC"}`,
	} {
		if code, got := httpGet(t, u); code != 200 || got != want {
			t.Errorf("GET %s = %d %s, want %s", u, code, got, want)
		}
	}
}
