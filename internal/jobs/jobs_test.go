package jobs_test

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/jobs/jobstest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// waitFor bounds how long a test waits for a job; jobs normally run within
// one poll interval.
const waitFor = 15 * time.Second

type echoArgs struct {
	Token string `json:"token"`
}

func (echoArgs) Kind() string { return "jobs_test_echo" }

// echoWorker reports every attempt on ran and fails the first failFirst
// attempts of each job, asking for an immediate retry so tests stay fast.
type echoWorker struct {
	river.WorkerDefaults[echoArgs]
	failFirst int
	ran       chan attempt
}

type attempt struct {
	token string
	n     int
	err   error
}

func (w *echoWorker) NextRetry(*river.Job[echoArgs]) time.Time {
	return time.Now().Add(10 * time.Millisecond)
}

func (w *echoWorker) Work(ctx context.Context, job *river.Job[echoArgs]) error {
	var err error
	if job.Attempt <= w.failFirst {
		err = errors.New("planned failure")
	}
	w.ran <- attempt{token: job.Args.Token, n: job.Attempt, err: err}
	return err
}

func newWorker(failFirst int) (*echoWorker, *river.Workers) {
	w := &echoWorker{failFirst: failFirst, ran: make(chan attempt, 16)}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	return w, workers
}

func open(t *testing.T, dsn string) (*sql.DB, store.Dialect) {
	t.Helper()
	db, dialect, err := store.OpenSQL(t.Context(), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dialect
}

// testLog logs River's warnings and worse to the test's output.
func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func testConfig(t *testing.T) jobs.Config {
	return jobs.Config{
		Log:               testLog(t),
		FetchPollInterval: 50 * time.Millisecond,
	}
}

// startQueue migrates db and starts a queue with workers, stopped at cleanup.
func startQueue(t *testing.T, db *sql.DB, dialect store.Dialect, workers *river.Workers) *jobs.Queue {
	t.Helper()
	ctx := t.Context()
	if err := jobs.Migrate(ctx, db, dialect, testLog(t)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	q, err := jobs.New(ctx, db, dialect, workers, testConfig(t))
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if err := q.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return q
}

func next(t *testing.T, w *echoWorker) attempt {
	t.Helper()
	select {
	case a := <-w.ran:
		return a
	case <-time.After(waitFor):
		t.Fatalf("no job ran within %s", waitFor)
		return attempt{}
	}
}

func countJobs(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM river_job").Scan(&n); err != nil {
		t.Fatalf("count jobs: %v", err)
	}
	return n
}

func TestJobInsertedInCommittedTxRuns(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db, dialect := open(t, dsn)
		w, workers := newWorker(0)
		q := startQueue(t, db, dialect, workers)

		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.InsertTx(t.Context(), tx, echoArgs{Token: "committed"}, nil); err != nil {
			t.Fatalf("insert: %v", err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if a := next(t, w); a.token != "committed" {
			t.Fatalf("ran %q, want committed", a.token)
		}
	})
}

func TestJobInsertedInRolledBackTxNeverRuns(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db, dialect := open(t, dsn)
		w, workers := newWorker(0)
		q := startQueue(t, db, dialect, workers)

		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.InsertTx(t.Context(), tx, echoArgs{Token: "rolled-back"}, nil); err != nil {
			t.Fatalf("insert: %v", err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		// A job enqueued after the rollback runs; by then the rolled-back
		// one would have had every chance, and it must not even exist.
		if err := q.Insert(t.Context(), echoArgs{Token: "later"}, nil); err != nil {
			t.Fatalf("insert: %v", err)
		}
		if a := next(t, w); a.token != "later" {
			t.Fatalf("ran %q, want only the later job", a.token)
		}
		if n := countJobs(t, db); n != 1 {
			t.Fatalf("river_job holds %d rows, want 1 (the rolled-back job must leave none)", n)
		}
	})
}

func TestFailedJobIsRetriedUntilItSucceeds(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db, dialect := open(t, dsn)
		w, workers := newWorker(1)
		q := startQueue(t, db, dialect, workers)

		if err := q.Insert(t.Context(), echoArgs{Token: "flaky"}, nil); err != nil {
			t.Fatalf("insert: %v", err)
		}
		first := next(t, w)
		if first.n != 1 || first.err == nil {
			t.Fatalf("first attempt = %+v, want attempt 1 failing", first)
		}
		second := next(t, w)
		if second.n != 2 || second.err != nil || second.token != "flaky" {
			t.Fatalf("second attempt = %+v, want attempt 2 of flaky succeeding", second)
		}
	})
}

func TestJobEnqueuedWithoutWorkersRunsAfterRestart(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		// First process: a CLI command with an insert-only queue.
		func() {
			db, dialect, err := store.OpenSQL(ctx, dsn)
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer db.Close()
			if err := jobs.Migrate(ctx, db, dialect, testLog(t)); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			q, err := jobs.New(ctx, db, dialect, nil, testConfig(t))
			if err != nil {
				t.Fatalf("new insert-only: %v", err)
			}
			if err := q.Start(ctx); err == nil {
				t.Fatal("starting an insert-only queue succeeded, want an error")
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := q.InsertTx(ctx, tx, echoArgs{Token: "survivor"}, nil); err != nil {
				t.Fatalf("insert: %v", err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := q.Stop(ctx); err != nil {
				t.Fatalf("stop insert-only: %v", err)
			}
		}()

		// Second process: the server, on the same database.
		db, dialect := open(t, dsn)
		w, workers := newWorker(0)
		startQueue(t, db, dialect, workers)
		if a := next(t, w); a.token != "survivor" {
			t.Fatalf("ran %q, want survivor", a.token)
		}
	})
}

func TestNewRefusesUnmigratedDatabase(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db, dialect := open(t, dsn)
		if _, err := jobs.New(t.Context(), db, dialect, nil, jobs.Config{Log: testLog(t)}); err == nil {
			t.Fatal("New on an unmigrated database succeeded, want an error")
		}
		for range 2 { // the second run must be a no-op
			if err := jobs.Migrate(t.Context(), db, dialect, testLog(t)); err != nil {
				t.Fatalf("migrate: %v", err)
			}
		}
		if _, err := jobs.New(t.Context(), db, dialect, nil, jobs.Config{Log: testLog(t)}); err != nil {
			t.Fatalf("New after migrate: %v", err)
		}
	})
}

