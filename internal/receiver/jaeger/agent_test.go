package jaeger

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	jaegerclient "github.com/uber/jaeger-client-go"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
	"github.com/clew-dev/clew/internal/receiver/receivertest"
)

func startAgent(t *testing.T, o AgentOptions) *Agent {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	a := NewAgent(o)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func send(t *testing.T, addr string, datagrams ...[]byte) {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, d := range datagrams {
		if _, err := conn.Write(d); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAgentRealClients(t *testing.T) {
	for _, enc := range []Encoding{Compact, Binary} {
		t.Run(enc.String(), func(t *testing.T) {
			sink := &receivertest.Sink{}
			a := startAgent(t, AgentOptions{Encoding: enc, Consumer: sink})
			var tr jaegerclient.Transport
			if enc == Compact {
				var err error
				if tr, err = jaegerclient.NewUDPTransport(a.Addr(), 0); err != nil {
					t.Fatal(err)
				}
			} else {
				tr = newBinaryUDPTransport(t, a.Addr())
			}
			id := emitKnownTrace(t, tr, traceStart)
			waitFor(t, "3 spans", func() bool { return len(sink.Spans()) == 3 })
			if err := a.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, s := range sink.Spans() {
				if want := model.TraceIDFromUint64s(id.High, id.Low); s.TraceID != want {
					t.Errorf("span %q in trace %v, want %v", s.Name, s.TraceID, want)
				}
				if s.ServiceName() != "checkout" {
					t.Errorf("span %q of service %q", s.Name, s.ServiceName())
				}
			}
		})
	}
}

func TestAgentDropsMalformedAndKeepsServing(t *testing.T) {
	sink := &receivertest.Sink{}
	a := startAgent(t, AgentOptions{Consumer: sink})
	good := readTestdata(t, "agent_compact.thrift")
	send(t, a.Addr(), []byte{0x82}, []byte("garbage"), good[:100], readTestdata(t, "agent_binary.thrift"), good)
	waitFor(t, "the good datagram", func() bool { return len(sink.Spans()) == 3 })
	waitFor(t, "4 malformed", func() bool { return sink.Refused()[NameAgentCompact+"/malformed"] == 4 })
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// blockingSink holds every Consume until released.
type blockingSink struct {
	receivertest.Sink
	release chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (b *blockingSink) Consume(ctx context.Context, r string, spans []*model.Span) (pipeline.Result, error) {
	b.once.Do(func() { close(b.entered) })
	select {
	case <-b.release:
	case <-ctx.Done():
		return pipeline.Result{}, ctx.Err()
	}
	return b.Sink.Consume(ctx, r, spans)
}

func TestAgentQueueFullDropsAndShutdownDrains(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{}), entered: make(chan struct{})}
	a := startAgent(t, AgentOptions{Consumer: sink, QueueSize: 2, Workers: 1})
	good := readTestdata(t, "agent_compact.thrift")
	send(t, a.Addr(), good)
	<-sink.entered // the worker holds one datagram
	send(t, a.Addr(), good, good, good, good, good)
	// Two wait in the queue, three are dropped.
	waitFor(t, "3 drops", func() bool { return sink.Refused()[NameAgentCompact+"/queue_full"] == 3 })

	done := make(chan error)
	go func() { done <- a.Shutdown(context.Background()) }()
	time.Sleep(20 * time.Millisecond)
	close(sink.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Everything accepted before shutdown was drained: 3 datagrams.
	if got := len(sink.Spans()); got != 9 {
		t.Errorf("drained %d spans, want 9", got)
	}
}

func TestAgentShutdownDeadline(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{}), entered: make(chan struct{})}
	a := startAgent(t, AgentOptions{Consumer: sink, Workers: 1})
	good := readTestdata(t, "agent_compact.thrift")
	send(t, a.Addr(), good)
	<-sink.entered
	send(t, a.Addr(), good, good)
	waitFor(t, "2 queued", func() bool { return len(a.queue) == 2 })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := a.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned nil with a stuck consumer and an expired context")
	}
	// The stuck datagram's consumer saw its context end; the two queued
	// behind it were counted, not decoded.
	if got := sink.Refused()[NameAgentCompact+"/"+ReasonShutdown]; got != 2 {
		t.Errorf("counted %d datagrams dropped at shutdown, want 2", got)
	}
	if got := len(sink.Spans()); got != 0 {
		t.Errorf("stored %d spans after the deadline", got)
	}
}

func TestAgentQueueBytesBound(t *testing.T) {
	sink := &blockingSink{release: make(chan struct{}), entered: make(chan struct{})}
	good := readTestdata(t, "agent_compact.thrift")
	a := startAgent(t, AgentOptions{Consumer: sink, QueueBytes: len(good) + 100, Workers: 1})
	send(t, a.Addr(), good)
	<-sink.entered // the worker holds one datagram, still counted in the bytes
	send(t, a.Addr(), good, good, good)
	waitFor(t, "3 drops", func() bool { return sink.Refused()[NameAgentCompact+"/queue_full"] == 3 })
	close(sink.release)
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := len(sink.Spans()); got != 3 {
		t.Errorf("stored %d spans, want 3", got)
	}
	if got := a.queued.Load(); got != 0 {
		t.Errorf("%d bytes still counted as queued", got)
	}
}

// TestAgentClientBurst sends 5000 spans through jaeger-client-go's UDP
// sender, which packs them into datagrams of up to 65,000 bytes, and checks
// that the default agent keeps every one.
func TestAgentClientBurst(t *testing.T) {
	sink := &receivertest.Sink{}
	a := startAgent(t, AgentOptions{Consumer: sink})
	tr, err := jaegerclient.NewUDPTransport(a.Addr(), 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	tracer, closer := jaegerclient.NewTracer("burst", jaegerclient.NewConstSampler(true),
		jaegerclient.NewRemoteReporter(tr, jaegerclient.ReporterOptions.QueueSize(2*n), jaegerclient.ReporterOptions.BufferFlushInterval(time.Hour)))
	for i := 0; i < n; i++ {
		sp := tracer.StartSpan("op")
		sp.SetTag("i", i)
		sp.SetTag("payload", "some moderately long string value to fill the datagrams")
		sp.Finish()
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every span", func() bool { return len(sink.Spans()) == n })
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := sink.Refused(); len(r) != 0 {
		t.Errorf("refusals: %v", r)
	}
}
