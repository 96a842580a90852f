package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// Replicas count one key's hits at the same moment: the limit must hold
// exactly, not be overrun by two transactions that each counted one short.
func TestRateHitsHoldTheLimitUnderConcurrentWriters(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openTest(t, dsn)
		ctx := context.Background()
		now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
		var admitted atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				err := db.WithTx(ctx, func(tx *store.Tx) error {
					ok, err := tx.TakeRateHit(ctx, "client", []byte("k"), 5, time.Hour, "", now)
					if ok {
						admitted.Add(1)
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if n := admitted.Load(); n != 5 {
			t.Errorf("%d hits admitted, want 5", n)
		}
	})
}

func TestRateHitsSlideAndCountAnIDOnce(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openTest(t, dsn)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
		take := func(id string, at time.Time) bool {
			t.Helper()
			var ok bool
			err := db.WithTx(ctx, func(tx *store.Tx) error {
				var err error
				ok, err = tx.TakeRateHit(ctx, "address", []byte{1, 2}, 2, 24*time.Hour, id, at)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		steps := []struct {
			id   string
			at   time.Duration
			want bool
		}{
			{"a", 0, true},
			{"b", time.Hour, true},
			{"a", 2 * time.Hour, true}, // the same check again: already counted
			{"c", 3 * time.Hour, false},
			{"c", 24 * time.Hour, true}, // "a" left the window
			{"d", 24*time.Hour + time.Minute, false},
		}
		for _, s := range steps {
			if got := take(s.id, t0.Add(s.at)); got != s.want {
				t.Errorf("%s at +%v: %v, want %v", s.id, s.at, got, s.want)
			}
		}
		n, err := db.PruneRateHits(ctx, t0.Add(24*time.Hour+time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("pruned %d, want the 2 hits before the cut", n)
		}
		if left, _ := db.CountRateHits(ctx, "address", []byte{1, 2}); left != 0 {
			t.Errorf("%d hits left", left)
		}
	})
}
