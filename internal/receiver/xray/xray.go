// Package xray is the AWS X-Ray daemon as a receiver: segment documents
// arrive over UDP (default port 2000), one per datagram after the header
// line {"format":"json","version":1}, and are converted to the model as the
// OpenTelemetry Collector's awsxray receiver does (docs/receivers/xray.md
// lists every rule); on TCP (the same port by default) it answers the two
// sampling calls X-Ray SDKs poll through the daemon, from locally
// configured rules.
package xray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/ratelog"
	"github.com/clew-dev/clew/internal/receiver/udpsock"
	"github.com/clew-dev/clew/internal/server"
)

// Name is the receiver's name in /metrics and logs.
const Name = "xray"

// Reasons a datagram is dropped, as counted in /metrics.
const (
	ReasonMalformed = "malformed"
	ReasonQueueFull = "queue_full"
	// ReasonKernelDropped counts datagrams the kernel dropped before Clew
	// read them (the socket buffer was full); Linux only.
	ReasonKernelDropped = "kernel_dropped"
	ReasonInternal      = "internal_error"
)

// maxDatagram is the largest UDP payload.
const maxDatagram = 65535

// Consumer is what the receiver hands spans to; *pipeline.Pipeline
// implements it.
type Consumer interface {
	Consume(ctx context.Context, receiver string, spans []*model.Span) (pipeline.Result, error)
	Refuse(receiver, reason string, n int)
}

