package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/clew-dev/clew/internal/config"
	"github.com/clew-dev/clew/internal/demo"
	"github.com/clew-dev/clew/internal/receiver/otlp"
	"github.com/clew-dev/clew/internal/server"
)

func init() {
	register(Command{Name: "demo", Summary: "run the server with example services and traffic, and show where to look", Run: runDemo})
}

// demoFlushTimeout bounds the demo's final flush of spans.
const demoFlushTimeout = 5 * time.Second

// addrComponent is a component that can tell its bound address.
type addrComponent interface {
	server.Component
	Addr() string
}

func runDemo(args []string, env Env) int {
	def := demo.DefaultOptions()
	fs := flag.NewFlagSet("clew demo", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		rate        = fs.Float64("rate", def.Rate, "Requests per second the demo's traffic sends to its services (0: none).")
		duration    = fs.Duration("duration", 0, "Stop after this long; 0 runs until interrupted (Ctrl-C).")
		noServer    = fs.Bool("no-server", false, "Do not start a Clew server; export the demo's spans to --endpoint.")
		endpoint    = fs.String("endpoint", "", "Where the demo's services export: an OTLP/gRPC address (host:port) or an OTLP/HTTP URL (http://host:4318); default: the in-process server's OTLP/gRPC receiver, or 127.0.0.1:4317 with --no-server.")
		host        = fs.String("host", def.Host, "Address the demo's services listen on.")
		portBase    = fs.Int("port-base", def.PortBase, "Port of the matchmaker service; taster, auth, donut-cache and orders take the next four. 0 picks free ports.")
		maxInFlight = fs.Int("max-in-flight", def.MaxInFlight, "Most concurrent requests of the demo's traffic.")
	)
	demoArgs, serverArgs := splitArgs(fs, args)
	help := func(w io.Writer) {
		fmt.Fprintf(w, "Usage: clew demo [demo flags] [server flags]\n\nStarts the all-in-one server (memory storage unless --storage says otherwise), example\nmicroservices instrumented with OpenTelemetry, and traffic to them; prints where to look.\n\nDemo flags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		fmt.Fprintf(w, "\nServer flags: every setting of clew --help.\n")
	}
	if err := fs.Parse(demoArgs); err != nil {
		fmt.Fprintf(env.Stderr, "clew demo: %v\n\n", err)
		help(env.Stderr)
		return 2
	}
	if slices.Contains(serverArgs, "-h") || slices.Contains(serverArgs, "--help") || slices.Contains(serverArgs, "-help") {
		help(env.Stdout)
		return 0
	}
	// The demo keeps its data in memory unless told otherwise: by
	// --storage, CLEW_STORAGE, or a configuration file (which then decides).
	withFile := env.Getenv("CLEW_CONFIG") != ""
	for _, a := range serverArgs {
		withFile = withFile || a == "--config" || a == "-config" || strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config=")
	}
	getenv := func(k string) string {
		if v := env.Getenv(k); v != "" || k != "CLEW_STORAGE" || withFile {
			return v
		}
		return "memory"
	}
	cfg, rest, err := config.Load("clew demo", serverArgs, getenv, env.Stdout)
	if err != nil {
		fmt.Fprintf(env.Stderr, "clew demo: %v\n", err)
		return 2
	}
	if len(rest) > 0 {
		fmt.Fprintf(env.Stderr, "clew demo: unexpected arguments %q\n", rest)
		return 2
	}
	log := newLogger(cfg.Log, env.Stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}

	// The server runs on its own context: it stops only after the demo has
	// flushed its last spans into it.
	var (
		serverCancel context.CancelFunc
		serverDone   chan error
		queryAddr    string
	)
	opts := def
	opts.Rate, opts.Host, opts.PortBase, opts.MaxInFlight, opts.Log = *rate, *host, *portBase, *maxInFlight, log
	opts.Endpoint = *endpoint
	if !*noServer {
		var serverCtx context.Context
		serverCtx, serverCancel = context.WithCancel(context.Background())
		defer serverCancel()
		started := make(chan []server.Component, 1)
		serverDone = make(chan error, 1)
		go func() {
			serverDone <- Serve(serverCtx, cfg, log, func(c []server.Component) { started <- c })
		}()
		select {
		case comps := <-started:
			for _, c := range comps {
				a, ok := c.(addrComponent)
				if !ok {
					continue
				}
				switch c.Name() {
				case "query":
					queryAddr = a.Addr()
				case otlp.NameGRPC:
					if opts.Endpoint == "" {
						opts.Endpoint = a.Addr()
					}
				}
			}
		case err := <-serverDone:
			fmt.Fprintf(env.Stderr, "clew demo: %v\n", err)
			if errors.Is(err, syscall.EADDRINUSE) {
				fmt.Fprintf(env.Stderr, "Another Clew may be running: send the demo to it with clew demo --no-server, or move this one's listeners (clew demo --help).\n")
			}
			return 1
		case <-ctx.Done():
			serverCancel()
			<-serverDone
			return 0
		}
		if opts.Endpoint == "" {
			serverCancel()
			<-serverDone
			fmt.Fprintf(env.Stderr, "clew demo: the OTLP/gRPC receiver is disabled; enable it or give --endpoint\n")
			return 2
		}
	} else if opts.Endpoint == "" {
		opts.Endpoint = "127.0.0.1:4317"
	}

	code := 0
	d, err := demo.Start(ctx, opts)
	if err != nil {
		fmt.Fprintf(env.Stderr, "clew demo: %v\n", err)
		code = 1
	} else {
		printGuide(env.Stdout, d, opts, queryAddr, *duration)
		<-ctx.Done()
		// Flushing to a live endpoint takes milliseconds; an unreachable
		// one should not hold the exit for long.
		sctx, cancel := context.WithTimeout(context.Background(), min(cfg.Shutdown.Timeout, demoFlushTimeout))
		err := d.Stop(sctx)
		cancel()
		if err != nil {
			log.Error("demo stopped with errors", "err", err)
			code = 1
		}
		st := d.Stats()
		fmt.Fprintf(env.Stdout, "\nDemo traffic: %d requests (%s), %d failed, %d skipped while %d were in flight.\n",
			st.Sent, formatStatus(st.Status), st.Failed, st.Skipped, opts.MaxInFlight)
	}
	if serverCancel != nil {
		serverCancel()
		if err := <-serverDone; err != nil {
			log.Error("clew stopped", "err", err)
			code = 1
		}
	}
	return code
}

// splitArgs separates the flags fs defines from the rest (the server's
// settings), keeping each flag's value with it.
func splitArgs(fs *flag.FlagSet, args []string) (mine, rest []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" { // the end of flags: the rest is positional
			return mine, append(rest, args[i:]...)
		}
		name, hasValue := strings.TrimLeft(a, "-"), false
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		if k, _, ok := strings.Cut(name, "="); ok {
			name, hasValue = k, true
		}
		f := fs.Lookup(name)
		if f == nil {
			rest = append(rest, a)
			continue
		}
		mine = append(mine, a)
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if !hasValue && i+1 < len(args) {
			i++
			mine = append(mine, args[i])
		}
	}
	return mine, rest
}

