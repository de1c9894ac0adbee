// Package demo runs Clew's example microservices: a beer-and-donut
// matchmaker with a slow pairing route, a taster it calls once per candidate
// donut, an auth service that now and then rejects an expired token, a
// key-value cache, and an orders flow over an in-process queue. They talk to
// each other over real HTTP on localhost, are instrumented with the
// OpenTelemetry Go SDK (otelhttp, W3C trace context) and export over
// OTLP (gRPC or HTTP), exactly as a user's services would. Traffic drives them at a
// bounded rate. It is the library behind `clew demo`.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Service names, as they appear in Clew.
const (
	ServiceMatchmaker = "matchmaker"
	ServiceTaster     = "taster"
	ServiceAuth       = "auth"
	ServiceCache      = "donut-cache"
	ServiceOrders     = "orders"
	ServiceWorker     = "orders-worker"
)

// Services lists every service of the demo.
var Services = []string{ServiceMatchmaker, ServiceTaster, ServiceAuth, ServiceCache, ServiceOrders, ServiceWorker}

// Options configure the demo.
type Options struct {
	// Endpoint is where spans are exported: an OTLP/gRPC address
	// (host:port), or an OTLP/HTTP URL (http://host:4318, /v1/traces
	// added when it has no path). Plaintext either way (or https://).
	Endpoint string
	// Host is the address the services listen on.
	Host string
	// PortBase is the port of the matchmaker; the taster, auth, cache and
	// orders services listen on the next four ports. 0 picks free ports.
	PortBase int
	// Rate is the number of requests per second the traffic sends; 0
	// sends none (the services still answer requests).
	Rate float64
	// MaxInFlight bounds the traffic's concurrent requests; a tick that
	// finds them all busy is skipped.
	MaxInFlight int
	// BatchTimeout is how long the SDK batches spans before exporting.
	BatchTimeout time.Duration
	// Log gets lifecycle messages; nothing is logged per request.
	Log *slog.Logger
}

// DefaultOptions returns the defaults of `clew demo`.
func DefaultOptions() Options {
	return Options{
		Endpoint:     "127.0.0.1:4317",
		Host:         "127.0.0.1",
		PortBase:     18080,
		Rate:         5,
		MaxInFlight:  16,
		BatchTimeout: time.Second,
	}
}

// Limits of Options.
const (
	MaxRate        = 1000
	MaxMaxInFlight = 256
)

func (o *Options) validate() error {
	var errs []error
	if o.Endpoint == "" {
		errs = append(errs, errors.New("no OTLP endpoint"))
	}
	if o.PortBase < 0 || o.PortBase > 65535-4 {
		errs = append(errs, fmt.Errorf("port base %d: want 0 to %d", o.PortBase, 65535-4))
	}
	if o.Rate < 0 || o.Rate > MaxRate {
		errs = append(errs, fmt.Errorf("rate %g: want 0 to %d requests per second", o.Rate, MaxRate))
	}
	if o.MaxInFlight < 1 || o.MaxInFlight > MaxMaxInFlight {
		errs = append(errs, fmt.Errorf("max in flight %d: want 1 to %d", o.MaxInFlight, MaxMaxInFlight))
	}
	if o.BatchTimeout <= 0 {
		errs = append(errs, errors.New("batch timeout must be positive"))
	}
	return errors.Join(errs...)
}

// Demo is the running set of services and their traffic.
type Demo struct {
	o       Options
	log     *slog.Logger
	conn    *grpc.ClientConn
	prop    propagation.TextMapPropagator
	tel     []*telemetry
	servers []*httpService
	orders  *ordersService
	worker  *worker
	match   *matchmaker
	traffic *traffic

	stopOnce sync.Once
	stopErr  error
}

