package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), slog.LevelWarn, time.Minute)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }

	l.Log("bad datagram", "n", 1)
	l.Log("bad datagram", "n", 2)
	l.Log("bad datagram", "n", 3)
	if got := strings.Count(buf.String(), "bad datagram"); got != 1 {
		t.Fatalf("logged %d times within the interval, want 1:\n%s", got, buf.String())
	}
	now = now.Add(time.Minute)
	l.Log("bad datagram", "n", 4)
	out := buf.String()
	if got := strings.Count(out, "bad datagram"); got != 2 {
		t.Fatalf("logged %d times after the interval, want 2:\n%s", got, out)
	}
	if !strings.Contains(out, "n=4 suppressed_since_last=2") {
		t.Errorf("second message does not report 2 suppressed:\n%s", out)
	}
	if !strings.Contains(out, "level=WARN") {
		t.Errorf("not logged at warn level:\n%s", out)
	}
}
