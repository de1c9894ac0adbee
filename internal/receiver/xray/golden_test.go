package xray

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clew-dev/clew/internal/model"
	"github.com/clew-dev/clew/internal/receiver/receivertest"
)

// Scenarios: datagrams in testdata/ fed in order, then whatever is still
// held is stored. sdk_* are real captures of aws-xray-sdk-go
// (capture_test.go); the others are hand-written from the X-Ray segment
// document reference, for what the Go SDK does not send.
var scenarios = []struct {
	name  string
	files []string
}{
	{"sdk_embedded", []string{"sdk_embedded_1.datagram"}},
	// Two subsegments streamed before their segment: held, then given the
	// segment's service when it arrives.
	{"sdk_streamed", []string{"sdk_streamed_1.datagram", "sdk_streamed_2.datagram", "sdk_streamed_3.datagram"}},
	// An in-progress segment replaced by its completed version.
	{"inprogress", []string{"inprogress_1.datagram", "inprogress_2.datagram"}},
	{"aws_resources", []string{"aws_resources.datagram"}},
}

// runScenario processes datagrams as the receiver's workers do.
func runScenario(t *testing.T, files []string) []*model.Span {
	t.Helper()
	tr := newTranslator(0)
	h := newHolder(tr, 100, time.Minute)
	now := time.Unix(1800000000, 0)
	var out []*model.Span
	for _, f := range files {
		d, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := splitDatagram(d)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		seg, err := parseSegment(doc)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tdoc, orphanOf := tr.translate(seg)
		out = append(out, h.add(tdoc, orphanOf, now)...)
	}
	if h.len() != 0 {
		t.Errorf("%d documents still held after the scenario", h.len())
	}
	return append(out, h.expire(now, true)...)
}

func TestGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			spans := runScenario(t, sc.files)
			receivertest.Golden(t, filepath.Join("testdata", sc.name+".golden.json"), spans)
		})
	}
}
