// Package servicetest gives tests the document, verification and review
// services wired as in production over real dependencies: a database from
// storetest, a local vault and a blob directory in a temp dir, a clock the
// test moves and a job queue that records what it is given. It is imported
// only by tests.
package servicetest

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// Start is where every Env's clock begins: a Tuesday, 09:00 UTC (18:00 in
// Japan).
var Start = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// PublicURL is the address the verification service builds links under.
const PublicURL = "https://kakunin.example"

// Clock is the services' time, moved only by the test. It is safe for
// concurrent use, as the services may read it from several goroutines.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Job is one InsertTx call.
type Job struct {
	Tx   *sql.Tx
	Args river.JobArgs
	Opts *river.InsertOpts
}

// ErrRefused is what JobRecorder returns for a kind it was told to Refuse.
var ErrRefused = errors.New("enqueue refused")

// JobRecorder is the services' document.Enqueuer. It records every job and,
// when built over a queue, inserts it there too, so it lands in river_job
// inside the caller's transaction and rolls back with it.
type JobRecorder struct {
	queue *jobs.Queue // nil: record only

	mu      sync.Mutex
	calls   []Job
	refused string
}

func (j *JobRecorder) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	// Every service enqueues inside its own transaction; a job outside one
	// could outlive a change that rolled back.
	if tx == nil {
		panic("InsertTx without a transaction")
	}
	j.mu.Lock()
	if args.Kind() == j.refused {
		j.mu.Unlock()
		return ErrRefused
	}
	j.calls = append(j.calls, Job{tx, args, opts})
	j.mu.Unlock()
	if j.queue == nil {
		return nil
	}
	return j.queue.InsertTx(ctx, tx, args, opts)
}

// All returns the jobs recorded so far, oldest first.
func (j *JobRecorder) All() []Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]Job{}, j.calls...)
}

// Reset forgets the jobs recorded so far.
func (j *JobRecorder) Reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.calls = nil
}

// Refuse makes every later job of kind fail with ErrRefused, unrecorded, to
// show that a change whose job cannot be enqueued does not happen at all.
func (j *JobRecorder) Refuse(kind string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.refused = kind
}

// Options changes how New builds an Env.
type Options struct {
	// Dir holds the keys (in "keys" and "kek") and the blobs ("blobs"). Empty
	// means a new t.TempDir(); a test that scans all it wrote passes its own.
	Dir string
	// Queue migrates River and has the JobRecorder insert every job it
	// records into an insert-only jobs.Queue as well.
	Queue bool
	// Blobs is a blob store URL to use instead of a directory under Dir
	// (blobstoretest.S3URL: a real S3 bucket).
	Blobs string
}

// Env is the services and what they stand on. The services are plain
// structs: a test may change a field (Events, LinkTTL, MaxAssigned) before
// using them.
type Env struct {
	DB      *store.DB
	DBPath  string // the SQLite file; "" on PostgreSQL
	Dir     string
	KeyDir  string
	BlobDir string
	Vault   *vault.Vault
	Blobs   *blobstore.Store
	Clock   *Clock
	Jobs    *JobRecorder
	Log     *slog.Logger // to the test's output, warnings and worse

	Documents     *document.Service
	Verifications *verification.Service
	Review        *review.Service
	Audit         *audit.Log
	Alerts        *AlertRecorder
}

// Alert is one alert the review service raised.
type Alert struct {
	Kind, StaffID string
	Detail        map[string]string
}

// AlertRecorder is the review service's Alert hook in tests.
type AlertRecorder struct {
	mu     sync.Mutex
	alerts []Alert
}

// Raise records an alert.
func (a *AlertRecorder) Raise(ctx context.Context, tx *store.Tx, kind, staffID string, detail map[string]string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.alerts = append(a.alerts, Alert{kind, staffID, detail})
	return nil
}

// All returns the alerts raised so far.
func (a *AlertRecorder) All() []Alert {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Alert{}, a.alerts...)
}

// New opens the database at dsn (from storetest), the vault and the blob
// store, and wires the services over them. Everything is closed when t ends.
func New(t testing.TB, dsn string, opts Options) *Env {
	t.Helper()
	ctx := t.Context()
	e := &Env{Dir: opts.Dir, Clock: &Clock{t: Start}, Jobs: &JobRecorder{}}
	if e.Dir == "" {
		e.Dir = t.TempDir()
	}
	e.KeyDir, e.BlobDir = filepath.Join(e.Dir, "keys"), filepath.Join(e.Dir, "blobs")
	if !strings.HasPrefix(dsn, "postgres") {
		e.DBPath = dsn
		if err := seedSQLite(dsn, opts.Queue); err != nil {
			t.Fatal(err)
		}
	}
	e.Log = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))

	var err error
	if e.DB, err = store.Open(ctx, dsn); err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { e.DB.Close() })
	if opts.Queue {
		if err := jobs.Migrate(ctx, e.DB.SQL(), e.DB.Dialect(), e.Log); err != nil {
			t.Fatalf("migrate job queue: %v", err)
		}
		if e.Jobs.queue, err = jobs.New(ctx, e.DB.SQL(), e.DB.Dialect(), nil, jobs.Config{Log: e.Log}); err != nil {
			t.Fatalf("open job queue: %v", err)
		}
	}
	kek, err := vault.OpenLocalKeyset(filepath.Join(e.Dir, "kek", "kek.json"))
	if err != nil {
		t.Fatalf("open key-encryption key: %v", err)
	}
	if e.Vault, err = vault.New(ctx, kek, e.KeyDir); err != nil {
		t.Fatalf("open vault: %v", err)
	}
	e.DB.UseStaffEmails(auth.StaffEmails{Keys: e.Vault})
	blobURL := "file://" + e.BlobDir
	if opts.Blobs != "" {
		blobURL = opts.Blobs
	}
	if e.Blobs, err = blobstore.Open(ctx, blobURL); err != nil {
		t.Fatalf("open blob store: %v", err)
	}
	t.Cleanup(func() { e.Blobs.Close() })

	limits := intake.DefaultLimits()
	e.Audit = &audit.Log{DB: e.DB, Now: e.Clock.Now}
	e.Alerts = &AlertRecorder{}
	e.Documents = &document.Service{DB: e.DB, Vault: e.Vault, Blobs: e.Blobs, Limits: limits, Audit: e.Audit,
		RetainUnreviewed: 72 * time.Hour, Now: e.Clock.Now, Log: e.Log}
	e.Verifications = &verification.Service{DB: e.DB, Keys: e.Vault, Documents: e.Documents, Jobs: e.Jobs, Audit: e.Audit,
		PublicURL: PublicURL, LinkTTL: 7 * 24 * time.Hour, Now: e.Clock.Now}
	// As in production, a verification that ends without a reviewer is
	// announced by the verification service.
	e.Documents.Events = e.Verifications
	// Two tasks a reviewer: few enough that a test reaches the limit quickly.
	e.Review = &review.Service{DB: e.DB, Documents: e.Documents, Jobs: e.Jobs,
		MaxPixels: limits.MaxPixels, MaxAssigned: 2, Now: e.Clock.Now, Log: e.Log,
		Audit: e.Audit, ReadQuota: 60, ReadQuotaWindow: time.Hour, Alert: e.Alerts.Raise}
	return e
}
