package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"

	"github.com/clew-dev/clew/internal/api/jaeger"
	"github.com/clew-dev/clew/internal/api/jaegerv3"
	"github.com/clew-dev/clew/internal/api/native"
	"github.com/clew-dev/clew/internal/api/sampling"
	"github.com/clew-dev/clew/internal/api/tempo"
	"github.com/clew-dev/clew/internal/config"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/query/engine"
	"github.com/clew-dev/clew/internal/receiver/datadog"
	jaegerreceiver "github.com/clew-dev/clew/internal/receiver/jaeger"
	"github.com/clew-dev/clew/internal/receiver/otlp"
	"github.com/clew-dev/clew/internal/receiver/xray"
	"github.com/clew-dev/clew/internal/receiver/zipkin"
	"github.com/clew-dev/clew/internal/server"
	"github.com/clew-dev/clew/internal/store"
	"github.com/clew-dev/clew/internal/store/block"
	"github.com/clew-dev/clew/internal/store/local"
	"github.com/clew-dev/clew/internal/store/memstore"
	"github.com/clew-dev/clew/internal/ui"
)

func init() {
	register(Command{Name: "serve", Summary: "run the all-in-one server (the default)", Run: runServe})
	register(Command{Name: "version", Summary: "print the version", Run: func(args []string, env Env) int {
		fmt.Fprintln(env.Stdout, "clew", Version)
		return 0
	}})
}

// Version is set at build time with -ldflags "-X .../cli.Version=...".
var Version = "dev"

func runServe(args []string, env Env) int {
	cfg, rest, err := config.Load("clew", args, env.Getenv, env.Stdout)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "clew: %v\n", err)
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(env.Stderr, "clew: unexpected arguments %q\n", rest)
		return 2
	}
	log := newLogger(cfg.Log, env.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Serve(ctx, cfg, log, nil); err != nil {
		log.Error("clew stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Deps is what component builders get: the configuration and the shared
// parts of the running server.
type Deps struct {
	Config   config.Config
	Log      *slog.Logger
	Registry *prometheus.Registry
	Store    store.Store
	Pipeline *pipeline.Pipeline
	HTTP     *server.HTTPMetrics
	GRPC     *server.GRPCMetrics
	// QueryMux is the handler tree of the query port; APIs add their routes.
	QueryMux *http.ServeMux
}

// Serve runs the all-in-one server until ctx ends, then shuts down
// gracefully: listeners stop taking new work, accepted requests finish
// (and so are in the store), then the store closes. started, when not nil,
// is called with the components once they all listen.
func Serve(ctx context.Context, cfg config.Config, log *slog.Logger, started func([]server.Component)) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if lim := cfg.MemoryLimit(); lim > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(lim)
		log.Info("memory limit set", "bytes", lim)
	}

	st, err := openStore(cfg, log, reg)
	if err != nil {
		return err
	}
	d := &Deps{
		Config:   cfg,
		Log:      log,
		Registry: reg,
		Store:    st,
		HTTP:     server.NewHTTPMetrics(reg),
		GRPC:     server.NewGRPCMetrics(reg),
		QueryMux: http.NewServeMux(),
	}
	d.Pipeline = pipeline.New(st, pipeline.Options{
		Limits: pipeline.Limits{
			MaxNameBytes:           cfg.Limits.MaxNameBytes,
			MaxAttributeValueBytes: cfg.Limits.MaxAttributeValueBytes,
			MaxAttributes:          cfg.Limits.MaxAttributes,
			MaxEvents:              cfg.Limits.MaxAttributes,
			MaxLinks:               cfg.Limits.MaxAttributes,
			MaxFutureSkew:          cfg.Limits.MaxFutureSkew,
		},
		MaxInFlight:  cfg.Limits.MaxInFlight,
		MaxQueued:    cfg.Limits.MaxQueued,
		QueueTimeout: cfg.Limits.QueueTimeout,
		Registerer:   reg,
		Logger:       log,
	})

	comps, err := buildComponents(d)
	if err != nil {
		return errors.Join(err, st.Close())
	}
	health := &server.Health{}
	health.Register(d.QueryMux)
	d.QueryMux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	if cfg.Query.Pprof {
		d.QueryMux.HandleFunc("GET /debug/pprof/", pprof.Index)
		d.QueryMux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		d.QueryMux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		d.QueryMux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	}
	query := server.NewHTTPServer("query", cfg.Query.Addr, d.HTTP.Wrap("query", log, d.QueryMux), log)
	// The query port starts first so /healthz answers while receivers bind,
	// and stops last.
	comps = append([]server.Component{query}, comps...)

	group := server.NewGroup(log)
	if err := group.Start(ctx, comps...); err != nil {
		return errors.Join(err, st.Close())
	}
	health.SetReady(true)
	log.Info("clew is ready", "ui", "http://"+query.Addr()+"/", "storage", cfg.Storage)
	if started != nil {
		started(comps)
	}
	<-ctx.Done()
	log.Info("shutting down", "timeout", cfg.Shutdown.Timeout)
	health.SetReady(false)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Shutdown.Timeout)
	defer cancel()
	err = group.Shutdown(sctx)
	if cerr := st.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
	}
	log.Info("stopped")
	return err
}