// Start starts the services and the traffic. The services and traffic run
// until Stop; ctx only bounds the start.
func Start(ctx context.Context, o Options) (_ *Demo, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	d := &Demo{o: o, log: o.Log, prop: propagation.TraceContext{}}
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err = errors.Join(err, d.Stop(sctx))
		}
	}()
	if !isHTTPEndpoint(o.Endpoint) {
		d.conn, err = grpc.NewClient(o.Endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("OTLP endpoint %s: %w", o.Endpoint, err)
		}
	}
	tel := map[string]*telemetry{}
	for _, name := range Services {
		exp, err := newExporter(ctx, o.Endpoint, d.conn)
		if err != nil {
			return nil, fmt.Errorf("OTLP exporter for %s: %w", name, err)
		}
		t := newTelemetry(name, exp, d.prop, o.BatchTimeout)
		tel[name] = t
		d.tel = append(d.tel, t)
	}

	// Listen first so that every service knows the others' addresses.
	names := []string{ServiceMatchmaker, ServiceTaster, ServiceAuth, ServiceCache, ServiceOrders}
	lns := map[string]net.Listener{}
	for i, name := range names {
		port := 0
		if o.PortBase > 0 {
			port = o.PortBase + i
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(port)))
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, fmt.Errorf("listen for %s: %w", name, err)
		}
		lns[name] = ln
	}
	url := func(name string) string { return "http://" + lns[name].Addr().String() }

	auth := newAuthClient(tel[ServiceMatchmaker], url(ServiceAuth))
	cache := newCacheClient(tel[ServiceMatchmaker], url(ServiceCache))
	d.match, err = newMatchmaker(ctx, tel[ServiceMatchmaker], auth, cache, url(ServiceTaster))
	if err != nil {
		for _, l := range lns {
			l.Close()
		}
		return nil, err
	}
	d.worker, err = newWorker(ctx, tel[ServiceWorker])
	if err != nil {
		for _, l := range lns {
			l.Close()
		}
		return nil, err
	}
	d.worker.start()
	d.orders = newOrdersService(tel[ServiceOrders], newAuthClient(tel[ServiceOrders], url(ServiceAuth)), d.worker.queue)
	handlers := map[string]http.Handler{
		ServiceMatchmaker: d.match.handler(),
		ServiceTaster:     newTaster(tel[ServiceTaster]).handler(),
		ServiceAuth:       newAuth(tel[ServiceAuth]).handler(),
		ServiceCache:      newCache(tel[ServiceCache]).handler(),
		ServiceOrders:     d.orders.handler(),
	}
	for _, name := range names {
		d.servers = append(d.servers, serve(name, lns[name], handlers[name], o.Log))
	}
	if err := d.match.seed(ctx); err != nil {
		return nil, fmt.Errorf("seed the donut cache: %w", err)
	}
	d.traffic = startTraffic(trafficOptions{
		rate:        o.Rate,
		maxInFlight: o.MaxInFlight,
		matchmaker:  url(ServiceMatchmaker),
		orders:      url(ServiceOrders),
	})
	o.Log.Info("demo services started", "matchmaker", url(ServiceMatchmaker), "otlp", o.Endpoint, "rate", o.Rate)
	return d, nil
}

// Addr returns the listen address of a service ("" if it has none).
func (d *Demo) Addr(service string) string {
	for _, s := range d.servers {
		if s.name == service {
			return s.ln.Addr().String()
		}
	}
	return ""
}

// Stats returns the traffic's counters so far.
func (d *Demo) Stats() TrafficStats {
	if d.traffic == nil {
		return TrafficStats{}
	}
	return d.traffic.stats()
}

// Stop stops the traffic, then the services (letting requests in flight
// finish), drains the order queue, and flushes every span to the endpoint.
// It waits for every goroutine the demo started. It is safe to call more
// than once.
func (d *Demo) Stop(ctx context.Context) error {
	d.stopOnce.Do(func() {
		var errs []error
		if d.traffic != nil {
			d.traffic.stop()
		}
		for i := len(d.servers) - 1; i >= 0; i-- {
			if err := d.servers[i].shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", d.servers[i].name, err))
			}
		}
		if d.orders != nil {
			d.orders.close()
		}
		if d.worker != nil {
			if d.orders == nil {
				close(d.worker.queue)
			}
			d.worker.wait()
		}
		if d.match != nil {
			errs = append(errs, d.match.close())
		}
		// Flush every service at once: against an unreachable endpoint
		// the whole flush then takes one timeout, not one per service.
		flushErrs := make([]error, len(d.tel))
		var wg sync.WaitGroup
		for i, t := range d.tel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := t.shutdown(ctx); err != nil {
					flushErrs[i] = fmt.Errorf("flush %s spans: %w", t.service, err)
				}
			}()
		}
		wg.Wait()
		errs = append(errs, flushErrs...)
		if d.conn != nil {
			errs = append(errs, d.conn.Close())
		}
		d.stopErr = errors.Join(errs...)
	})
	return d.stopErr
}

// httpService is one service's HTTP server.
type httpService struct {
	name string
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

func serve(name string, ln net.Listener, h http.Handler, log *slog.Logger) *httpService {
	s := &httpService{
		name: name,
		ln:   ln,
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("demo service stopped", "service", name, "err", err)
		}
	}()
	return s
}

func (s *httpService) shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
