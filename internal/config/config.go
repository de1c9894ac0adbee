// Package config is Clew's configuration tree: one struct with defaults and
// Validate, overlaid in order by a YAML file (--config), CLEW_* environment
// variables and command-line flags. Every setting's flag, variable and YAML
// key derive from its place in the tree, and the reference in
// docs/configuration.md is generated from the same tags (clew config docs).
package config

import (
	"errors"
	"fmt"
	"time"
)

// Config is the whole configuration of `clew`.
type Config struct {
	Log       Log       `yaml:"log"`
	DataDir   string    `yaml:"data_dir" help:"Directory for durable data (WAL, blocks)."`
	Storage   string    `yaml:"storage" help:"Storage engine: memory (nothing survives a restart) or local (durable, in data_dir)."`
	Memory    Memory    `yaml:"memory"`
	Local     Local     `yaml:"local"`
	Limits    Limits    `yaml:"limits"`
	Query     Query     `yaml:"query"`
	Receivers Receivers `yaml:"receivers"`
	Shutdown  Shutdown  `yaml:"shutdown"`
	Tempo     Tempo     `yaml:"tempo"`
	Sampling  Sampling  `yaml:"sampling"`
}

// Log configures structured logging.
type Log struct {
	Level  string `yaml:"level" help:"Log level: debug, info, warn or error."`
	Format string `yaml:"format" help:"Log format: text or json."`
}

// Memory bounds the memory store.
type Memory struct {
	MaxSpans int   `yaml:"max_spans" help:"Most spans the memory store keeps; the traces that arrived first are evicted."`
	MaxBytes Bytes `yaml:"max_bytes" help:"Most (estimated) bytes the memory store keeps."`
}

// Local configures the durable local storage engine (storage: local).
type Local struct {
	Fsync              string        `yaml:"fsync" help:"WAL fsync policy: batch (fsync as soon as a batch waits; concurrent batches share one fsync) or interval (gather batches for fsync_interval, then one fsync). Either way a batch is acknowledged only after its fsync."`
	FsyncInterval      time.Duration `yaml:"fsync_interval" help:"Group-commit window of the interval fsync policy."`
	FlushBytes         Bytes         `yaml:"flush_bytes" help:"Estimated head size at which the head is written to a block."`
	FlushSpans         int           `yaml:"flush_spans" help:"Head span count at which the head is written to a block."`
	FlushInterval      time.Duration `yaml:"flush_interval" help:"Longest time spans stay in the head before being written to a block."`
	MaxHeadBytes       Bytes         `yaml:"max_head_bytes" help:"Memory limit of the heads (the one taking writes and those being written to blocks); writes beyond it are refused with a retryable error."`
	Retention          time.Duration `yaml:"retention" help:"Blocks whose newest span is older than this are deleted (0 keeps forever)."`
	DiskBudget         Bytes         `yaml:"disk_budget" help:"When set, the oldest blocks are deleted while blocks and WAL take more than this (0: no budget)."`
	CompactionInterval time.Duration `yaml:"compaction_interval" help:"How often compaction and retention run (0 disables compaction; retention then runs every minute)."`
	CompactionMaxSpans int           `yaml:"compaction_max_spans" help:"Largest block compaction writes, in spans."`
	DictionaryCache    Bytes         `yaml:"dictionary_cache_bytes" help:"Memory for the decoded Parquet dictionaries that reads of blocks keep, for the whole process (least recently used dropped first; 0 keeps none)."`
	SearchCache        Bytes         `yaml:"search_cache_bytes" help:"Memory for the decoded search indexes of blocks that searches keep, for the whole process (least recently used dropped first; 0 keeps none: every search reads them again)."`
	PageCache          Bytes         `yaml:"page_cache_bytes" help:"Memory for the decompressed block pages that lookups by trace id keep, for the whole process (least recently used dropped first; 0 keeps none)."`
}

