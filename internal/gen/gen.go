// Package gen generates realistic synthetic traces and sends them to a
// tracing backend over its wire protocols, for benchmarks and receiver
// tests. It is the library behind `clew gen`.
//
// A Generator builds traces in the internal model; a Protocol encodes
// batches of them into ready request bodies before the clock starts (or ahead
// of the senders), so that a run measures the receiver, not the generator.
package gen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/clew-dev/clew/internal/model"
)

// Options shape the generated traces.
type Options struct {
	// Services is the number of distinct services (service.name).
	Services int
	// Operations is the number of distinct operations per service.
	Operations int
	// SpansPerTrace is the number of spans in each trace.
	SpansPerTrace int
	// Depth is the deepest level of the span tree below the root (1: the
	// root's children have none). A call to another service takes two
	// levels: the caller's client span and the callee's server span.
	Depth int
	// Attributes is the number of extra attributes per span, beside the
	// semantic-convention ones every span carries.
	Attributes int
	// Events is the number of span events per span.
	Events int
	// ErrorRatio is the probability that a span fails (status error, an
	// exception event, and a 5xx status code on HTTP spans).
	ErrorRatio float64
	// Cardinality is the number of distinct values each extra attribute
	// takes.
	Cardinality int
	// Seed makes the generated traces reproducible.
	Seed uint64
	// IDs shapes trace ids for protocols that constrain them; nil means
	// 128 random bits.
	IDs IDPolicy
}

// IDPolicy fills a trace id for a trace starting at start.
type IDPolicy func(rng *rand.Rand, start time.Time) model.TraceID

// DefaultOptions returns a moderate shape: 5 services, 10 operations each,
// 10 spans per trace, depth 4, 5 extra attributes, 1 event, 1% errors.
func DefaultOptions() Options {
	return Options{
		Services:      5,
		Operations:    10,
		SpansPerTrace: 10,
		Depth:         4,
		Attributes:    5,
		Events:        1,
		ErrorRatio:    0.01,
		Cardinality:   100,
		Seed:          1,
	}
}

// Limits of Options, so that a typo cannot exhaust memory.
const (
	MaxServices      = 10_000
	MaxOperations    = 10_000
	MaxSpansPerTrace = 100_000
	MaxDepth         = 1_000
	MaxAttributes    = 1_000
	MaxEvents        = 1_000
)

// Validate reports every option that is out of range, joined.
func (o Options) Validate() error {
	var errs []error
	check := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s %d: want %d to %d", name, v, lo, hi))
		}
	}
	check("services", o.Services, 1, MaxServices)
	check("operations", o.Operations, 1, MaxOperations)
	check("spans per trace", o.SpansPerTrace, 1, MaxSpansPerTrace)
	check("depth", o.Depth, 1, MaxDepth)
	check("attributes", o.Attributes, 0, MaxAttributes)
	check("events", o.Events, 0, MaxEvents)
	check("cardinality", o.Cardinality, 1, 1<<30)
	if o.ErrorRatio < 0 || o.ErrorRatio > 1 {
		errs = append(errs, fmt.Errorf("error ratio %g: want 0 to 1", o.ErrorRatio))
	}
	return errors.Join(errs...)
}

// Generator builds traces. It is not safe for concurrent use; give each
// goroutine its own (with its own seed).
type Generator struct {
	o         Options
	rng       *rand.Rand
	services  []*model.Resource
	scope     *model.Scope
	ops       [][]operation // per service
	attrKeys  []string
	attrVals  []model.Value // Cardinality values shared by every extra key
	eventName []string
	depth     []int  // scratch: depth of each span of the current trace
	svcOf     []int  // scratch: service index of each span
	closed    []bool // scratch: spans that take no more children (client calls)
}

type operation struct {
	name  string
	route string
	kind  model.SpanKind
	db    bool
}

var serviceNames = []string{
	"frontend", "checkout", "cart", "catalog", "payment", "shipping",
	"inventory", "recommendation", "currency", "email", "ad", "user",
	"search", "review", "pricing", "fraud", "ledger", "notification",
}

var resources = []string{"orders", "users", "items", "carts", "payments", "sessions", "products", "quotes", "reviews", "accounts"}

