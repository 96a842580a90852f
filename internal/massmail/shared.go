package massmail

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/kakunin/kakunin/internal/store"
)

// SharedLimiter is a Limiter whose budget is a row in the database, so that
// every replica draws on the same one: --notify-rate N is N in total, not N
// per replica (an SMTP relay's limit, or a provider's, is per account).
// Rates of one a second or more are counted per second; slower ones as one
// message per window of 1/rate seconds.
type SharedLimiter struct {
	db     *store.DB
	name   string
	limit  int
	window time.Duration
}

// NewSharedLimiter returns a shared throttle of perSecond messages a second
// named name; nil (no throttle) when perSecond is 0 or less.
func NewSharedLimiter(db *store.DB, name string, perSecond float64) Limiter {
	if perSecond <= 0 {
		return nil
	}
	l := &SharedLimiter{db: db, name: name, limit: int(math.Round(perSecond)), window: time.Second}
	if perSecond < 1 {
		l.limit, l.window = 1, time.Duration(math.Round(1/perSecond))*time.Second
	}
	return l
}

// Burst is the most one WaitN may ask for: one window's budget.
func (l *SharedLimiter) Burst() int { return l.limit }

// WaitN blocks until n sends are granted from the shared budget, trying
// again at each window's start (a few milliseconds after, so that replicas
// whose clocks differ slightly from the database's do not spin).
func (l *SharedLimiter) WaitN(ctx context.Context, n int) error {
	if n > l.limit {
		return fmt.Errorf("massmail: %d messages at once exceed the throttle's %d a window", n, l.limit)
	}
	for {
		ok, err := l.db.TakeSends(ctx, l.name, n, l.limit, l.window)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		now := time.Now()
		wait := now.Truncate(l.window).Add(l.window).Sub(now) + 5*time.Millisecond
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
