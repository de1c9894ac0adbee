package xray

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/pipeline"
)

type fakeConsumer struct {
	mu      sync.Mutex
	spans   []*model.Span
	refused map[string]int
	block   chan struct{} // when set, Consume waits on it
	err     error
}

func (f *fakeConsumer) Consume(ctx context.Context, receiver string, spans []*model.Span) (pipeline.Result, error) {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return pipeline.Result{}, f.err
	}
	f.spans = append(f.spans, spans...)
	return pipeline.Result{Accepted: len(spans)}, nil
}

func (f *fakeConsumer) Refuse(receiver, reason string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refused == nil {
		f.refused = map[string]int{}
	}
	f.refused[reason] += max(n, 1)
}

func (f *fakeConsumer) counts() (int, map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := map[string]int{}
	for k, v := range f.refused {
		r[k] = v
	}
	return len(f.spans), r
}

func startReceiver(t *testing.T, c *fakeConsumer, o Options) *Receiver {
	t.Helper()
	o.UDPAddr, o.TCPAddr, o.Consumer = "127.0.0.1:0", "127.0.0.1:0", c
	r := New(o)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return r
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

func datagram(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReceiverUDP(t *testing.T) {
	c := &fakeConsumer{}
	r := startReceiver(t, c, Options{})
	send(t, r.UDPAddr(),
		[]byte("not a datagram"),
		datagram(t, "sdk_embedded_1.datagram"),
		[]byte("{\"format\":\"json\",\"version\":1}\n{\"name\":1}"),
		datagram(t, "sdk_streamed_1.datagram"),
		datagram(t, "sdk_streamed_2.datagram"),
		datagram(t, "sdk_streamed_3.datagram"),
	)
	waitFor(t, "7 spans and 2 malformed datagrams", func() bool {
		n, refused := c.counts()
		return n == 7 && refused[ReasonMalformed] == 2
	})
}

func TestReceiverShutdownStoresHeld(t *testing.T) {
	c := &fakeConsumer{}
	r := startReceiver(t, c, Options{})
	send(t, r.UDPAddr(), datagram(t, "inprogress_1.datagram"))
	waitFor(t, "the in-progress segment to be held", func() bool { return r.hold.len() == 1 })
	if n, _ := c.counts(); n != 0 {
		t.Fatalf("in-progress segment stored at once")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.counts(); n != 1 {
		t.Errorf("shutdown stored %d spans, want the held one", n)
	}
}

func TestReceiverQueueFullDropsAndCounts(t *testing.T) {
	c := &fakeConsumer{block: make(chan struct{})}
	r := startReceiver(t, c, Options{QueueSize: 2, Workers: 1})
	d := datagram(t, "sdk_embedded_1.datagram")
	// The worker blocks in Consume holding up to a batch; the queue
	// holds 2; the rest is dropped and counted, without blocking the
	// reader.
	for range 200 {
		send(t, r.UDPAddr(), d)
	}
	waitFor(t, "drops counted", func() bool {
		_, refused := c.counts()
		return refused[ReasonQueueFull] > 0
	})
	close(c.block)
	// The receiver still works afterwards.
	before, _ := c.counts()
	send(t, r.UDPAddr(), d)
	waitFor(t, "the receiver to take datagrams again", func() bool {
		n, _ := c.counts()
		return n > before
	})
}

func TestReceiverConsumerErrorDoesNotStop(t *testing.T) {
	c := &fakeConsumer{err: errors.New("store down")}
	r := startReceiver(t, c, Options{})
	send(t, r.UDPAddr(), datagram(t, "sdk_embedded_1.datagram"))
	time.Sleep(50 * time.Millisecond)
	c.mu.Lock()
	c.err = nil
	c.mu.Unlock()
	send(t, r.UDPAddr(), datagram(t, "sdk_embedded_1.datagram"))
	waitFor(t, "spans after a store error", func() bool { n, _ := c.counts(); return n == 3 })
}

func TestReceiverQueueBytesBound(t *testing.T) {
	c := &fakeConsumer{block: make(chan struct{})}
	d := datagram(t, "sdk_embedded_1.datagram")
	// Room for three datagrams' bytes though the queue has 100 slots.
	r := startReceiver(t, c, Options{QueueSize: 100, QueueBytes: 3 * len(d), Workers: 1})
	for range 50 {
		send(t, r.UDPAddr(), d)
	}
	waitFor(t, "drops counted", func() bool {
		_, refused := c.counts()
		return refused[ReasonQueueFull] > 0
	})
	if q := r.queued.Load(); q > int64(3*len(d)) {
		t.Errorf("%d bytes queued, over the bound", q)
	}
	close(c.block)
	waitFor(t, "the queue to drain", func() bool { return r.queued.Load() == 0 })
}

func TestReceiverPartsSwitchedOff(t *testing.T) {
	for _, o := range []Options{{UDPAddr: "127.0.0.1:0"}, {TCPAddr: "127.0.0.1:0"}} {
		o.Consumer = &fakeConsumer{}
		r := New(o)
		if err := r.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		if (r.UDPAddr() != "") != (o.UDPAddr != "") || (r.TCPAddr() != "") != (o.TCPAddr != "") {
			t.Errorf("options %+v: udp %q tcp %q", o, r.UDPAddr(), r.TCPAddr())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
	}
}