// New returns a Generator for valid options.
func New(o Options) (*Generator, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{
		o:     o,
		rng:   rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)),
		scope: &model.Scope{Name: "github.com/clew-dev/clew/internal/gen", Version: "1"},
	}
	for i := 0; i < o.Services; i++ {
		name := serviceNames[i%len(serviceNames)]
		if i >= len(serviceNames) {
			name += "-" + strconv.Itoa(i/len(serviceNames))
		}
		g.services = append(g.services, &model.Resource{Attributes: model.Attributes{
			{Key: "service.name", Value: model.StringValue(name)},
			{Key: "service.version", Value: model.StringValue("1." + strconv.Itoa(i%7) + ".0")},
			{Key: "service.instance.id", Value: model.StringValue(name + "-" + strconv.Itoa(i))},
			{Key: "host.name", Value: model.StringValue("node-" + strconv.Itoa(i%3))},
			{Key: "deployment.environment.name", Value: model.StringValue("bench")},
			{Key: "telemetry.sdk.name", Value: model.StringValue("clew-gen")},
			{Key: "telemetry.sdk.language", Value: model.StringValue("go")},
		}})
		ops := make([]operation, o.Operations)
		for j := range ops {
			res := resources[(i+j)%len(resources)]
			switch j % 4 {
			case 0, 1:
				method := "GET"
				if j%4 == 1 {
					method = "POST"
				}
				route := "/api/" + res
				if j >= 4 {
					route += "/v" + strconv.Itoa(j/4)
				}
				ops[j] = operation{name: method + " " + route, route: route, kind: model.SpanKindServer}
			case 2:
				ops[j] = operation{name: "SELECT " + res, kind: model.SpanKindClient, db: true}
			default:
				ops[j] = operation{name: "compute-" + res + "-" + strconv.Itoa(j), kind: model.SpanKindInternal}
			}
		}
		g.ops = append(g.ops, ops)
	}
	for i := 0; i < o.Attributes; i++ {
		g.attrKeys = append(g.attrKeys, "app.attr."+strconv.Itoa(i))
	}
	n := min(o.Cardinality, 1<<16) // values beyond are formatted on the fly
	for i := 0; i < n; i++ {
		g.attrVals = append(g.attrVals, model.StringValue("value-"+strconv.Itoa(i)))
	}
	for i := 0; i < o.Events; i++ {
		g.eventName = append(g.eventName, "event-"+strconv.Itoa(i))
	}
	return g, nil
}