func openStore(cfg config.Config, log *slog.Logger, reg prometheus.Registerer) (store.Store, error) {
	switch cfg.Storage {
	case "memory":
		return memstore.New(memstore.Options{
			MaxSpans:   cfg.Memory.MaxSpans,
			MaxBytes:   int64(cfg.Memory.MaxBytes),
			Registerer: reg,
		}), nil
	case "local":
		o := local.Options{
			Dir:                filepath.Join(cfg.DataDir),
			FlushBytes:         int64(cfg.Local.FlushBytes),
			FlushSpans:         cfg.Local.FlushSpans,
			FlushInterval:      cfg.Local.FlushInterval,
			MaxHeadBytes:       int64(cfg.Local.MaxHeadBytes),
			Retention:          cfg.Local.Retention,
			DiskBudget:         int64(cfg.Local.DiskBudget),
			CompactionInterval: cfg.Local.CompactionInterval,
			CompactionMaxSpans: int64(cfg.Local.CompactionMaxSpans),
			Logger:             log.With("component", "store"),
			Registerer:         reg,
		}
		if cfg.Local.Fsync == "interval" {
			o.SyncInterval = cfg.Local.FsyncInterval
		}
		if o.Retention == 0 {
			o.Retention = -1 // keep forever
		}
		if o.CompactionInterval == 0 {
			o.CompactionInterval = -1
		}
		// The read caches serve every block of the process.
		block.SetDictionaryCacheBytes(int64(cfg.Local.DictionaryCache))
		block.SetPageCacheBytes(int64(cfg.Local.PageCache))
		local.SetSearchCacheBytes(int64(cfg.Local.SearchCache))
		return local.Open(o)
	}
	return nil, fmt.Errorf("storage %q is not available", cfg.Storage)
}

