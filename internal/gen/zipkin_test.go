package gen_test

import (
	"net/http/httptest"
	"testing"

	"github.com/clew-dev/clew/internal/gen"
	"github.com/clew-dev/clew/internal/receiver/zipkin"
)

func TestZipkin(t *testing.T) {
	for _, protocol := range []string{"zipkin", "zipkin-proto"} {
		t.Run(protocol, func(t *testing.T) {
			b := newBackend(t)
			srv := httptest.NewServer(zipkin.NewHandler(zipkin.Options{Consumer: b.pipe, MaxRequestBytes: 16 << 20, Logger: b.log}))
			t.Cleanup(srv.Close)
			sendAndVerify(t, b, protocol, srv.URL+"/api/v2/spans", 40, func(o *gen.RunOptions) { o.Gzip = protocol == "zipkin" })
		})
	}
}