// Batches returns the spans of n new traces, the i-th starting at
// first + i*step, in batches of whole traces of at least per spans each
// (the last may hold fewer): the load as a sender of batches of traces
// makes it. per <= 0 gives one batch.
func (g *Generator) Batches(n, per int, first time.Time, step time.Duration) [][]*model.Span {
	var batches [][]*model.Span
	var cur []*model.Span
	for i := 0; i < n; i++ {
		cur = append(cur, g.Trace(first.Add(time.Duration(i)*step))...)
		if per > 0 && len(cur) >= per {
			batches = append(batches, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches
}

// Trace returns the spans of one new trace starting at start, root first,
// every parent before its children. A call to another service is a client
// span in the caller's service with the callee's server span as its child,
// as instrumented services produce them. Every span's Resource and Scope
// are shared with other traces of the same generator and must not be
// modified.
func (g *Generator) Trace(start time.Time) []*model.Span {
	o := g.o
	n := o.SpansPerTrace
	var tid model.TraceID
	if o.IDs != nil {
		tid = o.IDs(g.rng, start)
	} else {
		putUint64(tid[:8], g.rng.Uint64())
		putUint64(tid[8:], g.rng.Uint64()|1)
	}
	spans := make([]*model.Span, 0, n)
	g.depth = g.depth[:0]
	g.svcOf = g.svcOf[:0]
	g.closed = g.closed[:0]
	add := func(parent *model.Span, svc, depth int) *model.Span {
		sp := &model.Span{Resource: g.services[svc], Scope: g.scope, TraceID: tid, Flags: 1}
		putUint64(sp.SpanID[:], g.rng.Uint64()|1)
		if parent != nil {
			sp.ParentSpanID = parent.SpanID
		}
		spans = append(spans, sp)
		g.depth = append(g.depth, depth)
		g.svcOf = append(g.svcOf, svc)
		g.closed = append(g.closed, false)
		return sp
	}

	// The root spans the trace's duration; children nest in their
	// parent's interval.
	root := add(nil, 0, 0)
	root.StartTimeUnixNano = uint64(start.UnixNano())
	root.EndTimeUnixNano = root.StartTimeUnixNano + uint64(time.Duration(5+g.rng.IntN(500))*time.Millisecond)
	g.fillServer(root, g.serverOp(0), g.fails())
	for len(spans) < n {
		p := g.pickParent(len(spans))
		parent, depth := spans[p], g.depth[p]
		svc := g.svcOf[p]
		// Half the children call another service, when the tree has room
		// for a client and a server span.
		if g.rng.IntN(2) == 0 && o.Services > 1 && len(spans)+2 <= n && depth+2 <= o.Depth {
			callee := g.rng.IntN(o.Services - 1)
			if callee >= svc {
				callee++
			}
			client := add(parent, svc, depth+1)
			g.closed[len(spans)-1] = true // its one child is the server span
			g.nest(client, parent)
			server := add(client, callee, depth+2)
			// The server's work sits inside the client's wait.
			d := client.EndTimeUnixNano - client.StartTimeUnixNano
			server.StartTimeUnixNano = client.StartTimeUnixNano + d/20
			server.EndTimeUnixNano = client.EndTimeUnixNano - d/20
			op, failed := g.serverOp(callee), g.fails()
			g.fillServer(server, op, failed)
			g.fillClient(client, op, server, failed)
			continue
		}
		sp := add(parent, svc, depth+1)
		g.nest(sp, parent)
		g.fillLocal(sp, svc, g.fails())
	}
	return spans
}

// nest places sp at a random time within parent.
func (g *Generator) nest(sp, parent *model.Span) {
	span := parent.EndTimeUnixNano - parent.StartTimeUnixNano
	off := uint64(g.rng.Int64N(int64(span/2 + 1)))
	dur := uint64(g.rng.Int64N(int64(span-off)/2+1)) + 1000
	sp.StartTimeUnixNano = parent.StartTimeUnixNano + off
	sp.EndTimeUnixNano = min(sp.StartTimeUnixNano+dur, parent.EndTimeUnixNano)
}

// fails draws whether a span fails.
func (g *Generator) fails() bool {
	return g.o.ErrorRatio > 0 && g.rng.Float64() < g.o.ErrorRatio
}

// serverOp picks one of a service's HTTP routes.
func (g *Generator) serverOp(svc int) operation {
	ops := g.ops[svc]
	if len(ops) > 1 && g.rng.IntN(2) == 0 {
		return ops[1]
	}
	return ops[0]
}

// pickParent chooses the parent of span i among spans 0..i-1 that take
// children and whose depth allows one. The root always qualifies.
func (g *Generator) pickParent(i int) int {
	ok := func(p int) bool { return !g.closed[p] && g.depth[p] < g.o.Depth }
	for tries := 0; tries < 8; tries++ {
		if p := g.rng.IntN(i); ok(p) {
			return p
		}
	}
	for p := i - 1; p > 0; p-- {
		if ok(p) {
			return p
		}
	}
	return 0
}

// fillServer makes sp the server span of an HTTP route.
func (g *Generator) fillServer(sp *model.Span, op operation, failed bool) {
	sp.Name, sp.Kind = op.name, model.SpanKindServer
	method, route, _ := cutSpace(op.name)
	attrs := make(model.Attributes, 0, 6+len(g.attrKeys))
	attrs = append(attrs,
		model.KeyValue{Key: "http.request.method", Value: model.StringValue(method)},
		model.KeyValue{Key: "http.route", Value: model.StringValue(route)},
		model.KeyValue{Key: "url.path", Value: model.StringValue(route)},
		model.KeyValue{Key: "http.response.status_code", Value: model.IntValue(statusCode(sp, failed))},
		model.KeyValue{Key: "server.address", Value: model.StringValue(sp.ServiceName())},
		model.KeyValue{Key: "user.id", Value: g.value(g.rng.IntN(1000))},
	)
	g.finish(sp, attrs, failed)
}

// fillClient makes sp the client span of a call to server.
func (g *Generator) fillClient(sp *model.Span, op operation, server *model.Span, failed bool) {
	sp.Name, sp.Kind = op.name, model.SpanKindClient
	method, route, _ := cutSpace(op.name)
	host := server.ServiceName()
	attrs := make(model.Attributes, 0, 5+len(g.attrKeys))
	attrs = append(attrs,
		model.KeyValue{Key: "http.request.method", Value: model.StringValue(method)},
		model.KeyValue{Key: "url.full", Value: model.StringValue("http://" + host + ":8080" + route)},
		model.KeyValue{Key: "server.address", Value: model.StringValue(host)},
		model.KeyValue{Key: "server.port", Value: model.IntValue(8080)},
		model.KeyValue{Key: "http.response.status_code", Value: model.IntValue(statusCode(server, failed))},
	)
	g.finish(sp, attrs, failed)
}

// statusCode is the HTTP status a server span answers with: 5xx when it
// failed (derived from its span id, so client and server agree).
func statusCode(server *model.Span, failed bool) int64 {
	if failed {
		return 500 + int64(server.SpanID[7]%4)
	}
	return 200
}

// fillLocal makes sp a database call or internal work of its service.
func (g *Generator) fillLocal(sp *model.Span, svc int, failed bool) {
	ops := g.ops[svc]
	op := ops[g.rng.IntN(len(ops))]
	if len(ops) > 2 {
		op = ops[2+g.rng.IntN(len(ops)-2)]
	}
	attrs := make(model.Attributes, 0, 5+len(g.attrKeys))
	switch {
	case op.db:
		sp.Name, sp.Kind = op.name, model.SpanKindClient
		table := op.name[len("SELECT "):]
		attrs = append(attrs,
			model.KeyValue{Key: "db.system.name", Value: model.StringValue("postgresql")},
			model.KeyValue{Key: "db.collection.name", Value: model.StringValue(table)},
			model.KeyValue{Key: "db.operation.name", Value: model.StringValue("SELECT")},
			model.KeyValue{Key: "db.query.text", Value: model.StringValue("SELECT * FROM " + table + " WHERE id = $1")},
			model.KeyValue{Key: "server.address", Value: model.StringValue("db-" + table)},
		)
	case op.kind == model.SpanKindServer:
		// A service with only HTTP routes: internal work named after one.
		sp.Name, sp.Kind = "handle "+op.name, model.SpanKindInternal
		attrs = append(attrs, model.KeyValue{Key: "code.function.name", Value: model.StringValue(sp.Name)})
	default:
		sp.Name, sp.Kind = op.name, model.SpanKindInternal
		attrs = append(attrs, model.KeyValue{Key: "code.function.name", Value: model.StringValue(op.name)})
	}
	g.finish(sp, attrs, failed)
}

// finish adds the extra attributes, the events and, for a failed span, the
// error status and exception event.
func (g *Generator) finish(sp *model.Span, attrs model.Attributes, failed bool) {
	for _, k := range g.attrKeys {
		attrs = append(attrs, model.KeyValue{Key: k, Value: g.value(g.rng.IntN(g.o.Cardinality))})
	}
	sp.Attributes = attrs
	if len(g.eventName) > 0 {
		sp.Events = make([]model.Event, 0, len(g.eventName)+1)
		dur := sp.EndTimeUnixNano - sp.StartTimeUnixNano
		for i, name := range g.eventName {
			sp.Events = append(sp.Events, model.Event{
				TimeUnixNano: sp.StartTimeUnixNano + dur*uint64(i+1)/uint64(len(g.eventName)+1),
				Name:         name,
				Attributes:   model.Attributes{{Key: "event.seq", Value: model.IntValue(int64(i))}},
			})
		}
	}
	if failed {
		sp.Status = model.Status{Code: model.StatusError, Message: "internal error"}
		sp.Events = append(sp.Events, model.Event{
			TimeUnixNano: sp.EndTimeUnixNano,
			Name:         "exception",
			Attributes: model.Attributes{
				{Key: "exception.type", Value: model.StringValue("TimeoutError")},
				{Key: "exception.message", Value: model.StringValue("upstream timed out")},
			},
		})
	}
}

// value returns the i-th value of an attribute's domain.
func (g *Generator) value(i int) model.Value {
	if i < len(g.attrVals) {
		return g.attrVals[i]
	}
	return model.StringValue("value-" + strconv.Itoa(i))
}

func cutSpace(s string) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func putUint64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

// ID64 is an IDPolicy for protocols with 64-bit trace ids (Datadog): the
// high half is zero, as receivers pad those ids.
func ID64(rng *rand.Rand, _ time.Time) model.TraceID {
	var id model.TraceID
	putUint64(id[8:], rng.Uint64()|1)
	return id
}

// IDXRay is an IDPolicy for AWS X-Ray, whose trace ids begin with the epoch
// second of the trace's start.
func IDXRay(rng *rand.Rand, start time.Time) model.TraceID {
	var id model.TraceID
	sec := uint32(start.Unix())
	id[0], id[1], id[2], id[3] = byte(sec>>24), byte(sec>>16), byte(sec>>8), byte(sec)
	putUint64(id[4:12], rng.Uint64())
	r := rng.Uint32() | 1
	id[12], id[13], id[14], id[15] = byte(r>>24), byte(r>>16), byte(r>>8), byte(r)
	return id
}
