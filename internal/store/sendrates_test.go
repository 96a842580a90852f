package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store/storetest"
)

// Two processes' connections (two replicas) race for one budget: exactly
// the limit is granted in the window, in total.
func TestTwoReplicasShareOneSendBudget(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := openTest(t, dsn), openTest(t, dsn)
		var granted atomic.Int64
		var wg sync.WaitGroup
		for i := range 40 {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.TakeSends(ctx, "notify", 3, 30, time.Hour)
				if err != nil {
					t.Error(err)
				}
				if ok {
					granted.Add(3)
				}
			}()
		}
		wg.Wait()
		if got := granted.Load(); got != 30 {
			t.Fatalf("granted %d sends from a budget of 30 an hour", got)
		}
		if ok, err := b.TakeSends(ctx, "notify", 1, 30, time.Hour); ok || err != nil {
			t.Fatalf("a full window granted one more: %v, %v", ok, err)
		}
		// Another throttle has its own budget.
		if ok, err := a.TakeSends(ctx, "alerts", 30, 30, time.Hour); !ok || err != nil {
			t.Fatalf("another throttle's budget: %v, %v", ok, err)
		}
		if _, err := a.TakeSends(ctx, "notify", 31, 30, time.Hour); err == nil {
			t.Fatal("a request above the whole budget was not refused")
		}
	})
}

// A full one-second window opens again in the next second (by the
// database's clock).
func TestASendBudgetRefillsInTheNextWindow(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openTest(t, dsn)
		for {
			ok, err := db.TakeSends(ctx, "notify", 5, 5, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			ok, err := db.TakeSends(ctx, "notify", 5, 5, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the budget never refilled")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}
