package gen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// RunOptions configure one load run.
type RunOptions struct {
	Protocol *Protocol
	// Endpoint overrides Protocol.DefaultEndpoint.
	Endpoint string
	// Trace shapes the generated traces. Its IDs policy is taken from the
	// protocol when nil.
	Trace Options
	// TracesPerBatch is the number of traces in one request.
	TracesPerBatch int
	// Traces is the total number of traces to send; 0 sends until
	// Duration elapses or ctx ends.
	Traces int
	// Duration bounds the run; 0 means no bound besides Traces and ctx.
	Duration time.Duration
	// Rate is the target in spans per second; 0 sends as fast as the
	// receiver answers.
	Rate float64
	// Workers is the number of concurrent requests.
	Workers int
	// Timeout bounds one request.
	Timeout time.Duration
	// Retries is how often a throttled request is sent again (after a
	// short backoff) before its spans count as failed.
	Retries int
	// Gzip compresses every body (when it is encoded, not when it is
	// sent) and says so in Content-Encoding; HTTP protocols only.
	Gzip bool
	// MaxPreencodedBytes bounds the bodies encoded before the clock starts
	// when Traces is set. A run whose bodies would not fit streams instead:
	// an encoder keeps Ahead bodies ready in front of the senders.
	MaxPreencodedBytes int64
	// Ahead is the number of bodies encoded ahead in streaming mode.
	Ahead int
	// Progress, when not nil, gets one line of live figures every
	// ProgressInterval.
	Progress         io.Writer
	ProgressInterval time.Duration
	// TraceIDs, when not nil, gets the id of every trace whose request was
	// accepted, one per line as 32 lowercase hex digits.
	TraceIDs io.Writer
}

// Limits of RunOptions.
const (
	MaxWorkers        = 1024
	MaxTracesPerBatch = 100_000
	MaxAhead          = 100_000
)

func (o *RunOptions) validate() error {
	var errs []error
	if o.Protocol == nil {
		errs = append(errs, errors.New("no protocol"))
	}
	if o.Workers < 1 || o.Workers > MaxWorkers {
		errs = append(errs, fmt.Errorf("workers %d: want 1 to %d", o.Workers, MaxWorkers))
	}
	if o.TracesPerBatch < 1 || o.TracesPerBatch > MaxTracesPerBatch {
		errs = append(errs, fmt.Errorf("traces per batch %d: want 1 to %d", o.TracesPerBatch, MaxTracesPerBatch))
	}
	if o.Ahead < 1 || o.Ahead > MaxAhead {
		errs = append(errs, fmt.Errorf("ahead %d: want 1 to %d", o.Ahead, MaxAhead))
	}
	if o.Traces < 0 || o.Rate < 0 || o.Duration < 0 || o.Retries < 0 {
		errs = append(errs, errors.New("traces, rate, duration and retries must not be negative"))
	}
	if err := o.Trace.Validate(); err != nil {
		errs = append(errs, err)
	}
	if o.Gzip && o.Protocol != nil && !o.Protocol.HTTP {
		errs = append(errs, fmt.Errorf("gzip applies to HTTP protocols, not %s", o.Protocol.Name))
	}
	return errors.Join(errs...)
}

// payload is the encoded request bodies of one batch with what they carry.
// A worker sends the bodies one after the other; the batch counts as sent
// when every body was accepted.
type payload struct {
	bodies [][]byte
	spans  int
	traces []model.TraceID
}

func (p payload) size() int {
	n := 0
	for _, b := range p.bodies {
		n += len(b)
	}
	return n
}

// Run generates and sends traces as configured and returns the summary.
// It returns an error only when the run cannot start (bad options, an
// encoding failure, an endpoint that cannot be dialed); failed requests are
// counted in the summary.
func Run(ctx context.Context, o RunOptions) (*Summary, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Endpoint == "" {
		o.Endpoint = o.Protocol.DefaultEndpoint
	}
	if o.Trace.IDs == nil {
		o.Trace.IDs = o.Protocol.IDs
	}
	g, err := New(o.Trace)
	if err != nil {
		return nil, err
	}
	sender, err := o.Protocol.Dial(o.Endpoint, SenderOptions{Timeout: o.Timeout, Conns: o.Workers, Gzip: o.Gzip})
	if err != nil {
		return nil, err
	}
	defer sender.Close()

	r := &runner{o: o, gen: g, sender: sender, hist: newHistogram()}
	if o.TraceIDs != nil {
		r.ids = bufio.NewWriterSize(o.TraceIDs, 64<<10)
	}
	sum := &Summary{Protocol: o.Protocol.Name, Endpoint: o.Endpoint, Workers: o.Workers, TargetRate: o.Rate, Gzip: o.Gzip}

	source := make(chan payload, o.Ahead)
	var pre []payload
	if o.Traces > 0 {
		encStart := time.Now()
		pre, err = r.preencode(ctx)
		sum.EncodeSeconds = time.Since(encStart).Seconds()
		if err != nil && !errors.Is(err, errTooLarge) {
			return nil, err
		}
		sum.Preencoded = err == nil
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Duration > 0 {
		runCtx, cancel = context.WithTimeout(runCtx, o.Duration)
		defer cancel()
	}

	var wg sync.WaitGroup
	// The producer: pre-encoded bodies, or an encoder running ahead.
	produceErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(source)
		if sum.Preencoded {
			for _, p := range pre {
				select {
				case source <- p:
				case <-runCtx.Done():
					produceErr <- nil
					return
				}
			}
			produceErr <- nil
			return
		}
		produceErr <- r.stream(runCtx, source)
	}()

	r.start = time.Now()
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if o.Progress != nil && o.ProgressInterval > 0 {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
			r.progress(progressDone)
		}()
	}
	for i := 0; i < o.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(runCtx, source)
		}()
	}
	wg.Wait()
	elapsed := time.Since(r.start)
	close(progressDone)
	progressWG.Wait()
	if r.ids != nil {
		if err := r.ids.Flush(); err != nil {
			return nil, fmt.Errorf("write trace ids: %w", err)
		}
	}
	if err := <-produceErr; err != nil {
		return nil, err
	}
	r.fill(sum, elapsed)
	return sum, nil
}