func formatStatus(m map[int]int64) string {
	codes := make([]int, 0, len(m))
	for c := range m {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d× %d", m[c], c))
	}
	if len(parts) == 0 {
		return "no answers"
	}
	return strings.Join(parts, ", ")
}

func printGuide(w io.Writer, d *demo.Demo, o demo.Options, queryAddr string, duration time.Duration) {
	match := "http://" + d.Addr(demo.ServiceMatchmaker)
	fmt.Fprintf(w, "\nClew demo is running: six services instrumented with OpenTelemetry send their spans over OTLP to %s.\n\n", o.Endpoint)
	// link returns a search link of Clew's UI, or says what to search for
	// when there is no UI in this process.
	link := func(human, query string) string { return "search " + human }
	if queryAddr != "" {
		q := "http://" + queryAddr
		fmt.Fprintf(w, "  Clew UI            %s/\n", q)
		fmt.Fprintf(w, "  Jaeger API         %s/api/services\n", q)
		link = func(human, query string) string { return q + "/search?" + query }
	}
	fmt.Fprintf(w, "  matchmaker         %s  (try: curl -H 'Authorization: Bearer user-1001' '%s/pair/beer?name=ipa')\n", match, match)
	fmt.Fprintf(w, "  orders             http://%s/orders\n", d.Addr(demo.ServiceOrders))
	switch {
	case o.Rate <= 0:
		fmt.Fprintf(w, "\nNo traffic (--rate 0): send requests yourself.\n")
	case duration > 0:
		fmt.Fprintf(w, "\nTraffic: %g requests/s for %s.\n", o.Rate, duration)
	default:
		fmt.Fprintf(w, "\nTraffic: %g requests/s until you press Ctrl-C.\n", o.Rate)
	}
	fmt.Fprintf(w, `
Where to look (traces appear within a few seconds):

 1. A slow route: %s
    Open a trace of a few hundred milliseconds. The waterfall is a staircase: for each
    candidate donut the matchmaker reads its freshness from donut-cache, then calls the
    taster, one candidate after the other (an N+1 pattern). The taster calls never
    overlap; made concurrently, the route would take as long as the slowest one.

 2. A failing dependency: %s
    Token validations rejected with HTTP 401. Each error span carries an "exception"
    event (exception.type *demo.TokenExpiredError); the matchmaker's and orders' calls
    to auth fail with it, and so do their requests.

 3. An asynchronous hop: %s
    Each consumer span starts a trace of its own and links to the "publish orders"
    producer span of the request that queued the order. Some fail with a
    *demo.ValidationError (an order line with quantity 0) recorded on the span.

 4. SQL: spans "SELECT beers" and "INSERT order_items" carry db.system=sqlite and
    db.statement.
`,
		link(`service "matchmaker", operation "GET /pair/beer"`, "service=matchmaker&operation=GET+%2Fpair%2Fbeer"),
		link(`service "auth", tag error=true`, "service=auth&tag=error%3Dtrue"),
		link(`service "orders-worker", operation "process orders"`, "service=orders-worker&operation=process+orders"))
}
