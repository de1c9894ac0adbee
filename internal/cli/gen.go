package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/clew-dev/clew/internal/config"
	"github.com/clew-dev/clew/internal/gen"
)

func init() {
	register(Command{Name: "gen", Summary: "generate synthetic traces and send them to a receiver (load generator)", Run: runGen})
}

func runGen(args []string, env Env) int {
	def := gen.DefaultOptions()
	fs := flag.NewFlagSet("clew gen", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var (
		protocol    = fs.String("protocol", "otlp-grpc", "Wire protocol (see --list-protocols).")
		endpoint    = fs.String("endpoint", "", "Where to send: host:port for gRPC and UDP protocols, a URL for HTTP ones (default: the protocol's standard local endpoint).")
		list        = fs.Bool("list-protocols", false, "List the protocols with their default endpoints and exit.")
		services    = fs.Int("services", def.Services, "Distinct services.")
		operations  = fs.Int("operations", def.Operations, "Distinct operations per service.")
		spans       = fs.Int("spans-per-trace", def.SpansPerTrace, "Spans in each trace.")
		depth       = fs.Int("depth", def.Depth, "Deepest level of a trace's span tree below the root; a call to another service takes two (client and server span).")
		attributes  = fs.Int("attributes", def.Attributes, "Extra attributes per span (beside the semantic-convention ones).")
		events      = fs.Int("events", def.Events, "Span events per span.")
		errorRatio  = fs.Float64("error-ratio", def.ErrorRatio, "Probability that a span fails (error status and an exception event).")
		cardinality = fs.Int("cardinality", def.Cardinality, "Distinct values of each extra attribute.")
		seed        = fs.Uint64("seed", def.Seed, "Random seed; the same seed gives the same traces (ids included).")
		traces      = fs.Int("traces", 0, "Traces to send in all; 0 sends until --duration or Ctrl-C.")
		duration    = fs.Duration("duration", 0, "Stop after this long; 0 means no time limit.")
		rate        = fs.Float64("rate", 0, "Target spans per second; 0 sends as fast as the receiver answers.")
		workers     = fs.Int("workers", 4, "Concurrent requests.")
		batch       = fs.Int("batch", 10, "Traces per request.")
		timeout     = fs.Duration("timeout", 10*time.Second, "Deadline of one request.")
		gzipBodies  = fs.Bool("gzip", false, "Gzip-compress request bodies (when they are encoded) and send Content-Encoding: gzip; HTTP protocols only.")
		retries     = fs.Int("retries", 3, "Retries of a throttled request (HTTP 429/503, gRPC RESOURCE_EXHAUSTED or UNAVAILABLE with RetryInfo).")
		maxPre      = fs.String("max-preencoded", "1GiB", "With --traces, encode every request before the clock starts when they fit in this size; otherwise encode ahead while sending.")
		ahead       = fs.Int("ahead", 256, "Requests encoded ahead of the senders when streaming.")
		interval    = fs.Duration("interval", time.Second, "Print live figures this often (to stderr); 0 turns them off.")
		idsPath     = fs.String("trace-ids", "", "Write the id of every accepted trace to this file, one per line (32 hex digits).")
		summaryJSON = fs.String("summary-json", "", "Write the summary as JSON to this file (- for stdout, which then gets no text summary).")
		failOnError = fs.Bool("fail-on-error", false, "Exit with status 1 when any span failed or was rejected.")
	)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "Usage: clew gen [flags]\n\nGenerates realistic traces and sends them to a receiver, printing throughput as it runs and a summary at the end.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "clew gen: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *list {
		for _, p := range gen.Protocols() {
			fmt.Fprintf(env.Stdout, "%-16s %-36s %s\n", p.Name, p.DefaultEndpoint, p.Summary)
		}
		return 0
	}
	proto, err := gen.Lookup(*protocol)
	if err != nil {
		fmt.Fprintf(env.Stderr, "clew gen: %v\n", err)
		return 2
	}
	maxPreBytes, err := config.ParseBytes(*maxPre)
	if err != nil {
		fmt.Fprintf(env.Stderr, "clew gen: --max-preencoded: %v\n", err)
		return 2
	}
	opts := gen.RunOptions{
		Protocol: proto,
		Endpoint: *endpoint,
		Trace: gen.Options{
			Services: *services, Operations: *operations, SpansPerTrace: *spans, Depth: *depth,
			Attributes: *attributes, Events: *events, ErrorRatio: *errorRatio, Cardinality: *cardinality, Seed: *seed,
		},
		TracesPerBatch:     *batch,
		Traces:             *traces,
		Duration:           *duration,
		Rate:               *rate,
		Workers:            *workers,
		Timeout:            *timeout,
		Retries:            *retries,
		Gzip:               *gzipBodies,
		MaxPreencodedBytes: int64(maxPreBytes),
		Ahead:              *ahead,
		ProgressInterval:   *interval,
	}
	if *interval > 0 {
		opts.Progress = env.Stderr
	}
	var idsFile *os.File
	if *idsPath != "" {
		idsFile, err = os.Create(*idsPath)
		if err != nil {
			fmt.Fprintf(env.Stderr, "clew gen: %v\n", err)
			return 1
		}
		defer idsFile.Close()
		opts.TraceIDs = idsFile
	}

	if proto.UDP && *rate == 0 {
		fmt.Fprintf(env.Stderr, "clew gen: note: %s is UDP, without back-pressure: datagrams sent faster than the receiver reads them are lost unseen; pace them with --rate.\n", proto.Name)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := gen.Run(ctx, opts)
	if err != nil {
		fmt.Fprintf(env.Stderr, "clew gen: %v\n", err)
		return 1
	}
	if idsFile != nil {
		if err := idsFile.Close(); err != nil {
			fmt.Fprintf(env.Stderr, "clew gen: write trace ids: %v\n", err)
			return 1
		}
	}
	if *summaryJSON != "-" {
		sum.WriteText(env.Stdout)
	}
	if *summaryJSON != "" {
		if err := writeSummaryJSON(*summaryJSON, sum, env.Stdout); err != nil {
			fmt.Fprintf(env.Stderr, "clew gen: %v\n", err)
			return 1
		}
	}
	if sum.Requests > 0 && sum.Spans == 0 {
		return 1
	}
	if *failOnError && (sum.SpansFailed > 0 || sum.SpansRejected > 0) {
		return 1
	}
	return 0
}

func writeSummaryJSON(path string, sum *gen.Summary, stdout io.Writer) error {
	data, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if path == "-" {
		_, err = stdout.Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}