var errTooLarge = errors.New("pre-encoded bodies exceed the limit")

type runner struct {
	o      RunOptions
	gen    *Generator
	sender Sender
	start  time.Time

	// scheduled counts spans handed to workers, for pacing.
	scheduled atomic.Int64

	requests, failed, throttled, retried atomic.Int64
	spans, spansFailed, rejected         atomic.Int64
	traces, bytes                        atomic.Int64
	hist                                 *histogram

	errMu  sync.Mutex
	errors []string

	idMu sync.Mutex
	ids  *bufio.Writer
}

// batch generates the next n traces, the i-th starting at first+i*step,
// and encodes them into one or more bodies (more when the protocol bounds
// body size).
func (r *runner) batch(n int, first time.Time, step time.Duration) ([]payload, error) {
	var spans []*model.Span
	ids := make([]model.TraceID, 0, n)
	for i := 0; i < n; i++ {
		t := r.gen.Trace(first.Add(time.Duration(i) * step))
		ids = append(ids, t[0].TraceID)
		spans = append(spans, t...)
	}
	return r.encode(spans, ids)
}

func (r *runner) encode(spans []*model.Span, ids []model.TraceID) ([]payload, error) {
	bodies, err := r.o.Protocol.Encode(spans)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", r.o.Protocol.Name, err)
	}
	if r.o.Gzip {
		for i, b := range bodies {
			if bodies[i], err = gzipBody(b); err != nil {
				return nil, err
			}
		}
	}
	limit := r.o.Protocol.MaxBodyBytes
	largest := 0
	for _, b := range bodies {
		largest = max(largest, len(b))
	}
	if limit <= 0 || largest <= limit {
		return []payload{{bodies: bodies, spans: len(spans), traces: ids}}, nil
	}
	if len(spans) == 1 {
		return nil, fmt.Errorf("one span encodes to %d bytes, more than the %s limit of %d", largest, r.o.Protocol.Name, limit)
	}
	// Split between whole traces while there are several; a single trace
	// too large for one body is split between spans, and its id goes with
	// its last part.
	var spansA, spansB []*model.Span
	var idsA, idsB []model.TraceID
	if len(ids) > 1 {
		idsA, idsB = ids[:len(ids)/2], ids[len(ids)/2:]
		cut := 0
		for cut < len(spans) && spans[cut].TraceID != idsB[0] {
			cut++
		}
		spansA, spansB = spans[:cut], spans[cut:]
	} else {
		spansA, spansB = spans[:len(spans)/2], spans[len(spans)/2:]
		idsB = ids
	}
	a, err := r.encode(spansA, idsA)
	if err != nil {
		return nil, err
	}
	b, err := r.encode(spansB, idsB)
	if err != nil {
		return nil, err
	}
	return append(a, b...), nil
}

// maxPreencodedSpread bounds how far back in time pre-encoded traces start.
const maxPreencodedSpread = 10 * time.Minute

// preencode encodes every trace of the run. Their start times are spread
// as the run will send them (at the target rate, or 100µs apart) over at
// most maxPreencodedSpread ending now, so that stored traces do not all
// share one timestamp.
func (r *runner) preencode(ctx context.Context) ([]payload, error) {
	var out []payload
	var size int64
	step := 100 * time.Microsecond
	if r.o.Rate > 0 {
		step = time.Duration(float64(r.o.Trace.SpansPerTrace) / r.o.Rate * float64(time.Second))
	}
	step = min(step, maxPreencodedSpread/time.Duration(r.o.Traces))
	next := time.Now().Add(-time.Duration(r.o.Traces) * step)
	for left := r.o.Traces; left > 0; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(left, r.o.TracesPerBatch)
		ps, err := r.batch(n, next, step)
		next = next.Add(time.Duration(n) * step)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			size += int64(p.size())
		}
		if r.o.MaxPreencodedBytes > 0 && size > r.o.MaxPreencodedBytes {
			return nil, errTooLarge
		}
		out = append(out, ps...)
		left -= n
	}
	return out, nil
}