// Limits bound what is accepted.
type Limits struct {
	MaxRequestBytes        Bytes         `yaml:"max_request_bytes" help:"Largest request body a receiver accepts, after decompression; larger ones get 413 / ResourceExhausted."`
	MaxNameBytes           int           `yaml:"max_name_bytes" help:"Longest span name, event name or attribute key; longer ones are truncated."`
	MaxAttributeValueBytes int           `yaml:"max_attribute_value_bytes" help:"Longest string or bytes attribute value; longer ones are truncated."`
	MaxAttributes          int           `yaml:"max_attributes" help:"Most attributes, events and links kept per span (each); the rest are dropped and counted in the span's dropped counts."`
	MaxFutureSkew          time.Duration `yaml:"max_future_skew" help:"Spans starting further than this in the future are rejected."`
	MaxInFlight            int           `yaml:"max_in_flight" help:"Batches written to the store at once."`
	MaxQueued              int           `yaml:"max_queued" help:"Batches that may wait for a write slot; more are refused with a retryable error."`
	QueueTimeout           time.Duration `yaml:"queue_timeout" help:"How long a batch may wait for a write slot before it is refused."`
	Memory                 Bytes         `yaml:"memory" help:"Soft limit of the process's memory (the Go runtime's GOMEMLIMIT): the garbage collector works harder as the heap nears it, so garbage does not double the memory in use. 0 sets it from the storage's own limits (local: 2 × local.max_head_bytes + 32 MiB; memory: 1.5 × memory.max_bytes + 64 MiB). The GOMEMLIMIT variable, when set, wins (GOMEMLIMIT=off: no limit)."`
}

// MemoryLimit returns the soft memory limit the settings ask for, or 0 for
// none.
func (c Config) MemoryLimit() int64 {
	switch {
	case c.Limits.Memory > 0:
		return int64(c.Limits.Memory)
	case c.Storage == "local":
		return 2*int64(c.Local.MaxHeadBytes) + 32<<20
	case c.Storage == "memory":
		return int64(c.Memory.MaxBytes)*3/2 + 64<<20
	}
	return 0
}

// Query configures the query port (APIs, UI, /metrics, health).
type Query struct {
	Addr            string        `yaml:"addr" help:"Listen address of the query APIs, the UI, /metrics and health endpoints."`
	Timeout         time.Duration `yaml:"timeout" help:"Deadline of one query."`
	MaxLimit        int           `yaml:"max_limit" help:"Most traces one search returns, whatever limit it asks for."`
	DefaultLookback time.Duration `yaml:"default_lookback" help:"Time range of a search that gives neither start nor lookback."`
	Pprof           bool          `yaml:"pprof" help:"Serve Go's profiler under /debug/pprof/ on the query port (for diagnosing Clew itself; keep off on ports others can reach)."`
}

// Receivers configures every receiver. An address "" or enabled=false turns
// a receiver off.
type Receivers struct {
	OTLP    OTLP     `yaml:"otlp"`
	Jaeger  Jaeger   `yaml:"jaeger"`
	Zipkin  Zipkin   `yaml:"zipkin"`
	Datadog Listener `yaml:"datadog"`
	XRay    XRay     `yaml:"xray"`
}

// Listener is one enabled-or-not listen address.
type Listener struct {
	Enabled bool   `yaml:"enabled" help:"Run this receiver."`
	Addr    string `yaml:"addr" help:"Listen address."`
}

// OTLP configures the OpenTelemetry receivers.
type OTLP struct {
	GRPC Listener `yaml:"grpc"`
	HTTP OTLPHTTP `yaml:"http"`
}

// OTLPHTTP configures OTLP over HTTP.
type OTLPHTTP struct {
	Enabled            bool     `yaml:"enabled" help:"Run this receiver."`
	Addr               string   `yaml:"addr" help:"Listen address."`
	CORSAllowedOrigins []string `yaml:"cors_allowed_origins" help:"Origins browser SDKs may send from (comma-separated; * for any)."`
}

// Jaeger configures the legacy Jaeger agent and collector receivers.
type Jaeger struct {
	AgentCompact  Listener            `yaml:"agent_compact"`
	AgentBinary   Listener            `yaml:"agent_binary"`
	CollectorHTTP Listener            `yaml:"collector_http"`
	CollectorGRPC Listener            `yaml:"collector_grpc"`
	Agent         JaegerAgent         `yaml:"agent"`
	AgentSampling JaegerAgentSampling `yaml:"agent_sampling"`
}

// JaegerAgentSampling is jaeger-agent's HTTP sampling port, which Jaeger
// clients poll by default; the strategies come from Sampling.
type JaegerAgentSampling struct {
	Enabled bool   `yaml:"enabled" help:"Serve jaeger-agent's HTTP sampling endpoints (GET /sampling, legacy GET /) that Jaeger clients poll."`
	Addr    string `yaml:"addr" help:"Listen address of the Jaeger agent sampling endpoints (jaeger-agent's port is 5778)."`
}

