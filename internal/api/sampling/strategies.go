// Package sampling serves Jaeger remote sampling: the strategies Jaeger
// clients (jaeger-client-go and the other Jaeger SDKs, OpenTelemetry's
// jaegerremote sampler) fetch to decide which traces to record. The
// strategies come from the sampling section of the configuration or from a
// strategies file in Jaeger's format, and are served on jaeger-agent's HTTP
// sampling port (GET /sampling, legacy GET /), as GET /api/sampling on the
// collector HTTP and query ports, and as
// jaeger.api_v2.SamplingManager/GetSamplingStrategy on the collector gRPC
// port. Replies use jaeger-idl's types, so field names are those clients
// parse. docs/sampling.md is the user documentation.
package sampling

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/jaegertracing/jaeger-idl/proto-gen/api_v2"

	"github.com/clew-dev/clew/internal/config"
)

// MaxFileBytes bounds a strategies file.
const MaxFileBytes = 16 << 20

// fallbackProbability is the default probability of per-operation
// sampling under a ratelimiting strategy, which has none of its own (the
// value Jaeger's file-based sampling uses there).
const fallbackProbability = 0.001

// File is a strategies file in the format of Jaeger's file-based sampling:
//
//	{"default_strategy": {"type": "probabilistic", "param": 0.5,
//	   "operation_strategies": [{"operation": "/health", "type": "probabilistic", "param": 0}]},
//	 "service_strategies": [{"service": "checkout", "type": "ratelimiting", "param": 10}]}
//
// default_lower_bound_traces_per_second on a strategy is Clew's addition.
type File struct {
	DefaultStrategy   *FileStrategy         `json:"default_strategy"`
	ServiceStrategies []FileServiceStrategy `json:"service_strategies"`
}

// FileStrategy is the default strategy of a File.
type FileStrategy struct {
	Type                             string                  `json:"type"`
	Param                            float64                 `json:"param"`
	DefaultLowerBoundTracesPerSecond float64                 `json:"default_lower_bound_traces_per_second,omitempty"`
	OperationStrategies              []FileOperationStrategy `json:"operation_strategies,omitempty"`
}

// FileServiceStrategy is the strategy of one service in a File.
type FileServiceStrategy struct {
	Service string `json:"service"`
	FileStrategy
}

// FileOperationStrategy is the strategy of one operation in a File.
type FileOperationStrategy struct {
	Operation string  `json:"operation"`
	Type      string  `json:"type"`
	Param     float64 `json:"param"`
}

// ParseFile decodes a strategies file. Unknown fields are errors (a
// misspelt key would otherwise be silently ignored), and so is anything
// after the JSON object. The strategies are not validated; Compile does.
func ParseFile(data []byte) (*File, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("the strategies file is larger than %d bytes", MaxFileBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode strategies: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode strategies: unexpected data after the JSON object")
	}
	return &f, nil
}

// Sampling returns the file as a sampling configuration; when the file has
// no default strategy, def is kept.
func (f *File) Sampling(def config.SamplingStrategy) config.Sampling {
	s := config.Sampling{Default: def}
	if d := f.DefaultStrategy; d != nil {
		s.Default = config.SamplingStrategy{
			Type: d.Type, Param: d.Param, DefaultLowerBoundTracesPerSecond: d.DefaultLowerBoundTracesPerSecond,
			OperationStrategies: fileOps(d.OperationStrategies),
		}
	}
	for _, ss := range f.ServiceStrategies {
		s.ServiceStrategies = append(s.ServiceStrategies, config.ServiceSamplingStrategy{
			Service: ss.Service, Type: ss.Type, Param: ss.Param, DefaultLowerBoundTracesPerSecond: ss.DefaultLowerBoundTracesPerSecond,
			OperationStrategies: fileOps(ss.OperationStrategies),
		})
	}
	return s
}

func fileOps(ops []FileOperationStrategy) []config.OperationSamplingStrategy {
	var out []config.OperationSamplingStrategy
	for _, op := range ops {
		out = append(out, config.OperationSamplingStrategy(op))
	}
	return out
}

// Strategies are compiled sampling strategies: each service's reply,
// built and encoded once. They are immutable and safe for concurrent use.
type Strategies struct {
	def      *Reply
	services map[string]*Reply
}

// Reply is the strategy of one service in each of its encodings. Its
// fields must not be modified.
type Reply struct {
	// Response is what the gRPC SamplingManager returns.
	Response *api_v2.SamplingStrategyResponse
	// JSON is the reply of GET /sampling and /api/sampling: Jaeger's proto
	// JSON (enum names, camelCase fields).
	JSON []byte
	// LegacyJSON is the reply of jaeger-agent's GET /: the thrift JSON of
	// the oldest clients, with the strategy type as a number.
	LegacyJSON []byte
}