// stream encodes batches ahead of the workers until Traces are made or ctx
// ends.
func (r *runner) stream(ctx context.Context, out chan<- payload) error {
	for made := 0; r.o.Traces == 0 || made < r.o.Traces; {
		n := r.o.TracesPerBatch
		if r.o.Traces > 0 {
			n = min(n, r.o.Traces-made)
		}
		ps, err := r.batch(n, time.Now(), 0)
		if err != nil {
			return err
		}
		for _, p := range ps {
			select {
			case out <- p:
			case <-ctx.Done():
				return nil
			}
		}
		made += n
	}
	return nil
}

func (r *runner) work(ctx context.Context, source <-chan payload) {
	for {
		var p payload
		var ok bool
		select {
		case p, ok = <-source:
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
		if r.o.Rate > 0 {
			before := r.scheduled.Add(int64(p.spans)) - int64(p.spans)
			due := r.start.Add(time.Duration(float64(before) / r.o.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
		}
		r.send(ctx, p)
	}
}

func (r *runner) send(ctx context.Context, p payload) {
	var err error
	for _, body := range p.bodies {
		if err = r.sendBody(ctx, body); err != nil {
			break
		}
	}
	var rej *RejectedError
	switch {
	case err == nil:
	case errors.As(err, &rej):
		r.rejected.Add(rej.Spans)
		r.noteError(err)
	default:
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			// The run ended while this request was in flight: it is
			// neither sent nor failed.
			return
		}
		if errors.Is(err, ErrThrottled) {
			r.throttled.Add(1)
		}
		r.failed.Add(1)
		r.spansFailed.Add(int64(p.spans))
		r.noteError(err)
		return
	}
	r.spans.Add(int64(p.spans))
	r.traces.Add(int64(len(p.traces)))
	r.bytes.Add(int64(p.size()))
	if r.ids != nil {
		r.idMu.Lock()
		var buf [33]byte
		for _, id := range p.traces {
			hexID(buf[:32], id)
			buf[32] = '\n'
			r.ids.Write(buf[:])
		}
		r.idMu.Unlock()
	}
}

// sendBody sends one body, retrying when throttled.
func (r *runner) sendBody(ctx context.Context, body []byte) error {
	for attempt := 0; ; attempt++ {
		begin := time.Now()
		err := r.sender.Send(ctx, body)
		r.hist.observe(time.Since(begin))
		r.requests.Add(1)
		if !errors.Is(err, ErrThrottled) || attempt >= r.o.Retries || ctx.Err() != nil {
			return err
		}
		r.retried.Add(1)
		backoff := time.Duration(50<<min(attempt, 5)) * time.Millisecond
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

func hexID(dst []byte, id model.TraceID) {
	const digits = "0123456789abcdef"
	for i, b := range id {
		dst[2*i] = digits[b>>4]
		dst[2*i+1] = digits[b&15]
	}
}

// maxErrors bounds the distinct error messages a summary keeps.
const maxErrors = 5

func (r *runner) noteError(err error) {
	msg := err.Error()
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if len(r.errors) >= maxErrors {
		return
	}
	for _, e := range r.errors {
		if e == msg {
			return
		}
	}
	r.errors = append(r.errors, msg)
}

func (r *runner) progress(done <-chan struct{}) {
	t := time.NewTicker(r.o.ProgressInterval)
	defer t.Stop()
	var lastSpans, lastFailed int64
	last := r.start
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			spans, failed := r.spans.Load(), r.spansFailed.Load()
			secs := now.Sub(last).Seconds()
			fmt.Fprintf(r.o.Progress, "%6.0fs  %9.0f spans/s  sent %d spans  failed %d spans (+%d)  throttled %d requests  p99 %.1fms\n",
				now.Sub(r.start).Seconds(), float64(spans-lastSpans)/secs, spans, failed, failed-lastFailed,
				r.throttled.Load(), r.hist.quantile(0.99).Seconds()*1000)
			lastSpans, lastFailed, last = spans, failed, now
		}
	}
}

func (r *runner) fill(s *Summary, elapsed time.Duration) {
	s.Seconds = elapsed.Seconds()
	s.Requests = r.requests.Load()
	s.RequestsFailed = r.failed.Load()
	s.RequestsThrottled = r.throttled.Load()
	s.RequestsRetried = r.retried.Load()
	s.Traces = r.traces.Load()
	s.Spans = r.spans.Load()
	s.SpansFailed = r.spansFailed.Load()
	s.SpansRejected = r.rejected.Load()
	s.SpansAccepted = s.Spans - s.SpansRejected
	s.Bytes = r.bytes.Load()
	if secs := elapsed.Seconds(); secs > 0 {
		s.SpansPerSecond = float64(s.Spans) / secs
		s.BytesPerSecond = float64(s.Bytes) / secs
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	s.LatencyMs = Latency{
		P50: ms(r.hist.quantile(0.5)), P90: ms(r.hist.quantile(0.9)),
		P99: ms(r.hist.quantile(0.99)), Max: ms(r.hist.max()),
	}
	r.errMu.Lock()
	s.Errors = append([]string(nil), r.errors...)
	r.errMu.Unlock()
}

func gzipBody(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
