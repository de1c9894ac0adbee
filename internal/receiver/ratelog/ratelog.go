// Package ratelog logs bad input from receivers at a bounded rate: a client
// sending garbage thousands of times a second must not flood the log, yet an
// operator must learn that it happens and why. Every event is also counted by
// the caller in /metrics; the log only carries examples.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limiter logs at most one message per interval and reports how many were
// suppressed in between. It is safe for concurrent use.
type Limiter struct {
	log      *slog.Logger
	level    slog.Level
	interval time.Duration
	now      func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// New returns a limiter writing to log at level, at most once per interval
// (at least one second apart when interval is zero or negative).
func New(log *slog.Logger, level slog.Level, interval time.Duration) *Limiter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = time.Second
	}
	return &Limiter{log: log, level: level, interval: interval, now: time.Now}
}

// Log writes msg with args unless a message was written less than the
// interval ago, in which case it only counts it. A written message carries
// the number of messages suppressed since the previous one.
func (l *Limiter) Log(msg string, args ...any) {
	now := l.now()
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.suppressed = 0
	l.last = now
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed_since_last", suppressed)
	}
	l.log.Log(context.Background(), l.level, msg, args...)
}