// Options configure a Receiver. Zero values take the defaults noted.
type Options struct {
	// UDPAddr receives segments; "" for none.
	UDPAddr string
	// TCPAddr serves the sampling endpoints; "" for none.
	TCPAddr string
	// QueueSize is the most datagrams waiting for a worker (10000), and
	// QueueBytes the most bytes they may hold together (16 MiB); a
	// datagram arriving at a full queue is dropped and counted.
	QueueSize  int
	QueueBytes int
	// Workers decode datagrams and hand them to the consumer (4).
	Workers int
	// SocketBuffer is the UDP receive buffer asked for, in bytes (4 MiB).
	SocketBuffer int
	// PendingTimeout and MaxPending bound the documents held back: see
	// holder (5 minutes, 10000).
	PendingTimeout time.Duration
	MaxPending     int
	// Rules are the sampling rules besides the default one.
	Rules []Rule

	Consumer   Consumer
	Metrics    *server.HTTPMetrics
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Receiver is the X-Ray daemon as a server.Component.
type Receiver struct {
	o       Options
	log     *slog.Logger
	bad     *ratelog.Limiter
	tr      *translator
	hold    *holder
	sampler *Sampler
	http    *server.HTTPServer

	conn        *net.UDPConn
	kernelDrops bool // the socket reports the kernel's drops
	queue       chan []byte
	queued      atomic.Int64 // bytes of the datagrams in queue
	stop        chan struct{}
	wg          sync.WaitGroup // reader, workers, expiry
	wwg         sync.WaitGroup // workers only

	shutdownOnce sync.Once
	shutdownErr  error
}

var _ server.Component = (*Receiver)(nil)

// New returns the receiver; it listens once started.
func New(o Options) *Receiver {
	if o.QueueSize <= 0 {
		o.QueueSize = 10000
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 16 << 20
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.SocketBuffer <= 0 {
		o.SocketBuffer = 4 << 20
	}
	if o.PendingTimeout <= 0 {
		o.PendingTimeout = 5 * time.Minute
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	tr := newTranslator(0)
	r := &Receiver{
		o:     o,
		log:   o.Logger,
		bad:   ratelog.New(o.Logger, slog.LevelWarn, 10*time.Second),
		tr:    tr,
		hold:  newHolder(tr, o.MaxPending, o.PendingTimeout),
		queue: make(chan []byte, o.QueueSize),
		stop:  make(chan struct{}),
	}
	if o.TCPAddr != "" {
		r.sampler = NewSampler(o.Rules, o.Registerer, o.Logger)
		mux := http.NewServeMux()
		r.sampler.Register(mux)
		var h http.Handler = mux
		if o.Metrics != nil {
			h = o.Metrics.Wrap(Name, o.Logger, mux)
		}
		r.http = server.NewHTTPServer(Name+"_sampling", o.TCPAddr, h, o.Logger)
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "clew_xray_queue_length", Help: "X-Ray datagrams waiting for a worker.",
			}, func() float64 { return float64(len(r.queue)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "clew_xray_pending_documents", Help: "X-Ray in-progress segments and independent subsegments held back (see receivers.xray.pending_timeout).",
			}, func() float64 { return float64(r.hold.len()) }),
		)
	}
	return r
}

// Name implements server.Component.
func (r *Receiver) Name() string { return Name }

// UDPAddr returns the bound UDP address once started ("" without UDP).
func (r *Receiver) UDPAddr() string {
	if r.conn == nil {
		return ""
	}
	return r.conn.LocalAddr().String()
}

// TCPAddr returns the bound sampling address once started ("" without).
func (r *Receiver) TCPAddr() string {
	if r.http == nil {
		return ""
	}
	return r.http.Addr()
}

// Start implements server.Component.
func (r *Receiver) Start(ctx context.Context) error {
	if r.o.UDPAddr != "" {
		addr, err := net.ResolveUDPAddr("udp", r.o.UDPAddr)
		if err != nil {
			return err
		}
		conn, err := net.ListenUDP("udp", addr)
		if err != nil {
			return err
		}
		if err := conn.SetReadBuffer(r.o.SocketBuffer); err != nil {
			r.log.Warn("x-ray: cannot set the UDP receive buffer", "bytes", r.o.SocketBuffer, "err", err)
		}
		if got := udpsock.ReceiveBuffer(conn); got > 0 && got < r.o.SocketBuffer {
			r.log.Warn("x-ray: the kernel granted a smaller UDP receive buffer than asked; raise net.core.rmem_max",
				"asked", r.o.SocketBuffer, "granted", got)
		}
		r.kernelDrops = udpsock.WatchKernelDrops(conn)
		r.conn = conn
		r.log.Info("listening", "component", Name, "udp", conn.LocalAddr().String())
		for range r.o.Workers {
			r.wg.Add(1)
			r.wwg.Add(1)
			go r.work()
		}
		r.wg.Add(2)
		go r.read()
		go r.expireLoop()
	}
	if r.http != nil {
		rules := make([]string, 0, len(r.sampler.Rules()))
		for _, rule := range r.sampler.Rules() {
			rules = append(rules, rule.String())
		}
		r.log.Info("x-ray: sampling rules served to SDKs", "rules", rules)
		if err := r.http.Start(ctx); err != nil {
			if r.conn != nil {
				_ = r.conn.Close()
				close(r.stop)
				r.wg.Wait()
			}
			return err
		}
	}
	return nil
}

// Shutdown implements server.Component: it stops reading, lets the workers
// finish the queued datagrams, stores every held document and stops the
// sampling server. Calls after the first return its result.
func (r *Receiver) Shutdown(ctx context.Context) error {
	r.shutdownOnce.Do(func() { r.shutdownErr = r.shutdown(ctx) })
	return r.shutdownErr
}

func (r *Receiver) shutdown(ctx context.Context) error {
	var errs []error
	if r.conn != nil {
		_ = r.conn.Close() // the reader closes the queue when it returns
		done := make(chan struct{})
		go func() { r.wwg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("x-ray workers: %w", ctx.Err()))
		}
		close(r.stop)
		r.wg.Wait()
		if spans := r.hold.expire(time.Now(), true); len(spans) > 0 {
			r.consume(ctx, spans)
		}
	}
	if r.http != nil {
		errs = append(errs, r.http.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

func (r *Receiver) read() {
	defer r.wg.Done()
	defer close(r.queue)
	buf := make([]byte, maxDatagram)
	oob := make([]byte, 64)
	var dropped uint32 // the kernel's count of datagrams dropped so far
	for {
		n, oobn, _, _, err := r.conn.ReadMsgUDP(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			r.bad.Log("x-ray: UDP read failed", "err", err)
			continue
		}
		if r.kernelDrops {
			if total, ok := udpsock.KernelDrops(oob[:oobn]); ok && total != dropped {
				// The counter is the socket's total and wraps at 2^32.
				r.o.Consumer.Refuse(Name, ReasonKernelDropped, int(total-dropped))
				r.bad.Log("x-ray: the kernel dropped datagrams: the socket buffer was full", "dropped", total-dropped)
				dropped = total
			}
		}
		// A copy of the datagram's own size: the queue holds what was
		// received, not 64 KiB per entry.
		d := make([]byte, n)
		copy(d, buf[:n])
		if r.queued.Add(int64(n)) > int64(r.o.QueueBytes) {
			r.queued.Add(-int64(n))
			r.o.Consumer.Refuse(Name, ReasonQueueFull, 1)
			r.bad.Log("x-ray: queue full, datagram dropped", "queue_bytes", r.o.QueueBytes)
			continue
		}
		select {
		case r.queue <- d:
		default:
			r.queued.Add(-int64(n))
			r.o.Consumer.Refuse(Name, ReasonQueueFull, 1)
			r.bad.Log("x-ray: queue full, datagram dropped", "queue_size", r.o.QueueSize)
		}
	}
}

// maxBatch is the most datagrams a worker hands over in one batch.
const maxBatch = 64

func (r *Receiver) work() {
	defer r.wg.Done()
	defer r.wwg.Done()
	for d := range r.queue {
		r.queued.Add(-int64(len(d)))
		spans := r.process(d, nil, time.Now())
	drain:
		for range maxBatch - 1 {
			select {
			case d, ok := <-r.queue:
				if !ok {
					break drain
				}
				r.queued.Add(-int64(len(d)))
				spans = r.process(d, spans, time.Now())
			default:
				break drain
			}
		}
		if len(spans) > 0 {
			r.consume(context.Background(), spans)
		}
	}
}

// process decodes one datagram and appends the spans to store now.
func (r *Receiver) process(d []byte, out []*model.Span, now time.Time) (res []*model.Span) {
	defer func() {
		if p := recover(); p != nil {
			r.o.Consumer.Refuse(Name, ReasonInternal, 1)
			r.log.Error("x-ray: panic decoding a datagram", "panic", p, "stack", string(debug.Stack()))
			res = out
		}
	}()
	doc, err := splitDatagram(d)
	if err == nil {
		var seg *segment
		if seg, err = parseSegment(doc); err == nil {
			tdoc, orphanOf := r.tr.translate(seg)
			return append(out, r.hold.add(tdoc, orphanOf, now)...)
		}
	}
	r.o.Consumer.Refuse(Name, ReasonMalformed, 1)
	r.bad.Log("x-ray: malformed datagram dropped", "err", err, "bytes", len(d))
	return out
}

func (r *Receiver) consume(ctx context.Context, spans []*model.Span) {
	if _, err := r.o.Consumer.Consume(ctx, Name, spans); err != nil {
		// The pipeline counted the refused spans; UDP cannot ask to retry.
		r.bad.Log("x-ray: spans not stored", "spans", len(spans), "err", err)
	}
}

// expireLoop stores held documents whose time is up.
func (r *Receiver) expireLoop() {
	defer r.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.stop:
			return
		case now := <-tick.C:
			if spans := r.hold.expire(now, false); len(spans) > 0 {
				r.consume(context.Background(), spans)
			}
		}
	}
}
