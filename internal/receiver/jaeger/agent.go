package jaeger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clew-dev/clew/internal/receiver/ratelog"
	"github.com/clew-dev/clew/internal/receiver/udpsock"
	"github.com/clew-dev/clew/internal/server"
)

// Agent defaults.
const (
	// DefaultQueueSize is how many datagrams wait for a worker.
	DefaultQueueSize = 1000
	// DefaultWorkers is how many goroutines decode datagrams.
	DefaultWorkers = 4
	// DefaultQueueBytes bounds the bytes of the datagrams waiting for a
	// worker: clients fill datagrams up to 65,000 bytes, so a full queue of
	// 1000 could otherwise hold 64 MiB.
	DefaultQueueBytes = 16 << 20
	// DefaultSocketBuffer is the SO_RCVBUF asked for, room for a burst of
	// about 64 full-size datagrams while the reader is busy.
	DefaultSocketBuffer = 4 << 20
	// MaxDatagram is the largest datagram read: the Jaeger clients' limit
	// (65000 bytes) and more, up to what UDP over IPv4 can carry.
	MaxDatagram = 65507
	// consumeTimeout bounds one datagram's wait for the pipeline.
	consumeTimeout = 10 * time.Second
)

// AgentOptions configure an Agent. Zero values take the defaults.
type AgentOptions struct {
	// Name is the receiver name in metrics and logs (NameAgentCompact or
	// NameAgentBinary by encoding when empty).
	Name     string
	Addr     string
	Encoding Encoding
	// QueueSize is the most datagrams waiting for a worker; a datagram
	// arriving at a full queue is dropped and counted.
	QueueSize int
	// QueueBytes is the most bytes of datagrams waiting for a worker; a
	// datagram that would exceed it is dropped and counted like a full
	// queue.
	QueueBytes int
	// Workers decode datagrams and hand them to the consumer.
	Workers int
	// SocketBuffer is the SO_RCVBUF asked of the kernel; the kernel may
	// grant less (net.core.rmem_max on Linux): the granted size is logged
	// and exported.
	SocketBuffer int
	Consumer     Consumer
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Agent is a Component receiving emitBatch datagrams on one UDP port, as the
// jaeger-agent did.
//
// One goroutine reads datagrams into pooled buffers and queues them without
// blocking; Workers goroutines decode them and wait for the pipeline. When
// the queue is full the datagram is dropped and counted: UDP senders cannot
// be slowed down, and blocking the reader would only move the loss into the
// kernel, where nobody counts it.
type Agent struct {
	o      AgentOptions
	log    *slog.Logger
	warn   *ratelog.Limiter
	queue  chan []byte
	queued atomic.Int64 // bytes in queue
	ctx    context.Context
	cancel context.CancelFunc

	conn     *net.UDPConn
	readDone chan struct{}
	workers  sync.WaitGroup
	rcvbuf   atomic.Int64
	// kernelDropped is the kernel's count of datagrams dropped on the
	// socket, as last reported with a datagram (Linux only).
	kernelDropped atomic.Uint32
	dropCounter   bool

	datagrams *prometheus.CounterVec
}

var _ server.Component = (*Agent)(nil)

// NewAgent returns an agent receiver; Start binds it.
func NewAgent(o AgentOptions) *Agent {
	if o.Name == "" {
		o.Name = NameAgentCompact
		if o.Encoding == Binary {
			o.Name = NameAgentBinary
		}
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.SocketBuffer <= 0 {
		o.SocketBuffer = DefaultSocketBuffer
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{
		o:     o,
		log:   o.Logger.With("component", o.Name),
		queue: make(chan []byte, o.QueueSize),
		datagrams: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "clew_jaeger_agent_datagrams_total",
			Help:        "Datagrams read by a Jaeger agent port, by outcome (queued, dropped_queue_full, malformed, too_large, unsupported_method, empty, decoded, shutting_down).",
			ConstLabels: prometheus.Labels{"receiver": o.Name},
		}, []string{"outcome"}),
	}
	a.warn = ratelog.New(a.log, slog.LevelWarn, 10*time.Second)
	if o.Registerer != nil {
		o.Registerer.MustRegister(a.datagrams,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "clew_jaeger_agent_queue_length",
				Help:        "Datagrams waiting for a worker.",
				ConstLabels: prometheus.Labels{"receiver": o.Name},
			}, func() float64 { return float64(len(a.queue)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "clew_jaeger_agent_queue_bytes",
				Help:        "Bytes of the datagrams waiting for a worker.",
				ConstLabels: prometheus.Labels{"receiver": o.Name},
			}, func() float64 { return float64(a.queued.Load()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "clew_jaeger_agent_queue_capacity",
				Help:        "Most datagrams that may wait for a worker.",
				ConstLabels: prometheus.Labels{"receiver": o.Name},
			}, func() float64 { return float64(cap(a.queue)) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "clew_jaeger_agent_socket_buffer_bytes",
				Help:        "Receive buffer the kernel granted the UDP socket (SO_RCVBUF as read back).",
				ConstLabels: prometheus.Labels{"receiver": o.Name},
			}, func() float64 { return float64(a.rcvbuf.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "clew_jaeger_agent_kernel_drops_total",
				Help:        "Datagrams the kernel dropped on the socket because its receive buffer was full (Linux, SO_RXQ_OVFL; updated when the next datagram arrives).",
				ConstLabels: prometheus.Labels{"receiver": o.Name},
			}, func() float64 { return float64(a.kernelDropped.Load()) }),
		)
	}
	return a
}

// Name implements server.Component.
func (a *Agent) Name() string { return a.o.Name }

// Addr returns the bound address once started (useful with port 0).
func (a *Agent) Addr() string {
	if a.conn == nil {
		return a.o.Addr
	}
	return a.conn.LocalAddr().String()
}

// Start implements server.Component: it binds the UDP socket and starts
// the reader and the workers.
func (a *Agent) Start(context.Context) error {
	addr, err := net.ResolveUDPAddr("udp", a.o.Addr)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", a.o.Addr, err)
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return err
	}
	if err := conn.SetReadBuffer(a.o.SocketBuffer); err != nil {
		a.log.Warn("cannot set the UDP receive buffer", "want_bytes", a.o.SocketBuffer, "err", err)
	}
	granted := udpsock.ReceiveBuffer(conn)
	a.rcvbuf.Store(int64(granted))
	if granted > 0 && granted < a.o.SocketBuffer {
		a.log.Warn("the kernel granted a smaller UDP receive buffer than configured; bursts may be lost in the kernel (raise net.core.rmem_max)",
			"want_bytes", a.o.SocketBuffer, "granted_bytes", granted)
	}
	a.dropCounter = udpsock.WatchKernelDrops(conn)
	a.conn = conn
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.readDone = make(chan struct{})
	for i := 0; i < a.o.Workers; i++ {
		a.workers.Add(1)
		go a.work()
	}
	go a.read()
	a.log.Info("listening", "addr", conn.LocalAddr().String(), "encoding", a.o.Encoding.String(),
		"queue", a.o.QueueSize, "workers", a.o.Workers, "socket_buffer", granted)
	return nil
}

// read owns the socket until Shutdown closes it; then it closes the queue.
func (a *Agent) read() {
	defer close(a.readDone)
	defer close(a.queue)
	var oob []byte
	if a.dropCounter {
		oob = make([]byte, 64)
	}
	buf := make([]byte, MaxDatagram+1) // one byte more tells a truncated datagram
	for {
		n, oobn, _, _, err := a.conn.ReadMsgUDP(buf, oob)
		if oobn > 0 {
			if d, ok := udpsock.KernelDrops(oob[:oobn]); ok && d != a.kernelDropped.Load() {
				a.kernelDropped.Store(d)
				a.warn.Log("the kernel dropped datagrams: the UDP receive buffer was full", "dropped_total", d)
			}
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			a.warn.Log("UDP read failed", "err", err)
			// A persistent error must not spin a core.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		switch {
		case n == 0:
			a.datagrams.WithLabelValues("empty").Inc()
			continue
		case n > MaxDatagram:
			a.datagrams.WithLabelValues(ReasonTooLarge).Inc()
			a.o.Consumer.Refuse(a.o.Name, ReasonTooLarge, 0)
			continue
		}
		if a.queued.Load()+int64(n) > int64(a.o.QueueBytes) {
			a.dropFull()
			continue
		}
		// Each queued datagram holds only its own bytes.
		d := make([]byte, n)
		copy(d, buf[:n])
		a.queued.Add(int64(n))
		select {
		case a.queue <- d:
			a.datagrams.WithLabelValues("queued").Inc()
		default:
			a.queued.Add(-int64(n))
			a.dropFull()
		}
	}
}

func (a *Agent) dropFull() {
	a.datagrams.WithLabelValues("dropped_queue_full").Inc()
	a.o.Consumer.Refuse(a.o.Name, ReasonQueueFull, 0)
	a.warn.Log("UDP queue full; dropping datagrams", "queue", a.o.QueueSize, "queue_bytes", a.o.QueueBytes)
}

// work decodes queued datagrams until the queue is closed and empty.
func (a *Agent) work() {
	defer a.workers.Done()
	for d := range a.queue {
		if a.ctx.Err() != nil {
			// Shutdown ran out of time: count what is left, do not decode it.
			a.datagrams.WithLabelValues(ReasonShutdown).Inc()
			a.o.Consumer.Refuse(a.o.Name, ReasonShutdown, 0)
		} else {
			a.handle(d)
		}
		a.queued.Add(-int64(len(d)))
	}
}

func (a *Agent) handle(b []byte) {
	batch, err := DecodeEmitBatch(a.o.Encoding, b)
	if err != nil {
		reason := ReasonMalformed
		if errors.Is(err, ErrUnsupportedMethod) {
			reason = ReasonUnsupported
		}
		a.datagrams.WithLabelValues(reason).Inc()
		a.o.Consumer.Refuse(a.o.Name, reason, 0)
		a.warn.Log("dropped a datagram that is not a Jaeger emitBatch", "bytes", len(b), "err", shortErr(err))
		return
	}
	a.datagrams.WithLabelValues("decoded").Inc()
	spans, err := ThriftToModel(batch)
	if err != nil {
		a.o.Consumer.Refuse(a.o.Name, ReasonMalformed, len(batch.Spans))
		a.warn.Log("dropped a batch the translator refused", "err", shortErr(err))
		return
	}
	if len(spans) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, consumeTimeout)
	defer cancel()
	// The pipeline counts what it refuses; UDP has nobody to tell.
	if _, err := a.o.Consumer.Consume(ctx, a.o.Name, spans); err != nil {
		a.warn.Log("dropped a batch the pipeline did not take", "spans", len(spans), "err", err)
	}
}

// Shutdown implements server.Component: it closes the socket, lets the
// workers finish every datagram already read, and returns when they are
// done or ctx ends (then the rest is abandoned and ctx.Err returned).
func (a *Agent) Shutdown(ctx context.Context) error {
	err := a.conn.Close()
	<-a.readDone
	done := make(chan struct{})
	go func() {
		a.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		left := len(a.queue)
		a.cancel() // the workers drop and count what is still queued
		<-done
		return errors.Join(err, fmt.Errorf("about %d datagrams not drained: %w", left, ctx.Err()))
	}
	a.cancel()
	return err
}