// TestRiverInfoLogsStayQuiet guards the service's logs from River's chatter:
// a start, a handful of jobs and a stop should produce a few lines, not one
// or more per job or per poll.
func TestRiverInfoLogsStayQuiet(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db, dialect := open(t, dsn)
		ctx := t.Context()
		if err := jobs.Migrate(ctx, db, dialect, testLog(t)); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		rec := &recorder{}
		cfg := testConfig(t)
		cfg.Log = slog.New(rec)
		w, workers := newWorker(0)
		q, err := jobs.New(ctx, db, dialect, workers, cfg)
		if err != nil {
			t.Fatalf("new: %v", err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatalf("start: %v", err)
		}
		const n = 10
		for range n {
			if err := q.Insert(ctx, echoArgs{Token: "x"}, nil); err != nil {
				t.Fatalf("insert: %v", err)
			}
		}
		for range n {
			next(t, w)
		}
		if err := q.Stop(ctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if got := rec.count(); got >= n {
			t.Errorf("River logged %d records at info or above for %d jobs, want fewer than one per job:\n%s", got, n, rec.messages())
		}
	})
}

type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}
func (r *recorder) messages() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s string
	for _, m := range r.msgs {
		s += m + "\n"
	}
	return s
}

func TestPeriodicJobRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("waits seconds for River's rescuer or scheduler; skipped under -short")
	}
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db, dialect := open(t, dsn)
		ctx := t.Context()
		if err := jobs.Migrate(ctx, db, dialect, testLog(t)); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		w, workers := newWorker(0)
		cfg := testConfig(t)
		cfg.PeriodicJobs = []*river.PeriodicJob{river.NewPeriodicJob(
			river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return echoArgs{Token: "periodic"}, nil },
			&river.PeriodicJobOpts{RunOnStart: true},
		)}
		q, err := jobs.New(ctx, db, dialect, workers, cfg)
		if err != nil {
			t.Fatalf("new: %v", err)
		}
		if err := q.Start(ctx); err != nil {
			t.Fatalf("start: %v", err)
		}
		defer q.Stop(context.WithoutCancel(ctx))
		if a := next(t, w); a.token != "periodic" {
			t.Fatalf("ran %q, want periodic", a.token)
		}
	})
}

func TestNewRefusesAQueueWithoutALogger(t *testing.T) {
	db, dialect := open(t, storetest.SQLiteDSN(t))
	if err := jobs.Migrate(t.Context(), db, dialect, nil); err == nil {
		t.Error("Migrate without a logger succeeded, want an error")
	}
	if err := jobs.Migrate(t.Context(), db, dialect, testLog(t)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if _, err := jobs.New(t.Context(), db, dialect, nil, jobs.Config{}); err == nil {
		t.Error("New without a logger succeeded, want an error")
	}
}

func TestPeriodicJobsNeedWorkers(t *testing.T) {
	db, dialect := open(t, storetest.SQLiteDSN(t))
	if err := jobs.Migrate(t.Context(), db, dialect, testLog(t)); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cfg := jobs.Config{Log: testLog(t), PeriodicJobs: []*river.PeriodicJob{river.NewPeriodicJob(
		river.PeriodicInterval(time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return echoArgs{}, nil },
		nil,
	)}}
	if _, err := jobs.New(t.Context(), db, dialect, nil, cfg); err == nil {
		t.Fatal("New accepted periodic jobs without workers, want an error")
	}
}

// A job that was running when its process was killed is run again within
// minutes of a restart, not after River's default hour.
func TestJobRunningAtACrashIsRescuedSoonAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("waits seconds for River's rescuer or scheduler; skipped under -short")
	}
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db, dialect := open(t, dsn)
		ctx := t.Context()
		if err := jobs.Migrate(ctx, db, dialect, testLog(t)); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		insertOnly, err := jobs.New(ctx, db, dialect, nil, testConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := insertOnly.Insert(ctx, echoArgs{Token: "crashed"}, nil); err != nil {
			t.Fatalf("insert: %v", err)
		}
		// Killed a little after the rescue time, far short of an hour.
		n, err := jobstest.Crash(ctx, db, dialect, echoArgs{}.Kind(), jobs.RescueStuckJobsAfter+30*time.Second)
		if err != nil || n != 1 {
			t.Fatalf("crash: %d jobs, %v", n, err)
		}

		w, workers := newWorker(0)
		startQueue(t, db, dialect, workers)
		a := next(t, w)
		if a.token != "crashed" || a.n != 2 {
			t.Fatalf("ran %+v, want the crashed job's second attempt", a)
		}
	})
}

// River only rescues a job once its kind's own timeout has passed, and
// refuses a rescue time shorter than the default timeout.
func TestTimeoutsFitTheRescueTime(t *testing.T) {
	if jobs.DefaultJobTimeout > jobs.MaxJobTimeout || jobs.MaxJobTimeout >= jobs.RescueStuckJobsAfter {
		t.Fatalf("default timeout %s, max %s, rescue after %s: want default ≤ max < rescue",
			jobs.DefaultJobTimeout, jobs.MaxJobTimeout, jobs.RescueStuckJobsAfter)
	}
}
