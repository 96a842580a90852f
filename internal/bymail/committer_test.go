package bymail_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/bymail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// rowJob is a job the tableQueue writes as a row of the caller's
// transaction, so that what a rolled-back request left can be counted.
type rowJob struct {
	Name string
	Fail bool // written, then refused: the savepoint must take the row back
}

func (rowJob) Kind() string { return "bymail_row" }

type tableQueue struct{}

func (tableQueue) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, _ *river.InsertOpts) error {
	j := args.(rowJob)
	if _, err := tx.ExecContext(ctx, `INSERT INTO bymail_test_jobs (name) VALUES ($1)`, j.Name); err != nil {
		return err
	}
	if j.Fail {
		return errors.New("queue refused " + j.Name)
	}
	return nil
}

// manyQueue also takes many jobs in one insert, as jobs.Queue does.
type manyQueue struct{ tableQueue }

func (q manyQueue) InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error {
	for _, p := range params {
		if err := q.InsertTx(ctx, tx, p.Args, p.InsertOpts); err != nil {
			return err
		}
	}
	return nil
}

// TestConcurrentRequestsShareTransactionsYetEachCommitsAlone sends many
// requests at once through a running Committer, from clients whose limit
// some of them exceed and with some jobs failing after writing: each
// request's outcome is what it would have been alone, and nothing a
// refused request wrote remains.
func TestConcurrentRequestsShareTransactionsYetEachCommitsAlone(t *testing.T) {
	for name, q := range map[string]interface {
		InsertTx(context.Context, *sql.Tx, river.JobArgs, *river.InsertOpts) error
	}{"one insert a job": tableQueue{}, "one insert a transaction": manyQueue{}} {
		t.Run(name, func(t *testing.T) { testSharedTransactions(t, q) })
	}
}

func testSharedTransactions(t *testing.T, q alert.Enqueuer) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE bymail_test_jobs (name TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		log := &audit.Log{DB: db, Now: time.Now}
		c := &bymail.Committer{DB: db, Jobs: q, Audit: log, MaxBatch: 16}
		runCtx, stop := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- c.Run(runCtx) }()

		now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
		const clients, perClient, limit = 8, 6, 4
		var (
			mu       sync.Mutex
			accepted = map[string]int{}
			limited  = map[string]int{}
			failed   int
			wg       sync.WaitGroup
		)
		for cl := range clients {
			for i := range perClient {
				wg.Go(func() {
					origin := fmt.Sprintf("client-%d", cl)
					name := fmt.Sprintf("%s-%d", origin, i)
					// Client 0's every request fails in the queue: it
					// must not count against its limit nor leave a row.
					req := bymail.Request{Scope: "bymail_test", Limit: limit, Window: time.Hour,
						Job: rowJob{Name: name, Fail: cl == 0}, MaxAttempts: 1,
						Event: audit.Event{Action: audit.ExposureChecked, Actor: "public", Subject: name}}
					err := c.Enqueue(audit.WithOrigin(ctx, origin), now, req)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						accepted[origin]++
					case errors.Is(err, bymail.ErrLimited):
						limited[origin]++
					default:
						failed++
					}
				})
			}
		}
		wg.Wait()
		stop()
		if err := <-ran; err != nil {
			t.Fatal(err)
		}

		if failed != perClient {
			t.Errorf("%d requests failed, want client-0's %d", failed, perClient)
		}
		for cl := 1; cl < clients; cl++ {
			o := fmt.Sprintf("client-%d", cl)
			if accepted[o] != limit || limited[o] != perClient-limit {
				t.Errorf("%s: %d accepted, %d limited; want %d and %d", o, accepted[o], limited[o], limit, perClient-limit)
			}
		}
		var rows int
		if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM bymail_test_jobs`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		want := (clients - 1) * limit
		if rows != want {
			t.Errorf("%d job rows, want %d: a refused or failed request left its writes", rows, want)
		}
		seq, _, err := db.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if seq != int64(want) {
			t.Errorf("audit head %d, want one event per accepted request (%d)", seq, want)
		}
		signer, err := audit.LoadOrCreateSigner(filepath.Join(t.TempDir(), "audit-signer.key"), audit.CheckpointOrigin)
		if err != nil {
			t.Fatal(err)
		}
		vs, err := signer.Verifiers()
		if err != nil {
			t.Fatal(err)
		}
		if res, err := audit.Verify(ctx, db, audit.VerifyOptions{Verifiers: vs}); err != nil || !res.OK() {
			t.Errorf("the chain does not verify after shared transactions: %+v %v", res, err)
		}

		// Stopped, the committer still accepts, a transaction each.
		if err := c.Enqueue(audit.WithOrigin(ctx, "client-late"), now, bymail.Request{Scope: "bymail_test", Limit: 1, Window: time.Hour,
			Job: rowJob{Name: "late"}, Event: audit.Event{Action: audit.ExposureChecked, Actor: "public", Subject: "late"}}); err != nil {
			t.Fatalf("after Run stopped: %v", err)
		}
	})
}