// JaegerAgent tunes both Jaeger agent UDP ports (each port has its own
// queue, workers and socket).
type JaegerAgent struct {
	QueueSize    int   `yaml:"queue_size" help:"Datagrams each Jaeger agent port holds for its workers; a datagram arriving at a full queue is dropped and counted."`
	QueueBytes   Bytes `yaml:"queue_bytes" help:"Most bytes of datagrams each Jaeger agent port holds for its workers; beyond, datagrams are dropped and counted like a full queue."`
	Workers      int   `yaml:"workers" help:"Goroutines decoding datagrams per Jaeger agent port."`
	SocketBuffer Bytes `yaml:"socket_buffer" help:"UDP receive buffer (SO_RCVBUF) asked for per Jaeger agent port, for bursts; the kernel may cap it (net.core.rmem_max)."`
}

// Zipkin configures the Zipkin receiver (POST /api/v2/spans, /api/v1/spans).
type Zipkin struct {
	Enabled            bool     `yaml:"enabled" help:"Run this receiver."`
	Addr               string   `yaml:"addr" help:"Listen address."`
	ParseStringTags    bool     `yaml:"parse_string_tags" help:"Store Zipkin string tags that look like numbers or booleans as typed attributes (the Collector's parse_string_tags)."`
	CORSAllowedOrigins []string `yaml:"cors_allowed_origins" help:"Origins browser tracers (zipkin-js) may post spans from (comma-separated; * for any, as the Zipkin server allows)."`
}

// XRay configures the AWS X-Ray daemon receiver (UDP segments, TCP sampling).
type XRay struct {
	Enabled        bool               `yaml:"enabled" help:"Run this receiver."`
	UDPAddr        string             `yaml:"udp_addr" help:"UDP listen address for segments (\"\" for none)."`
	TCPAddr        string             `yaml:"tcp_addr" help:"TCP listen address for the sampling endpoints (\"\" for none)."`
	QueueSize      int                `yaml:"queue_size" help:"Datagrams the X-Ray port holds for its workers; a datagram arriving at a full queue is dropped and counted."`
	QueueBytes     Bytes              `yaml:"queue_bytes" help:"Most bytes the datagrams waiting in the X-Ray queue may hold together; beyond it datagrams are dropped and counted."`
	Workers        int                `yaml:"workers" help:"Goroutines decoding X-Ray datagrams."`
	SocketBuffer   Bytes              `yaml:"socket_buffer" help:"UDP receive buffer (SO_RCVBUF) asked for the X-Ray port, for bursts; the kernel may cap it (net.core.rmem_max)."`
	PendingTimeout time.Duration      `yaml:"pending_timeout" help:"How long an in-progress segment waits for its completed version, and an independent subsegment for the segment naming its service, before being stored as it is."`
	MaxPending     int                `yaml:"max_pending" help:"Most X-Ray documents waiting as pending_timeout describes; when full, the oldest is stored at once."`
	SamplingRules  []XRaySamplingRule `yaml:"sampling_rules"`
}

// XRaySamplingRule is one sampling rule served to X-Ray SDKs by
// POST /GetSamplingRules (YAML only: a list under xray.sampling_rules).
// A rule named "Default" replaces the built-in default rule (priority
// 10000, 1 trace per second plus 5%).
type XRaySamplingRule struct {
	Name          string  `yaml:"name"`
	Priority      int     `yaml:"priority"`
	ReservoirSize int     `yaml:"reservoir_size"`
	FixedRate     float64 `yaml:"fixed_rate"`
	ServiceName   string  `yaml:"service_name"`
	ServiceType   string  `yaml:"service_type"`
	Host          string  `yaml:"host"`
	HTTPMethod    string  `yaml:"http_method"`
	URLPath       string  `yaml:"url_path"`
}

// Tempo configures Grafana Tempo's HTTP API on its own port (it is also
// served under /tempo on the query port).
type Tempo struct {
	Enabled bool   `yaml:"enabled" help:"Serve Grafana Tempo's HTTP API (TraceQL search, metrics, tags) on its own port."`
	Addr    string `yaml:"addr" help:"Listen address of the Tempo API (Tempo's default port is 3200)."`
}

