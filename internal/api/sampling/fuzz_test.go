package sampling

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gogo/protobuf/jsonpb"
	"github.com/google/go-cmp/cmp"
	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"

	"github.com/clew-dev/clew/internal/config"
)

// FuzzStrategiesFile parses, compiles and encodes strategies files: no
// input may panic, and whatever compiles must encode to JSON that decodes
// back to the same strategy.
func FuzzStrategiesFile(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.json")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"default_strategy": {"type": "ratelimiting", "param": 32767, "operation_strategies": [{"operation": "x", "type": "probabilistic", "param": 1}]}}`))
	f.Add([]byte(`{"default_strategy": {"type": "probabilistic", "param": 0.01, "default_lower_bound_traces_per_second": 1}}`))
	f.Add([]byte(`{"service_strategies": [null, {"service": "\u00e9", "type": "probabilistic", "param": 1e-300}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := ParseFile(data)
		if err != nil {
			return
		}
		s, err := Compile(file.Sampling(config.Default().Sampling.Default), "default_strategy", "service_strategies")
		if err != nil {
			return
		}
		names := []string{"no-such-service"}
		for _, ss := range file.ServiceStrategies {
			names = append(names, ss.Service)
		}
		for _, name := range names {
			r := s.Lookup(name)
			var back api_v2.SamplingStrategyResponse
			if err := jsonpb.Unmarshal(bytes.NewReader(r.JSON), &back); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, r.JSON)
			}
			if diff := cmp.Diff(r.Response, &back); diff != "" {
				t.Fatalf("%s: round trip (-want +got):\n%s", name, diff)
			}
			if len(r.LegacyJSON) == 0 {
				t.Fatalf("%s: no legacy JSON", name)
			}
		}
	})
}

// FuzzServiceParam parses query strings of sampling requests.
func FuzzServiceParam(f *testing.F) {
	for _, q := range []string{"service=checkout", "service=a%20b&x=1", "service=", "service=a&service=b", "%zz", "", "service=%E2%9C%93;x"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		s, err := ParseServiceParam(q)
		if err != nil {
			return
		}
		if s == "" || len(s) > config.MaxSamplingNameBytes || len(q) > MaxQueryBytes {
			t.Fatalf("ParseServiceParam(%q) = %q, nil: out of bounds", q, s)
		}
	})
}
