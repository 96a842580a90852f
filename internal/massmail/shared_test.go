package massmail_test

import (
	"context"
	"errors"
	"testing"

	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// Two replicas' limiters draw on one budget: once the first has spent the
// window's, the second is granted only in a later window (by the database's
// clock), and a cancelled wait gives up with the context's error.
func TestReplicasShareTheNotificationThrottle(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		open := func() *store.DB {
			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		a, b := open(), open()
		la, lb := massmail.NewSharedLimiter(a, "notify", 20), massmail.NewSharedLimiter(b, "notify", 20)
		if la.Burst() != 20 {
			t.Fatalf("burst %d, want a second's budget of 20", la.Burst())
		}
		window := func() int64 {
			var w int64
			if err := a.SQL().QueryRowContext(ctx, `SELECT window_no FROM send_rates WHERE name = 'notify'`).Scan(&w); err != nil {
				t.Fatal(err)
			}
			return w
		}
		// Replica a spends a whole window's budget.
		if err := la.WaitN(ctx, 20); err != nil {
			t.Fatal(err)
		}
		w1 := window()
		if err := lb.WaitN(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if w2 := window(); w2 <= w1 {
			t.Fatalf("replica b was granted a send in window %d, the one replica a had spent (%d)", w2, w1)
		}
		if err := lb.WaitN(ctx, 21); err == nil {
			t.Fatal("a batch over the whole budget was accepted")
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := la.WaitN(done, 20); !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled wait returned %v", err)
		}
		if massmail.NewSharedLimiter(a, "notify", 0) != nil {
			t.Fatal("a rate of 0 throttles")
		}
		if l := massmail.NewSharedLimiter(a, "slow", 0.5); l.Burst() != 1 {
			t.Fatalf("half a message a second: burst %d, want 1", l.Burst())
		}
	})
}
