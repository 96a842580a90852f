// Package jobs runs kakunin's background work (mail, purges, webhooks) on a
// durable queue kept in the service's own database, so that a job enqueued
// in a committed transaction survives a crash and is retried until it
// succeeds or runs out of attempts (invariant 8: nothing acknowledged is
// lost).
//
// It is a thin wrapper over River. Both engines are driven through
// database/sql, so every feature enqueues with the same *sql.Tx it writes its
// own rows with: the job exists if and only if that transaction commits.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/kakunin/kakunin/internal/store"
)

// Defaults for Config's zero values.
const (
	DefaultMaxWorkers = 4
	// Polling is the only way jobs are noticed (see New), so the interval is
	// the longest a freshly committed job waits before it starts.
	DefaultFetchPollInterval = 500 * time.Millisecond

	// RescueStuckJobsAfter is how long a job may stay "running" before it is
	// taken for dead (its process crashed or lost the database) and put back
	// for retry. River's default is an hour, during which a crashed webhook or
	// destroy simply waits; two minutes after the crash the job runs again.
	// Every kind's timeout must be shorter (see MaxJobTimeout), or River
	// would rescue a job that is still running.
	RescueStuckJobsAfter = 2 * time.Minute
	// MaxJobTimeout is the longest Timeout a worker may declare: it leaves
	// the rescuer a margin over a job that runs right up to its timeout.
	MaxJobTimeout = RescueStuckJobsAfter - 15*time.Second
	// DefaultJobTimeout is the timeout of a kind that declares none.
	DefaultJobTimeout = time.Minute

	// hardStopTimeout bounds how long Stop waits for cancelled jobs to
	// record their failure once the caller's own deadline has passed.
	hardStopTimeout = 5 * time.Second
)

// Config tunes a Queue. Log is required; the other fields' zero values
// are usable.
type Config struct {
	// Log receives River's logs.
	Log *slog.Logger
	// MaxWorkers is how many jobs run at once in this process (default 4).
	MaxWorkers int
	// PeriodicJobs are enqueued on a schedule by whichever process holds
	// River's leadership, so they run once per cluster, not once per replica.
	PeriodicJobs []*river.PeriodicJob
	// Queues are further queues, each with its own number of workers, for
	// work that must not crowd out the rest (the document decodes).
	Queues map[string]int
	// FetchPollInterval is how often the database is asked for ready jobs
	// (default 500ms).
	FetchPollInterval time.Duration
}

// Queue enqueues jobs and, when built with workers, runs them.
type Queue struct {
	client  *river.Client[*sql.Tx]
	working bool
}

// Migrate brings River's tables up to date. It is idempotent: applied
// migrations are skipped. River reports each applied step to log.
func Migrate(ctx context.Context, db *sql.DB, dialect store.Dialect, log *slog.Logger) error {
	m, err := migrator(db, dialect, log)
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("migrate job queue: %w", err)
	}
	return nil
}

// New builds a Queue over db. workers may be nil for an insert-only queue
// (CLI commands), which can enqueue but never runs anything. New fails when
// River's tables are missing or behind, so a forgotten migration is found at
// start rather than at the first enqueue.
func New(ctx context.Context, db *sql.DB, dialect store.Dialect, workers *river.Workers, cfg Config) (*Queue, error) {
	if cfg.Log == nil {
		return nil, errors.New("new job queue: no logger (Config.Log)")
	}
	if err := checkMigrated(ctx, db, dialect, cfg.Log); err != nil {
		return nil, err
	}
	rc := &river.Config{
		Logger:            cfg.Log,
		FetchPollInterval: cfg.FetchPollInterval,
		// Both drivers poll: River's SQLite "listener" is itself a 50ms poll
		// of an outbox table, which would keep the single connection busy,
		// and database/sql over pgx cannot LISTEN. One mechanism for both
		// engines keeps their behaviour the same.
		PollOnly: true,
		// A finished job's arguments may carry a verification result (a
		// webhook's payload): keep them no longer than it takes to look
		// into a failure, not River's default day.
		CompletedJobRetentionPeriod: time.Hour,
		JobTimeout:                  DefaultJobTimeout,
		RescueStuckJobsAfter:        RescueStuckJobsAfter,
	}
	if rc.FetchPollInterval <= 0 {
		rc.FetchPollInterval = DefaultFetchPollInterval
	}
	// River refuses a poll interval shorter than its fetch cool-down.
	rc.FetchCooldown = min(river.FetchCooldownDefault, rc.FetchPollInterval)
	working := workers != nil
	if working {
		maxWorkers := cfg.MaxWorkers
		if maxWorkers <= 0 {
			maxWorkers = DefaultMaxWorkers
		}
		rc.Workers = workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}}
		for name, n := range cfg.Queues {
			rc.Queues[name] = river.QueueConfig{MaxWorkers: max(n, 1)}
		}
		rc.PeriodicJobs = cfg.PeriodicJobs
	} else if len(cfg.PeriodicJobs) > 0 {
		return nil, errors.New("new job queue: periodic jobs need workers")
	}
	var (
		client *river.Client[*sql.Tx]
		err    error
	)
	switch dialect {
	case store.SQLite:
		client, err = river.NewClient(riversqlite.New(db), rc)
	case store.Postgres:
		client, err = river.NewClient(riverdatabasesql.New(db), rc)
	default:
		return nil, fmt.Errorf("new job queue: unknown dialect %q", dialect)
	}
	if err != nil {
		return nil, fmt.Errorf("new job queue: %w", err)
	}
	return &Queue{client: client, working: working}, nil
}

