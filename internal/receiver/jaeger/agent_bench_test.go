package jaeger

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/receiver/receivertest"
)

// BenchmarkAgentUDP sends b.N captured compact datagrams (3 spans each) as
// fast as one sender can over loopback into a running Agent, then reports
// how many the agent handled, dropped at its full queue, and how many the
// kernel lost before the reader saw them.
func BenchmarkAgentUDP(b *testing.B) {
	sink := &receivertest.Sink{}
	a := NewAgent(AgentOptions{Addr: "127.0.0.1:0", Consumer: sink})
	if err := a.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	d := readTestdata(b, "agent_compact.thrift")
	conn, err := net.Dial("udp", a.Addr())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := conn.Write(d); err != nil {
			b.Fatal(err)
		}
	}
	// Wait until the agent is idle, then stop it (which drains the queue).
	time.Sleep(50 * time.Millisecond)
	if err := a.Shutdown(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	handled := len(sink.Spans()) / 3
	queueFull := sink.Refused()[NameAgentCompact+"/"+ReasonQueueFull]
	b.ReportMetric(float64(handled)/float64(b.N)*100, "%handled")
	b.ReportMetric(float64(queueFull)/float64(b.N)*100, "%queue_full")
	b.ReportMetric(float64(b.N-handled-queueFull)/float64(b.N)*100, "%kernel_lost")
	// What the agent's SO_RXQ_OVFL counter saw of that loss (Linux; it is
	// updated with the next datagram, so the last burst may be missing).
	b.ReportMetric(float64(a.kernelDropped.Load())/float64(b.N)*100, "%kernel_counted")
}

// TestAgentNoGoroutineLeak checks that Shutdown ends every goroutine the
// agent started.
func TestAgentNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	a := startAgent(t, AgentOptions{Consumer: &receivertest.Sink{}, Workers: 8})
	send(t, a.Addr(), readTestdata(t, "agent_compact.thrift"))
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
}
