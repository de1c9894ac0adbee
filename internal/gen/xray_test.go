package gen_test

import (
	"context"
	"testing"

	"github.com/clew-dev/clew/internal/receiver/xray"
)

func TestXRay(t *testing.T) {
	b := newBackend(t)
	r := xray.New(xray.Options{UDPAddr: "127.0.0.1:0", Consumer: b.pipe, Logger: b.log})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Shutdown(context.Background()) })
	// UDP has no back-pressure: pace the datagrams so that a loaded
	// machine's socket buffer does not overflow.
	sendAndVerify(t, b, "xray", r.UDPAddr(), 40, paced)
}