// Start begins fetching and running jobs until Stop or ctx ends. Starting an
// insert-only queue is an error: a server wired without workers would accept
// jobs and never run them.
func (q *Queue) Start(ctx context.Context) error {
	if !q.working {
		return errors.New("start job queue: built without workers (insert-only)")
	}
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	return nil
}

// Stop stops fetching new jobs and waits for running ones to finish. If ctx
// ends first, the running jobs' contexts are cancelled so that they fail and
// are recorded for retry now, instead of staying "running" until River's
// rescuer notices them (RescueStuckJobsAfter). Stop on an insert-only or
// never-started queue does nothing.
func (q *Queue) Stop(ctx context.Context) error {
	if !q.working {
		return nil
	}
	err := q.client.Stop(ctx)
	if err != nil && ctx.Err() != nil {
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), hardStopTimeout)
		defer cancel()
		err = q.client.StopAndCancel(hard)
	}
	if err != nil {
		return fmt.Errorf("stop job queue: %w", err)
	}
	return nil
}

// InsertTx enqueues a job inside the caller's transaction: it becomes visible
// to workers, and runs, only if tx commits. With SQLite's single connection
// the caller must not use Insert (or anything else that needs a connection of
// its own) while tx is open: it would wait forever for the connection tx holds.
func (q *Queue) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := q.client.InsertTx(ctx, tx, args, opts); err != nil {
		return fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

// InsertManyTx enqueues jobs inside the caller's transaction in one
// statement, for callers that gather many (the public forms' group
// committer): on SQLite preparing River's insert costs more than running
// it, so one insert of many is far cheaper than many of one.
func (q *Queue) InsertManyTx(ctx context.Context, tx *sql.Tx, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	if _, err := q.client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("enqueue %d jobs: %w", len(params), err)
	}
	return nil
}

// Insert enqueues a job in a transaction of its own.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	if _, err := q.client.Insert(ctx, args, opts); err != nil {
		return fmt.Errorf("enqueue %s: %w", args.Kind(), err)
	}
	return nil
}

func migrator(db *sql.DB, dialect store.Dialect, log *slog.Logger) (*rivermigrate.Migrator[*sql.Tx], error) {
	if log == nil {
		return nil, errors.New("job queue migrations: no logger")
	}
	cfg := &rivermigrate.Config{Logger: log}
	var (
		m   *rivermigrate.Migrator[*sql.Tx]
		err error
	)
	switch dialect {
	case store.SQLite:
		m, err = rivermigrate.New(riversqlite.New(db), cfg)
	case store.Postgres:
		m, err = rivermigrate.New(riverdatabasesql.New(db), cfg)
	default:
		return nil, fmt.Errorf("job queue migrations: unknown dialect %q", dialect)
	}
	if err != nil {
		return nil, fmt.Errorf("job queue migrations: %w", err)
	}
	return m, nil
}

func checkMigrated(ctx context.Context, db *sql.DB, dialect store.Dialect, log *slog.Logger) error {
	m, err := migrator(db, dialect, log)
	if err != nil {
		return err
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("check job queue migrations (run migrate first): %w", err)
	}
	if !res.OK {
		return fmt.Errorf("job queue tables are not up to date (run migrate first): %s", strings.Join(res.Messages, "; "))
	}
	return nil
}
