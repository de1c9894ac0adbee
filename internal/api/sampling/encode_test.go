package sampling

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/gogo/protobuf/jsonpb"
	"github.com/google/go-cmp/cmp"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	jcsampling "github.com/uber/jaeger-client-go/thrift-gen/sampling"

	"github.com/clew-dev/clew/internal/config"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// goldenStrategies are the replies of testdata/strategies.json (Jaeger's
// documented example) and of the zero configuration.
func goldenStrategies(t *testing.T) map[string]*Reply {
	t.Helper()
	c := config.Default().Sampling
	zero, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	c.StrategiesFile = "testdata/strategies.json"
	file, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	c.StrategiesFile = ""
	c.ServiceStrategies = []config.ServiceSamplingStrategy{{Service: "checkout", Type: "ratelimiting", Param: 25}}
	rl, err := FromConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*Reply{
		"zero-config":      zero.Lookup("any"),
		"ratelimiting":     rl.Lookup("checkout"),
		"file-foo":         file.Lookup("foo"),
		"file-bar":         file.Lookup("bar"),
		"file-unknown-svc": file.Lookup("unknown"),
	}
}

func TestGoldenJSON(t *testing.T) {
	for name, r := range goldenStrategies(t) {
		for suffix, got := range map[string][]byte{".json": r.JSON, ".legacy.json": r.LegacyJSON} {
			path := filepath.Join("testdata", "golden", name+suffix)
			var indented bytes.Buffer
			if err := json.Indent(&indented, got, "", "  "); err != nil {
				t.Fatalf("%s: %v\n%s", path, err, got)
			}
			indented.WriteByte('\n')
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, indented.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if diff := cmp.Diff(string(want), indented.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		}
	}
}

// TestClientsParseReplies decodes every reply as the clients do:
// jaeger-client-go with encoding/json into its thrift types, Jaeger's own
// SamplingStrategyResponseFromJSON and OpenTelemetry's jaegerremote with
// jsonpb into the proto types, and thrift 0.9.2 clients (legacy) with the
// type as a number.
func TestClientsParseReplies(t *testing.T) {
	for name, r := range goldenStrategies(t) {
		var back api_v2.SamplingStrategyResponse
		if err := jsonpb.Unmarshal(bytes.NewReader(r.JSON), &back); err != nil {
			t.Fatalf("%s: jsonpb: %v", name, err)
		}
		if diff := cmp.Diff(r.Response, &back); diff != "" {
			t.Errorf("%s: jsonpb round trip (-want +got):\n%s", name, diff)
		}

		var jc jcsampling.SamplingStrategyResponse
		if err := json.Unmarshal(r.JSON, &jc); err != nil {
			t.Fatalf("%s: jaeger-client-go: %v", name, err)
		}
		if diff := cmp.Diff(fromJaegerClient(&jc), r.Response); diff != "" {
			t.Errorf("%s: as jaeger-client-go reads it (-want +got):\n%s", name, diff)
		}

		var legacy struct {
			StrategyType int `json:"strategyType"`
		}
		if err := json.Unmarshal(r.LegacyJSON, &legacy); err != nil {
			t.Fatalf("%s: legacy: %v", name, err)
		}
		if legacy.StrategyType != int(r.Response.StrategyType) {
			t.Errorf("%s: legacy strategyType %d, want %d", name, legacy.StrategyType, r.Response.StrategyType)
		}
	}
}

func fromJaegerClient(jc *jcsampling.SamplingStrategyResponse) *api_v2.SamplingStrategyResponse {
	r := &api_v2.SamplingStrategyResponse{StrategyType: api_v2.SamplingStrategyType(jc.StrategyType)}
	if p := jc.ProbabilisticSampling; p != nil {
		r.ProbabilisticSampling = &api_v2.ProbabilisticSamplingStrategy{SamplingRate: p.SamplingRate}
	}
	if rl := jc.RateLimitingSampling; rl != nil {
		r.RateLimitingSampling = &api_v2.RateLimitingSamplingStrategy{MaxTracesPerSecond: int32(rl.MaxTracesPerSecond)}
	}
	if o := jc.OperationSampling; o != nil {
		r.OperationSampling = &api_v2.PerOperationSamplingStrategies{
			DefaultSamplingProbability:       o.DefaultSamplingProbability,
			DefaultLowerBoundTracesPerSecond: o.DefaultLowerBoundTracesPerSecond,
			PerOperationStrategies:           []*api_v2.OperationSamplingStrategy{},
		}
		for _, op := range o.PerOperationStrategies {
			r.OperationSampling.PerOperationStrategies = append(r.OperationSampling.PerOperationStrategies, &api_v2.OperationSamplingStrategy{
				Operation: op.Operation, ProbabilisticSampling: &api_v2.ProbabilisticSamplingStrategy{SamplingRate: op.ProbabilisticSampling.SamplingRate},
			})
		}
	}
	return r
}