// FromConfig compiles the strategies of the configuration, reading
// sampling.strategies_file when it is set.
func FromConfig(c config.Sampling) (*Strategies, error) {
	if c.StrategiesFile == "" {
		return Compile(c, "sampling.default", "sampling.service_strategies")
	}
	if len(c.ServiceStrategies) > 0 {
		return nil, errors.New("sampling.strategies_file and sampling.service_strategies are both set: keep the strategies in one place")
	}
	data, err := readFile(c.StrategiesFile)
	if err != nil {
		return nil, fmt.Errorf("sampling.strategies_file: %w", err)
	}
	f, err := ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("sampling.strategies_file %s: %w", c.StrategiesFile, err)
	}
	s, err := Compile(f.Sampling(c.Default), "default_strategy", "service_strategies")
	if err != nil {
		return nil, fmt.Errorf("sampling.strategies_file %s: %w", c.StrategiesFile, err)
	}
	return s, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxFileBytes)
	}
	return data, nil
}

// Compile validates the strategies (naming the default defName and the
// service list svcName in errors) and builds every service's reply.
//
// The rules are those of Jaeger's file-based sampling: a service without a
// strategy gets the default one; a service without operation strategies
// inherits the default's (its own probability, if probabilistic, becomes
// their default probability); a service with operation strategies gets the
// default's too for operations it does not list.
func Compile(c config.Sampling, defName, svcName string) (*Strategies, error) {
	if errs := c.CheckStrategies(defName, svcName); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d := c.Default
	defResp := response(d.Type, d.Param, d.DefaultLowerBoundTracesPerSecond, d.OperationStrategies)
	s := &Strategies{services: make(map[string]*Reply, len(c.ServiceStrategies))}
	var err error
	if s.def, err = newReply(defResp); err != nil {
		return nil, err
	}
	for _, ss := range c.ServiceStrategies {
		resp := response(ss.Type, ss.Param, ss.DefaultLowerBoundTracesPerSecond, ss.OperationStrategies)
		inherit(resp, defResp.OperationSampling)
		if s.services[ss.Service], err = newReply(resp); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Lookup returns the strategy of a service: its own or the default.
func (s *Strategies) Lookup(service string) *Reply {
	if r, ok := s.services[service]; ok {
		return r
	}
	return s.def
}

// response builds the reply of one validated strategy.
func response(typ string, param, lower float64, ops []config.OperationSamplingStrategy) *api_v2.SamplingStrategyResponse {
	r := &api_v2.SamplingStrategyResponse{}
	prob := fallbackProbability
	switch typ {
	case "probabilistic":
		r.StrategyType = api_v2.SamplingStrategyType_PROBABILISTIC
		r.ProbabilisticSampling = &api_v2.ProbabilisticSamplingStrategy{SamplingRate: param}
		prob = param
	case "ratelimiting":
		r.StrategyType = api_v2.SamplingStrategyType_RATE_LIMITING
		r.RateLimitingSampling = &api_v2.RateLimitingSamplingStrategy{MaxTracesPerSecond: int32(param)}
	}
	if len(ops) == 0 && lower == 0 {
		return r
	}
	r.OperationSampling = &api_v2.PerOperationSamplingStrategies{
		DefaultSamplingProbability:       prob,
		DefaultLowerBoundTracesPerSecond: lower,
		PerOperationStrategies:           make([]*api_v2.OperationSamplingStrategy, 0, len(ops)),
	}
	for _, op := range ops {
		r.OperationSampling.PerOperationStrategies = append(r.OperationSampling.PerOperationStrategies, &api_v2.OperationSamplingStrategy{
			Operation:             op.Operation,
			ProbabilisticSampling: &api_v2.ProbabilisticSamplingStrategy{SamplingRate: op.Param},
		})
	}
	return r
}

// inherit gives a service's reply the default strategy's per-operation
// strategies, as Jaeger's file-based sampling does, and its lower bound
// (except to a ratelimiting service when that is all there is).
func inherit(r *api_v2.SamplingStrategyResponse, def *api_v2.PerOperationSamplingStrategies) {
	if def == nil {
		return
	}
	if r.OperationSampling == nil {
		if r.RateLimitingSampling != nil && len(def.PerOperationStrategies) == 0 {
			// Only a lower bound to inherit: per-operation sampling would
			// make clients drop the rate limit for nothing.
			return
		}
		ops := *def
		ops.PerOperationStrategies = append(make([]*api_v2.OperationSamplingStrategy, 0, len(def.PerOperationStrategies)), def.PerOperationStrategies...)
		if r.ProbabilisticSampling != nil {
			ops.DefaultSamplingProbability = r.ProbabilisticSampling.SamplingRate
		}
		r.OperationSampling = &ops
		return
	}
	own := r.OperationSampling
	if own.DefaultLowerBoundTracesPerSecond == 0 {
		own.DefaultLowerBoundTracesPerSecond = def.DefaultLowerBoundTracesPerSecond
	}
	listed := make(map[string]bool, len(own.PerOperationStrategies))
	for _, op := range own.PerOperationStrategies {
		listed[op.Operation] = true
	}
	for _, op := range def.PerOperationStrategies {
		if !listed[op.Operation] {
			own.PerOperationStrategies = append(own.PerOperationStrategies, op)
		}
	}
}