// Sampling configures the sampling strategies served to Jaeger clients
// (remote sampling: receivers.jaeger.agent_sampling, GET /api/sampling on
// the collector HTTP and query ports, and SamplingManager on the collector
// gRPC port). docs/sampling.md describes them.
type Sampling struct {
	StrategiesFile string           `yaml:"strategies_file" help:"A Jaeger sampling strategies JSON file ({\"default_strategy\": ..., \"service_strategies\": [...]}); its default_strategy replaces sampling.default, and sampling.service_strategies must then be empty."`
	Default        SamplingStrategy `yaml:"default"`
	// ServiceStrategies are per-service strategies (YAML only).
	ServiceStrategies []ServiceSamplingStrategy `yaml:"service_strategies"`
}

// SamplingStrategy is one sampling strategy: probabilistic (param is the
// probability, 0 to 1) or ratelimiting (param is the most traces per
// second, a whole number).
type SamplingStrategy struct {
	Type                             string  `yaml:"type" help:"Strategy of services without their own: probabilistic or ratelimiting."`
	Param                            float64 `yaml:"param" help:"The probability (0 to 1) for probabilistic, the most traces per second (0 to 32767) for ratelimiting."`
	DefaultLowerBoundTracesPerSecond float64 `yaml:"default_lower_bound_traces_per_second" help:"With a probabilistic strategy: the traces per second each operation is sampled at least (0: none); clients then use per-operation sampling."`
	// OperationStrategies are per-operation probabilistic strategies (YAML
	// only).
	OperationStrategies []OperationSamplingStrategy `yaml:"operation_strategies"`
}

// ServiceSamplingStrategy is the sampling strategy of one service (YAML
// only: a list under sampling.service_strategies).
type ServiceSamplingStrategy struct {
	Service                          string                      `yaml:"service"`
	Type                             string                      `yaml:"type"`
	Param                            float64                     `yaml:"param"`
	DefaultLowerBoundTracesPerSecond float64                     `yaml:"default_lower_bound_traces_per_second"`
	OperationStrategies              []OperationSamplingStrategy `yaml:"operation_strategies"`
}

// OperationSamplingStrategy is the probabilistic strategy of one operation
// (span name); type must be probabilistic.
type OperationSamplingStrategy struct {
	Operation string  `yaml:"operation"`
	Type      string  `yaml:"type"`
	Param     float64 `yaml:"param"`
}

// Shutdown configures graceful shutdown.
type Shutdown struct {
	Timeout time.Duration `yaml:"timeout" help:"How long to wait for in-flight requests to drain on SIGINT/SIGTERM."`
}

// Default returns the zero-configuration defaults: every receiver on its
// standard port on localhost, durable storage in ./clew-data.
func Default() Config {
	on := func(addr string) Listener { return Listener{Enabled: true, Addr: addr} }
	return Config{
		Log:     Log{Level: "info", Format: "text"},
		DataDir: "./clew-data",
		Storage: "local",
		Memory:  Memory{MaxSpans: 1_000_000, MaxBytes: 512 << 20},
		Local: Local{
			Fsync: "batch", FsyncInterval: 5 * time.Millisecond,
			FlushBytes: 48 << 20, FlushSpans: 250_000, FlushInterval: time.Minute, MaxHeadBytes: 96 << 20,
			Retention: 72 * time.Hour, CompactionInterval: time.Minute, CompactionMaxSpans: 2_000_000,
			DictionaryCache: 32 << 20, SearchCache: 32 << 20, PageCache: 8 << 20,
		},
		Limits: Limits{
			MaxRequestBytes:        16 << 20,
			MaxNameBytes:           1024,
			MaxAttributeValueBytes: 64 << 10,
			MaxAttributes:          1024,
			MaxFutureSkew:          24 * time.Hour,
			MaxInFlight:            64,
			MaxQueued:              1024,
			QueueTimeout:           5 * time.Second,
		},
		Query: Query{Addr: "127.0.0.1:16686", Timeout: 30 * time.Second, MaxLimit: 1500, DefaultLookback: time.Hour},
		Receivers: Receivers{
			OTLP: OTLP{
				GRPC: on("127.0.0.1:4317"),
				HTTP: OTLPHTTP{Enabled: true, Addr: "127.0.0.1:4318", CORSAllowedOrigins: []string{"*"}},
			},
			Jaeger: Jaeger{
				AgentCompact:  on("127.0.0.1:6831"),
				AgentBinary:   on("127.0.0.1:6832"),
				CollectorHTTP: on("127.0.0.1:14268"),
				CollectorGRPC: on("127.0.0.1:14250"),
				Agent:         JaegerAgent{QueueSize: 1000, QueueBytes: 16 << 20, Workers: 4, SocketBuffer: 4 << 20},
				AgentSampling: JaegerAgentSampling{Enabled: true, Addr: "127.0.0.1:5778"},
			},
			Zipkin:  Zipkin{Enabled: true, Addr: "127.0.0.1:9411", CORSAllowedOrigins: []string{"*"}},
			Datadog: on("127.0.0.1:8126"),
			XRay: XRay{Enabled: true, UDPAddr: "127.0.0.1:2000", TCPAddr: "127.0.0.1:2000",
				QueueSize: 10000, QueueBytes: 16 << 20, Workers: 4, SocketBuffer: 4 << 20, PendingTimeout: 5 * time.Minute, MaxPending: 10000},
		},
		Shutdown: Shutdown{Timeout: 15 * time.Second},
		Tempo:    Tempo{Enabled: true, Addr: "127.0.0.1:3200"},
		// An all-in-one server keeps every trace unless told otherwise.
		Sampling: Sampling{Default: SamplingStrategy{Type: "probabilistic", Param: 1}},
	}
}

