package bymail_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/bymail"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// realQueue opens dsn with River's tables, as serve does.
func realQueue(t testing.TB, dsn string) (*store.DB, *jobs.Queue) {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := slog.New(slog.DiscardHandler)
	if err := jobs.Migrate(ctx, db.SQL(), db.Dialect(), log); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(ctx, db.SQL(), db.Dialect(), nil, jobs.Config{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	return db, q
}

func request(subject string) bymail.Request {
	return bymail.Request{Scope: "bymail_test", Limit: 5, Window: time.Hour, Job: job{}, MaxAttempts: 3, Spread: time.Minute,
		Event: audit.Event{Action: audit.ExposureChecked, Actor: "public", Subject: subject}}
}

// TestSharedTransactionsQueueRealJobs runs the committer over River's own
// insert of many jobs, on both engines: every accepted request has its job.
func TestSharedTransactionsQueueRealJobs(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, q := realQueue(t, dsn)
		c := &bymail.Committer{DB: db, Jobs: q, Audit: &audit.Log{DB: db, Now: time.Now}}
		runCtx, stop := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- c.Run(runCtx) }()
		var wg sync.WaitGroup
		var failed atomic.Int32
		for i := range 40 {
			wg.Go(func() {
				if err := c.Enqueue(audit.WithOrigin(ctx, fmt.Sprint("client-", i)), time.Now(), request(fmt.Sprint("chk_", i))); err != nil {
					t.Error(err)
					failed.Add(1)
				}
			})
		}
		wg.Wait()
		stop()
		<-ran
		var n int
		if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM river_job WHERE kind = 'bymail_test'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if want := 40 - int(failed.Load()); n != want {
			t.Fatalf("%d jobs queued, want %d", n, want)
		}
	})
}

// BenchmarkCommitter measures requests committed through a running
// Committer with River's queue, many clients at once, on SQLite (set
// KAKUNIN_TEST_POSTGRES for PostgreSQL too). Compare with
// BenchmarkAlone, a transaction each: go test -bench . ./internal/bymail/
func BenchmarkCommitter(b *testing.B) { benchmarkEnqueue(b, true) }

func BenchmarkAlone(b *testing.B) { benchmarkEnqueue(b, false) }

func benchmarkEnqueue(b *testing.B, shared bool) {
	engines := map[string]func(testing.TB) string{"sqlite": storetest.SQLiteDSN, "postgres": storetest.PostgresDSN}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) { benchmarkEngine(b, engines[name](b), shared) })
	}
}

func benchmarkEngine(b *testing.B, dsn string, shared bool) {
	{
		ctx := context.Background()
		db, q := realQueue(b, dsn)
		c := &bymail.Committer{DB: db, Jobs: q, Audit: &audit.Log{DB: db, Now: time.Now}}
		if shared {
			rc, stop := context.WithCancel(ctx)
			go c.Run(rc)
			defer stop()
		}
		var n atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				if err := c.Enqueue(audit.WithOrigin(ctx, fmt.Sprint("c", i)), time.Now(), request("chk")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
