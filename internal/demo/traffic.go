package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// TrafficStats counts the requests the demo's traffic made.
type TrafficStats struct {
	// Sent is the number of requests made; Failed those that got no
	// answer or a 5xx; Skipped the ticks dropped because MaxInFlight
	// requests were still running.
	Sent, Failed, Skipped int64
	// Status counts answers by HTTP status code.
	Status map[int]int64
}

type trafficOptions struct {
	rate        float64
	maxInFlight int
	matchmaker  string
	orders      string
}

// traffic sends requests like a population of users would: mostly browsing
// and pairing, some orders, now and then with an expired token or a bad
// order line.
type traffic struct {
	o      trafficOptions
	client *http.Client
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{}

	sent, failed, skipped atomic.Int64
	mu                    sync.Mutex
	status                map[int]int64
}

// The mix of the traffic.
const (
	expiredTokenRatio = 0.1
	badOrderRatio     = 0.2
)

func startTraffic(o trafficOptions) *traffic {
	ctx, cancel := context.WithCancel(context.Background())
	t := &traffic{
		o:      o,
		client: &http.Client{Timeout: 15 * time.Second},
		cancel: cancel,
		slots:  make(chan struct{}, o.maxInFlight),
		status: map[int]int64{},
	}
	if o.rate <= 0 {
		return t
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.loop(ctx)
	}()
	return t
}

func (t *traffic) loop(ctx context.Context) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 42))
	tick := time.NewTicker(time.Duration(float64(time.Second) / t.o.rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case t.slots <- struct{}{}:
		default:
			t.skipped.Add(1)
			continue
		}
		// A request in flight when the traffic stops runs to its end
		// (bounded by the client's timeout), so that its trace is whole.
		req := t.next(context.WithoutCancel(ctx), rng, n)
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer func() { <-t.slots }()
			t.do(req)
		}()
	}
}

// next builds the n-th request. The first requests cover every route, so
// that a short run already shows each story.
func (t *traffic) next(ctx context.Context, rng *rand.Rand, n int) *http.Request {
	user := strconv.Itoa(1000 + rng.IntN(50))
	token := validTokenPrefix + user
	if n == 3 || (n >= 10 && rng.Float64() < expiredTokenRatio) {
		token = expiredTokenPrefix + user
	}
	var req *http.Request
	kind := n % 5
	if n >= 10 {
		kind = rng.IntN(10)
		switch {
		case kind < 4:
			kind = 0
		case kind < 6:
			kind = 1
		case kind < 7:
			kind = 2
		default:
			kind = 3
		}
	}
	switch kind {
	case 0, 4:
		b := beers[rng.IntN(len(beers))].name
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, t.o.matchmaker+"/pair/beer?name="+b, nil)
	case 1:
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, t.o.matchmaker+"/beers", nil)
	case 2:
		req, _ = http.NewRequestWithContext(ctx, http.MethodGet, t.o.matchmaker+"/donuts", nil)
	default:
		order := Order{User: user}
		for i := 0; i < 1+rng.IntN(3); i++ {
			order.Items = append(order.Items, OrderItem{Donut: donuts[rng.IntN(len(donuts))], Quantity: 1 + rng.IntN(12)})
		}
		if n == 8 || (n >= 10 && rng.Float64() < badOrderRatio) {
			order.Items = append(order.Items, OrderItem{Donut: donuts[rng.IntN(len(donuts))], Quantity: 0})
		}
		body, _ := json.Marshal(order)
		req, _ = http.NewRequestWithContext(ctx, http.MethodPost, t.o.orders+"/orders", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req
}

func (t *traffic) do(req *http.Request) {
	t.sent.Add(1)
	resp, err := t.client.Do(req)
	if err != nil {
		t.failed.Add(1)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		t.failed.Add(1)
	}
	t.mu.Lock()
	t.status[resp.StatusCode]++
	t.mu.Unlock()
}

// stop ends the traffic and waits for the requests in flight.
func (t *traffic) stop() {
	t.cancel()
	t.wg.Wait()
	t.client.CloseIdleConnections()
}

func (t *traffic) stats() TrafficStats {
	s := TrafficStats{Sent: t.sent.Load(), Failed: t.failed.Load(), Skipped: t.skipped.Load(), Status: map[int]int64{}}
	t.mu.Lock()
	for k, v := range t.status {
		s.Status[k] = v
	}
	t.mu.Unlock()
	return s
}