// Validate reports every setting that cannot work, joined.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format %q: want text or json", c.Log.Format)
	}
	switch c.Storage {
	case "memory":
	case "local":
		if c.DataDir == "" {
			bad("data_dir must be set for storage local")
		}
	default:
		bad("storage %q: want memory or local", c.Storage)
	}
	if c.Memory.MaxSpans <= 0 {
		bad("memory.max_spans must be positive")
	}
	if c.Storage == "local" {
		switch c.Local.Fsync {
		case "batch":
		case "interval":
			if c.Local.FsyncInterval <= 0 {
				bad("local.fsync_interval must be positive with fsync interval")
			}
		default:
			bad("local.fsync %q: want batch or interval", c.Local.Fsync)
		}
		if c.Local.FlushBytes <= 0 || c.Local.FlushSpans <= 0 || c.Local.FlushInterval <= 0 {
			bad("local.flush_bytes, local.flush_spans and local.flush_interval must be positive")
		}
		if c.Local.MaxHeadBytes < c.Local.FlushBytes {
			bad("local.max_head_bytes must be at least local.flush_bytes")
		}
		if c.Local.Retention < 0 || c.Local.DiskBudget < 0 || c.Local.CompactionInterval < 0 || c.Local.CompactionMaxSpans <= 0 {
			bad("local.retention, local.disk_budget and local.compaction_interval must not be negative, local.compaction_max_spans must be positive")
		}
		if c.Local.DictionaryCache < 0 || c.Local.SearchCache < 0 || c.Local.PageCache < 0 {
			bad("local.dictionary_cache_bytes, local.search_cache_bytes and local.page_cache_bytes must not be negative")
		}
	}
	if c.Memory.MaxBytes <= 0 {
		bad("memory.max_bytes must be positive")
	}
	if c.Limits.MaxRequestBytes <= 0 {
		bad("limits.max_request_bytes must be positive")
	}
	if c.Query.Addr == "" {
		bad("query.addr must be set")
	}
	if c.Tempo.Enabled && c.Tempo.Addr == "" {
		bad("tempo.addr must be set when tempo.enabled")
	}
	if c.Query.MaxLimit <= 0 {
		bad("query.max_limit must be positive")
	}
	seenRule := map[string]bool{}
	for i, r := range c.Receivers.XRay.SamplingRules {
		switch {
		case r.Name == "" || len(r.Name) > 32:
			bad("receivers.xray.sampling_rules[%d]: name must be 1 to 32 characters", i)
		case seenRule[r.Name]:
			bad("receivers.xray.sampling_rules[%d]: duplicate name %q", i, r.Name)
		}
		seenRule[r.Name] = true
		if r.FixedRate < 0 || r.FixedRate > 1 {
			bad("receivers.xray.sampling_rules[%d] (%s): fixed_rate %v: want 0 to 1", i, r.Name, r.FixedRate)
		}
		if r.ReservoirSize < 0 {
			bad("receivers.xray.sampling_rules[%d] (%s): reservoir_size must not be negative", i, r.Name)
		}
		if r.Name != "Default" && (r.Priority < 1 || r.Priority > 9999) {
			bad("receivers.xray.sampling_rules[%d] (%s): priority %d: want 1 to 9999", i, r.Name, r.Priority)
		}
	}
	if c.Receivers.Jaeger.AgentSampling.Enabled && c.Receivers.Jaeger.AgentSampling.Addr == "" {
		bad("receivers.jaeger.agent_sampling.addr must be set when receivers.jaeger.agent_sampling.enabled")
	}
	if c.Sampling.StrategiesFile != "" && len(c.Sampling.ServiceStrategies) > 0 {
		bad("sampling.strategies_file and sampling.service_strategies are both set: keep the strategies in one place")
	}
	errs = append(errs, c.Sampling.CheckStrategies("sampling.default", "sampling.service_strategies")...)
	return errors.Join(errs...)
}

