package demo

import (
	"encoding/json"
	"hash/fnv"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// tasterService scores one beer-and-donut pairing: GET /taste?beer=&donut=.
// Tasting is slow (tens of milliseconds), which is what makes calling it
// once per candidate, one after the other, expensive.
type tasterService struct{ tel *telemetry }

func newTaster(tel *telemetry) *tasterService { return &tasterService{tel: tel} }

func (t *tasterService) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /taste", t.taste)
	return t.tel.handler(mux)
}

// tasteScore is deterministic, so that the same pairing always wins.
func tasteScore(beer, donut string) int {
	h := fnv.New32a()
	h.Write([]byte(beer + "+" + donut))
	return int(h.Sum32() % 100)
}

func (t *tasterService) taste(w http.ResponseWriter, r *http.Request) {
	beer, donut := r.URL.Query().Get("beer"), r.URL.Query().Get("donut")
	if beer == "" || donut == "" {
		http.Error(w, "beer and donut are required", http.StatusBadRequest)
		return
	}
	ctx, span := t.tel.tracer.Start(r.Context(), "taste pairing", trace.WithAttributes(
		attribute.String("beer.name", beer),
		attribute.String("donut.name", donut),
	))
	defer span.End()
	score := tasteScore(beer, donut)
	span.AddEvent("sip", trace.WithAttributes(attribute.String("beer.name", beer)))
	if err := sleep(ctx, time.Duration(40+score%40)*time.Millisecond); err != nil {
		fail(span, err)
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	span.AddEvent("bite", trace.WithAttributes(attribute.String("donut.name", donut)))
	span.SetAttributes(attribute.Int("taste.score", score))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"beer": beer, "donut": donut, "score": score})
}
