package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The queue between the orders service and its worker.
const (
	queueName = "orders"
	// queueCapacity bounds the messages waiting; a full queue makes the
	// orders service answer 503.
	queueCapacity = 64
	maxOrderBytes = 16 << 10
	maxOrderItems = 50
)

// Order is what a client posts to the orders service.
type Order struct {
	User  string      `json:"user"`
	Items []OrderItem `json:"items"`
}

// OrderItem is one line of an order.
type OrderItem struct {
	Donut    string `json:"donut"`
	Quantity int    `json:"quantity"`
}

// message is one queued order with the producer's trace context in its
// headers, as a real broker carries it.
type message struct {
	id      string
	headers map[string]string
	order   Order
}

// ordersService takes orders (POST /orders) and publishes them to the
// queue.
type ordersService struct {
	tel   *telemetry
	auth  *authClient
	queue chan<- message
	seq   atomic.Int64

	mu     sync.RWMutex // guards closed against sends
	closed bool
}

func newOrdersService(tel *telemetry, auth *authClient, queue chan<- message) *ordersService {
	return &ordersService{tel: tel, auth: auth, queue: queue}
}

func (o *ordersService) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", o.post)
	return o.tel.handler(mux)
}

func (o *ordersService) post(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	server := trace.SpanFromContext(ctx)
	if !o.auth.authorize(w, r) {
		return
	}
	var order Order
	if err := json.NewDecoder(io.LimitReader(r.Body, maxOrderBytes)).Decode(&order); err != nil {
		http.Error(w, "bad order: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(order.Items) == 0 || len(order.Items) > maxOrderItems {
		http.Error(w, fmt.Sprintf("an order has 1 to %d items", maxOrderItems), http.StatusBadRequest)
		return
	}
	id := "ord-" + strconv.FormatInt(o.seq.Add(1), 10)
	server.SetAttributes(attribute.String("order.id", id), attribute.String("user.id", order.User))

	ctx, span := o.tel.tracer.Start(ctx, "publish "+queueName, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attribute.String("messaging.system", "clew-demo-queue"),
		attribute.String("messaging.destination.name", queueName),
		attribute.String("messaging.operation", "publish"),
		attribute.String("messaging.operation.type", "send"),
		attribute.String("messaging.message.id", id),
		attribute.Int("order.items", len(order.Items)),
		attribute.String("order.id", id),
		attribute.String("user.id", order.User),
	))
	msg := message{id: id, headers: map[string]string{}, order: order}
	o.tel.prop.Inject(ctx, propagation.MapCarrier(msg.headers))
	err := o.publish(msg)
	if err != nil {
		fail(span, err)
	}
	span.End()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"order": id})
}

var errQueueFull = errors.New("order queue is full")

// close closes the queue; a publish that comes later fails instead of
// sending on a closed channel.
func (o *ordersService) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closed {
		o.closed = true
		close(o.queue)
	}
}

func (o *ordersService) publish(m message) error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	if o.closed {
		return errors.New("order queue is closed")
	}
	select {
	case o.queue <- m:
		return nil
	default:
		return errQueueFull
	}
}

// ValidationError is what the worker records when an order line cannot be
// written.
type ValidationError struct {
	Order, Donut string
	Quantity     int
}

func (e *ValidationError) Error() string {
	if e.Quantity <= 0 {
		return fmt.Sprintf("order %s: quantity of %s must be positive, got %d", e.Order, e.Donut, e.Quantity)
	}
	return fmt.Sprintf("order %s: unknown donut %q", e.Order, e.Donut)
}

// worker consumes the queue and writes orders to its database. Each message
// starts a new trace whose consumer span links to the producer span.
type worker struct {
	tel   *telemetry
	db    *sqlDB
	queue chan message
	done  chan struct{}
}

func newWorker(ctx context.Context, tel *telemetry) (*worker, error) {
	db, err := openSQL("orders", tel.tracer)
	if err != nil {
		return nil, err
	}
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE order_items (order_id TEXT NOT NULL, user_id TEXT NOT NULL, donut TEXT NOT NULL, quantity INTEGER NOT NULL)`); err != nil {
		db.close()
		return nil, fmt.Errorf("create order_items: %w", err)
	}
	return &worker{tel: tel, db: db, queue: make(chan message, queueCapacity), done: make(chan struct{})}, nil
}

func (w *worker) start() {
	go func() {
		defer close(w.done)
		for m := range w.queue {
			w.process(m)
		}
	}()
}

// wait waits until the worker has drained the closed queue, then closes the
// database.
func (w *worker) wait() {
	<-w.done
	w.db.close()
}

func (w *worker) process(m message) {
	producer := trace.SpanContextFromContext(w.tel.prop.Extract(context.Background(), propagation.MapCarrier(m.headers)))
	ctx, span := w.tel.tracer.Start(context.Background(), "process "+queueName,
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(trace.Link{SpanContext: producer, Attributes: []attribute.KeyValue{
			attribute.String("messaging.operation", "publish"),
		}}),
		trace.WithAttributes(
			attribute.String("messaging.system", "clew-demo-queue"),
			attribute.String("messaging.destination.name", queueName),
			attribute.String("messaging.operation", "process"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.message.id", m.id),
			attribute.String("order.id", m.id),
			attribute.String("user.id", m.order.User),
			attribute.Int("order.items", len(m.order.Items)),
		))
	defer span.End()
	// The lines are written in one transaction: a bad line rolls back the
	// ones before it.
	tx, err := w.db.begin(ctx)
	if err != nil {
		fail(span, err)
		return
	}
	for _, item := range m.order.Items {
		err := error(nil)
		if item.Quantity <= 0 || !slices.Contains(donuts, item.Donut) {
			err = &ValidationError{Order: m.id, Donut: item.Donut, Quantity: item.Quantity}
			span.AddEvent("item rejected", trace.WithAttributes(attribute.String("donut.name", item.Donut)))
		} else {
			_, err = tx.exec(ctx, "order_items", "INSERT INTO order_items (order_id, user_id, donut, quantity) VALUES (?, ?, ?, ?)",
				m.id, m.order.User, item.Donut, item.Quantity)
		}
		if err != nil {
			fail(span, err)
			tx.rollback(ctx)
			return
		}
	}
	if err := tx.commit(ctx); err != nil {
		fail(span, err)
		return
	}
	span.AddEvent("order stored")
}
