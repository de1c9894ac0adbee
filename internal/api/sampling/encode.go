package sampling

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/gogo/protobuf/jsonpb"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"
	"github.com/jaegertracing/jaeger-idl/thrift-gen/sampling"
)

func newReply(r *api_v2.SamplingStrategyResponse) (*Reply, error) {
	j, err := EncodeJSON(r)
	if err != nil {
		return nil, err
	}
	l, err := EncodeLegacyJSON(r)
	if err != nil {
		return nil, err
	}
	return &Reply{Response: r, JSON: j, LegacyJSON: l}, nil
}

// EncodeJSON encodes a strategy as Jaeger's /sampling and /api/sampling
// endpoints do: the proto JSON mapping of jaeger-idl's
// SamplingStrategyResponse with enum names ("strategyType":
// "PROBABILISTIC", which is the enum's zero value and so must be written
// explicitly) and without the strategies that are not set. jaeger-client-go
// (encoding/json into its thrift types), OpenTelemetry's jaegerremote
// sampler and the other SDKs parse this.
func EncodeJSON(r *api_v2.SamplingStrategyResponse) ([]byte, error) {
	var buf bytes.Buffer
	if err := (&jsonpb.Marshaler{EmitDefaults: true}).Marshal(&buf, r); err != nil {
		return nil, fmt.Errorf("encode strategy: %w", err)
	}
	return dropNulls(buf.Bytes())
}

// EncodeLegacyJSON encodes a strategy as jaeger-agent's legacy GET /
// does: encoding/json of the thrift SamplingStrategyResponse with the
// strategy type as its number, which clients generated with Thrift 0.9.2
// expect.
func EncodeLegacyJSON(r *api_v2.SamplingStrategyResponse) ([]byte, error) {
	t := &sampling.SamplingStrategyResponse{StrategyType: sampling.SamplingStrategyType(r.StrategyType)}
	if p := r.ProbabilisticSampling; p != nil {
		t.ProbabilisticSampling = &sampling.ProbabilisticSamplingStrategy{SamplingRate: p.SamplingRate}
	}
	if rl := r.RateLimitingSampling; rl != nil {
		// Validation keeps the rate within the thrift field's 16 bits.
		t.RateLimitingSampling = &sampling.RateLimitingSamplingStrategy{MaxTracesPerSecond: int16(rl.MaxTracesPerSecond)}
	}
	if o := r.OperationSampling; o != nil {
		to := &sampling.PerOperationSamplingStrategies{
			DefaultSamplingProbability:       o.DefaultSamplingProbability,
			DefaultLowerBoundTracesPerSecond: o.DefaultLowerBoundTracesPerSecond,
			PerOperationStrategies:           make([]*sampling.OperationSamplingStrategy, 0, len(o.PerOperationStrategies)),
		}
		if o.DefaultUpperBoundTracesPerSecond != 0 {
			up := o.DefaultUpperBoundTracesPerSecond
			to.DefaultUpperBoundTracesPerSecond = &up
		}
		for _, op := range o.PerOperationStrategies {
			to.PerOperationStrategies = append(to.PerOperationStrategies, &sampling.OperationSamplingStrategy{
				Operation:             op.Operation,
				ProbabilisticSampling: &sampling.ProbabilisticSamplingStrategy{SamplingRate: op.ProbabilisticSampling.GetSamplingRate()},
			})
		}
		t.OperationSampling = to
	}
	b, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode legacy strategy: %w", err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("encode legacy strategy: %w", err)
	}
	fields["strategyType"] = json.RawMessage(fmt.Sprint(int64(r.StrategyType)))
	return json.Marshal(fields)
}

// dropNulls removes the top-level fields whose value is null from a JSON
// object.
func dropNulls(b []byte) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, fmt.Errorf("encode strategy: %w", err)
	}
	for k, v := range fields {
		if string(v) == "null" {
			delete(fields, k)
		}
	}
	return json.Marshal(fields)
}
