package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type fakeComp struct {
	name     string
	failWith error
	log      *[]string
}

func (c *fakeComp) Name() string { return c.name }
func (c *fakeComp) Start(ctx context.Context) error {
	*c.log = append(*c.log, "start "+c.name)
	return c.failWith
}
func (c *fakeComp) Shutdown(ctx context.Context) error {
	*c.log = append(*c.log, "stop "+c.name)
	return nil
}

func TestGroupOrder(t *testing.T) {
	var log []string
	g := NewGroup(slog.New(slog.DiscardHandler))
	if err := g.Start(context.Background(), &fakeComp{name: "a", log: &log}, &fakeComp{name: "b", log: &log}); err != nil {
		t.Fatal(err)
	}
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log, ","); got != "start a,start b,stop b,stop a" {
		t.Errorf("order %s", got)
	}
}

func TestGroupStartFailureStopsStarted(t *testing.T) {
	var log []string
	g := NewGroup(slog.New(slog.DiscardHandler))
	err := g.Start(context.Background(), &fakeComp{name: "a", log: &log}, &fakeComp{name: "b", failWith: errors.New("port taken"), log: &log}, &fakeComp{name: "c", log: &log})
	if err == nil || !strings.Contains(err.Error(), "start b: port taken") {
		t.Fatalf("err %v", err)
	}
	if got := strings.Join(log, ","); got != "start a,start b,stop a" {
		t.Errorf("order %s", got)
	}
}

func TestHTTPMetricsAndPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewHTTPMetrics(reg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) { panic("bug") })
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	h := m.Wrap("test", slog.New(slog.DiscardHandler), mux)
	for _, p := range []string{"/ok", "/ok", "/boom", "/nothing"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if p == "/boom" && rec.Code != 500 {
			t.Errorf("panic answered %d", rec.Code)
		}
	}
	if n := testutil.CollectAndCount(m.duration); n != 3 {
		t.Errorf("%d series, want 3 (ok/200, boom/500, unmatched/404)", n)
	}
}

func TestHealth(t *testing.T) {
	var h Health
	mux := http.NewServeMux()
	h.Register(mux)
	get := func(p string) int {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		return rec.Code
	}
	if get("/healthz") != 200 || get("/readyz") != 503 {
		t.Error("before ready")
	}
	h.SetReady(true)
	if get("/readyz") != 200 {
		t.Error("after ready")
	}
}