// Limits of sampling strategies, which clients fetch whole.
const (
	MaxSamplingNameBytes       = 1024   // service and operation names
	MaxSamplingServices        = 10_000 // service strategies
	MaxSamplingOperations      = 10_000 // operation strategies of one strategy
	MaxSamplingTracesPerSecond = 32767  // ratelimiting param: the thrift field clients parse is 16-bit
)

// CheckStrategies reports every sampling strategy that cannot work; the
// default is named defName and the service list svcName in the messages
// ("sampling.default" and "sampling.service_strategies" for YAML,
// "default_strategy" and "service_strategies" for a strategies file).
func (s *Sampling) CheckStrategies(defName, svcName string) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	strategy := func(name, typ string, param, lower float64, ops []OperationSamplingStrategy) {
		switch typ {
		case "probabilistic":
			if !(param >= 0 && param <= 1) {
				bad("%s: probabilistic param %v: want a probability from 0 to 1", name, param)
			}
		case "ratelimiting":
			if !(param >= 0 && param <= MaxSamplingTracesPerSecond) || param != float64(int(param)) {
				bad("%s: ratelimiting param %v: want a whole number of traces per second from 0 to %d", name, param, MaxSamplingTracesPerSecond)
			}
			if lower != 0 {
				bad("%s: default_lower_bound_traces_per_second needs a probabilistic strategy", name)
			}
		case "":
			bad("%s: type must be set: probabilistic or ratelimiting", name)
		default:
			bad("%s: type %q: want probabilistic or ratelimiting", name, typ)
		}
		if !(lower >= 0 && lower <= MaxSamplingTracesPerSecond) {
			bad("%s: default_lower_bound_traces_per_second %v: want 0 to %d", name, lower, MaxSamplingTracesPerSecond)
		}
		if len(ops) > MaxSamplingOperations {
			bad("%s: %d operation_strategies: at most %d", name, len(ops), MaxSamplingOperations)
			return
		}
		seen := make(map[string]bool, len(ops))
		for i, op := range ops {
			at := fmt.Sprintf("%s.operation_strategies[%d]", name, i)
			switch {
			case op.Operation == "":
				bad("%s: operation must be set", at)
			case len(op.Operation) > MaxSamplingNameBytes:
				bad("%s: operation is longer than %d bytes", at, MaxSamplingNameBytes)
			case seen[op.Operation]:
				bad("%s: operation %q is listed twice", at, op.Operation)
			}
			seen[op.Operation] = true
			if op.Type != "probabilistic" {
				bad("%s (%s): type %q: operation strategies must be probabilistic", at, op.Operation, op.Type)
			} else if !(op.Param >= 0 && op.Param <= 1) {
				bad("%s (%s): probabilistic param %v: want a probability from 0 to 1", at, op.Operation, op.Param)
			}
		}
	}
	d := s.Default
	strategy(defName, d.Type, d.Param, d.DefaultLowerBoundTracesPerSecond, d.OperationStrategies)
	if len(s.ServiceStrategies) > MaxSamplingServices {
		bad("%s: %d services: at most %d", svcName, len(s.ServiceStrategies), MaxSamplingServices)
		return errs
	}
	seen := make(map[string]bool, len(s.ServiceStrategies))
	for i, ss := range s.ServiceStrategies {
		at := fmt.Sprintf("%s[%d]", svcName, i)
		switch {
		case ss.Service == "":
			bad("%s: service must be set", at)
		case len(ss.Service) > MaxSamplingNameBytes:
			bad("%s: service is longer than %d bytes", at, MaxSamplingNameBytes)
		case seen[ss.Service]:
			bad("%s: service %q is listed twice", at, ss.Service)
		default:
			at = fmt.Sprintf("%s (%s)", at, ss.Service)
		}
		seen[ss.Service] = true
		strategy(at, ss.Type, ss.Param, ss.DefaultLowerBoundTracesPerSecond, ss.OperationStrategies)
	}
	return errs
}
