package gen_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/receiver/datadog"
)

func TestDatadog(t *testing.T) {
	b := newBackend(t)
	mux := http.NewServeMux()
	datadog.NewHandler(b.pipe, 16<<20, "test", b.log).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	sendAndVerify(t, b, "datadog", srv.URL+"/v0.4/traces", 40, func(o *gen.RunOptions) { o.Gzip = true })

	// Errors arrive as error spans with their exception event.
	traces, err := b.store.FindTraces(context.Background(), storeQuery(map[string]string{"error": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tr := range traces {
		for _, sp := range tr.Spans {
			if sp.Status.Code != model.StatusError {
				continue
			}
			for _, e := range sp.Events {
				if v, _ := e.Attributes.Get("exception.type"); e.Name == "exception" && v.Str() == "TimeoutError" {
					found = true
				}
			}
		}
	}
	if !found {
		t.Error("no error span with a TimeoutError exception event")
	}
}
