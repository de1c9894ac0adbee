package gen

import (
	"errors"
	"testing"
)

// FuzzCheckPartial feeds arbitrary export responses, as an OTLP server (or
// anything listening on its port) may answer, to the response decoder: it
// must return an error or nil, never panic, and report rejected spans only
// when there are some.
func FuzzCheckPartial(f *testing.F) {
	f.Add([]byte{}, false)
	f.Add([]byte(`{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}`), true)
	f.Add([]byte(`{}`), true)
	// ExportTraceServiceResponse{partial_success{rejected_spans: 2, error_message: "x"}}
	f.Add([]byte{0x0a, 0x05, 0x08, 0x02, 0x12, 0x01, 'x'}, false)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		err := checkPartial(body, json)
		var rej *RejectedError
		if errors.As(err, &rej) && rej.Spans <= 0 {
			t.Fatalf("rejected %d spans", rej.Spans)
		}
	})
}

func TestCheckPartial(t *testing.T) {
	f := func(body string, json bool, want int64, wantErr bool) {
		t.Helper()
		err := checkPartial([]byte(body), json)
		var rej *RejectedError
		switch {
		case errors.As(err, &rej):
			if rej.Spans != want {
				t.Errorf("%q: %d rejected, want %d", body, rej.Spans, want)
			}
		case want != 0 || (err != nil) != wantErr:
			t.Errorf("%q: err %v, want %d rejected", body, err, want)
		}
	}
	f("", false, 0, false)
	f(`{}`, true, 0, false)
	f(`{"partialSuccess":{"rejectedSpans":"3","errorMessage":"too old"}}`, true, 3, false)
	f("\x0a\x05\x08\x02\x12\x01x", false, 2, false)
	f(`{"partialSuccess":`, true, 0, true)
	f("\xff\xff", false, 0, true)
}