// buildComponents builds every enabled receiver and mounts every API on the
// query mux. Each receiver and API adds its line here.
func buildComponents(d *Deps) ([]server.Component, error) {
	cfg, log := d.Config, d.Log
	var comps []server.Component
	maxBytes := int64(cfg.Limits.MaxRequestBytes)

	// Jaeger remote sampling: the strategies served on the agent sampling
	// port, the collector HTTP and gRPC ports and the query port.
	strategies, err := sampling.FromConfig(cfg.Sampling)
	if err != nil {
		return nil, err
	}
	strategies.Register(d.QueryMux)
	if r := cfg.Receivers.Jaeger.AgentSampling; r.Enabled {
		comps = append(comps, server.NewHTTPServer(sampling.Name, r.Addr, d.HTTP.Wrap(sampling.Name, log, strategies.AgentHandler()), log))
	}

	// Receivers.
	if r := cfg.Receivers.OTLP.GRPC; r.Enabled {
		comps = append(comps, otlp.NewGRPC(r.Addr, int(maxBytes), d.Pipeline, log, grpc.ChainUnaryInterceptor(d.GRPC.Interceptor(otlp.NameGRPC))))
	}
	if r := cfg.Receivers.OTLP.HTTP; r.Enabled {
		mux := http.NewServeMux()
		otlp.NewHTTPHandler(d.Pipeline, maxBytes, r.CORSAllowedOrigins, log).Register(mux)
		comps = append(comps, server.NewHTTPServer(otlp.NameHTTP, r.Addr, d.HTTP.Wrap(otlp.NameHTTP, log, mux), log))
	}
	{
		r := cfg.Receivers.Jaeger
		agent := func(l config.Listener, enc jaegerreceiver.Encoding) *jaegerreceiver.Agent {
			return jaegerreceiver.NewAgent(jaegerreceiver.AgentOptions{
				Addr: l.Addr, Encoding: enc,
				QueueSize: r.Agent.QueueSize, QueueBytes: int(r.Agent.QueueBytes), Workers: r.Agent.Workers, SocketBuffer: int(r.Agent.SocketBuffer),
				Consumer: d.Pipeline, Logger: log, Registerer: d.Registry,
			})
		}
		if r.AgentCompact.Enabled {
			comps = append(comps, agent(r.AgentCompact, jaegerreceiver.Compact))
		}
		if r.AgentBinary.Enabled {
			comps = append(comps, agent(r.AgentBinary, jaegerreceiver.Binary))
		}
		if r.CollectorHTTP.Enabled {
			h := jaegerreceiver.NewHTTPHandler(jaegerreceiver.HTTPOptions{Consumer: d.Pipeline, MaxRequestBytes: maxBytes, Logger: log,
				Sampling: strategies.Handler(false)})
			comps = append(comps, server.NewHTTPServer(jaegerreceiver.NameCollectorHTTP, r.CollectorHTTP.Addr,
				d.HTTP.Wrap(jaegerreceiver.NameCollectorHTTP, log, h), log))
		}
		if r.CollectorGRPC.Enabled {
			comps = append(comps, jaegerreceiver.NewGRPC(jaegerreceiver.GRPCOptions{
				Addr: r.CollectorGRPC.Addr, Consumer: d.Pipeline, MaxRequestBytes: int(maxBytes), Logger: log,
				ServerOptions: []grpc.ServerOption{grpc.ChainUnaryInterceptor(d.GRPC.Interceptor(jaegerreceiver.NameCollectorGRPC))},
				Services:      []func(grpc.ServiceRegistrar){strategies.RegisterGRPC},
			}))
		}
	}
	if r := cfg.Receivers.Zipkin; r.Enabled {
		h := zipkin.NewHandler(zipkin.Options{Consumer: d.Pipeline, MaxRequestBytes: maxBytes, ParseStringTags: r.ParseStringTags,
			CORSAllowedOrigins: r.CORSAllowedOrigins, Logger: log})
		comps = append(comps, server.NewHTTPServer(zipkin.Name, r.Addr, d.HTTP.Wrap(zipkin.Name, log, h), log))
	}

	if r := cfg.Receivers.Datadog; r.Enabled {
		comps = append(comps, datadog.New(d.Pipeline, datadog.Options{
			Addr: r.Addr, MaxRequestBytes: maxBytes, Version: Version, Metrics: d.HTTP, Logger: log,
		}))
	}
	if r := cfg.Receivers.XRay; r.Enabled && (r.UDPAddr != "" || r.TCPAddr != "") {
		rules := make([]xray.Rule, 0, len(r.SamplingRules))
		for _, sr := range r.SamplingRules {
			rules = append(rules, xray.Rule(sr))
		}
		comps = append(comps, xray.New(xray.Options{
			UDPAddr: r.UDPAddr, TCPAddr: r.TCPAddr,
			QueueSize: r.QueueSize, QueueBytes: int(r.QueueBytes), Workers: r.Workers, SocketBuffer: int(r.SocketBuffer),
			PendingTimeout: r.PendingTimeout, MaxPending: r.MaxPending, Rules: rules,
			Consumer: d.Pipeline, Metrics: d.HTTP, Registerer: d.Registry, Logger: log,
		}))
	}

	// Query APIs on the query port. Their trace searches run on the query
	// engine (parallel scans with pushed-down hints, deadline and caps).
	queryEngine := engine.New(d.Store, engine.Options{Timeout: cfg.Query.Timeout, MaxLimit: cfg.Query.MaxLimit, Logger: log, Registerer: d.Registry})
	searchReader := engine.NewReader(d.Store, queryEngine)
	jaeger.New(searchReader, jaeger.Options{
		Timeout:         cfg.Query.Timeout,
		MaxLimit:        cfg.Query.MaxLimit,
		DefaultLookback: cfg.Query.DefaultLookback,
		Logger:          log,
	}).Register(d.QueryMux, "")
	jaegerv3.New(searchReader, cfg.Query.Timeout, cfg.Query.MaxLimit, log).Register(d.QueryMux)
	native.New(native.Options{
		Reader:          searchReader,
		Log:             log,
		Timeout:         cfg.Query.Timeout,
		MaxLimit:        cfg.Query.MaxLimit,
		DefaultLookback: cfg.Query.DefaultLookback,
	}).Register(d.QueryMux)
	// Tempo's API over the TraceQL engine: on its own port and under
	// /tempo on the query port (its /api/traces/{id} would collide with
	// Jaeger's).
	tempoAPI := tempo.New(d.Store, queryEngine, tempo.Options{Version: Version, Logger: log})
	tempoAPI.Register(d.QueryMux, "/tempo")
	if t := cfg.Tempo; t.Enabled {
		comps = append(comps, server.NewHTTPServer(tempo.Name, t.Addr, d.HTTP.Wrap(tempo.Name, log, tempoAPI.Handler()), log))
	}
	// The web UI answers every path no API claims (see internal/ui).
	webUI, err := ui.New()
	if err != nil {
		return nil, err
	}
	webUI.Register(d.QueryMux)
	return comps, nil
}
