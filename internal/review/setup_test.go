package review_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/samplecard"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// clock is the services' controllable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// enqueued is one InsertTx call.
type enqueued struct {
	tx   *sql.Tx
	args river.JobArgs
	opts *river.InsertOpts
}

var errEnqueue = errors.New("enqueue refused")

// recorder records every job enqueued and passes it on to the real queue,
// so the jobs also land in river_job inside the caller's transaction. It
// refuses jobs of kind failKind, to show a decision is all or nothing.
type recorder struct {
	queue    *jobs.Queue
	mu       sync.Mutex
	calls    []enqueued
	failKind string
}

func (r *recorder) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error {
	if args.Kind() == r.failKind {
		return errEnqueue
	}
	r.mu.Lock()
	r.calls = append(r.calls, enqueued{tx, args, opts})
	r.mu.Unlock()
	return r.queue.InsertTx(ctx, tx, args, opts)
}

func (r *recorder) all() []enqueued {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]enqueued{}, r.calls...)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

type env struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	vault  *vault.Vault
	clock  *clock
	jobs   *recorder
	docs   *document.Service
	verify *verification.Service
	review *review.Service
}

// start is 2026-11-24 18:00 in Japan.
var start = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

const retainAfterDecision = 24 * time.Hour

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := t.Context()
	root := t.TempDir()
	e := &env{t: t, ctx: ctx, clock: &clock{t: start}}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	var err error
	if e.db, err = store.Open(ctx, dsn); err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { e.db.Close() })
	if err := jobs.Migrate(ctx, e.db.SQL(), e.db.Dialect()); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(ctx, e.db.SQL(), e.db.Dialect(), nil, jobs.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	e.jobs = &recorder{queue: q}
	kek, err := vault.OpenLocalKeyset(filepath.Join(root, "kek", "kek.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e.vault, err = vault.New(ctx, kek, filepath.Join(root, "keys")); err != nil {
		t.Fatal(err)
	}
	blobs, err := blobstore.Open(ctx, "file://"+filepath.Join(root, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { blobs.Close() })
	e.docs = &document.Service{DB: e.db, Vault: e.vault, Blobs: blobs, Limits: intake.DefaultLimits(),
		RetainUnreviewed: 72 * time.Hour, Now: e.clock.Now, Log: log}
	e.verify = &verification.Service{DB: e.db, Keys: e.vault, Documents: e.docs, Jobs: e.jobs,
		PublicURL: "https://kakunin.example", LinkTTL: time.Hour, Now: e.clock.Now}
	e.docs.Events = e.verify
	e.review = &review.Service{DB: e.db, Documents: e.docs, Jobs: e.jobs, RetainAfterDecision: retainAfterDecision,
		MaxPixels: 50_000_000, MaxAssigned: 2, Now: e.clock.Now, Log: log}
	// The reviewers the tests name exist as staff, as they do in service:
	// Next locks the reviewer's row.
	ids := []string{alice, bob}
	for i := range 20 {
		ids = append(ids, fmt.Sprintf("stf_%02d", i))
	}
	for _, id := range ids {
		err := e.db.InsertStaff(ctx, &store.StaffRecord{ID: id, Email: id + "@example.jp", Role: kakunin.RoleReviewer,
			PasswordHash: "unused", TOTPSealed: []byte{0}, CreatedAt: start})
		if err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// submit registers a member, opens a verification and uploads img for it.
// The clock moves a second after each, so uploads queue in order.
func (e *env) submit(img []byte) (*kakunin.Verification, *store.DocumentRecord) {
	e.t.Helper()
	ext := kakunin.NewID("ext")
	if _, _, err := e.verify.UpsertMember(e.ctx, ext, ext+"@example.jp", kakunin.LocaleJA); err != nil {
		e.t.Fatal(err)
	}
	v, _, err := e.verify.Create(e.ctx, ext)
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.docs.Store(e.ctx, bytes.NewReader(img))
	if err != nil {
		e.t.Fatal(err)
	}
	d, err := e.docs.Commit(e.ctx, p, v, kakunin.DocDriversLicence)
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	return v, d
}

func (e *env) verification(id string) *kakunin.Verification {
	e.t.Helper()
	v, err := e.db.Verification(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) doc(id string) *store.DocumentRecord {
	e.t.Helper()
	d, err := e.db.Document(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// next claims the next task for reviewer and fails the test if there is none.
func (e *env) next(reviewer string) *store.DocumentRecord {
	e.t.Helper()
	d, err := e.review.Next(e.ctx, reviewer)
	if err != nil || d == nil {
		e.t.Fatalf("Next(%s) = %v, %v; want a task", reviewer, d, err)
	}
	return d
}

// riverJobs counts the durable jobs by kind.
func (e *env) riverJobs() map[string]int {
	e.t.Helper()
	rows, err := e.db.SQL().QueryContext(e.ctx, `SELECT kind, COUNT(*) FROM river_job GROUP BY kind`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			e.t.Fatal(err)
		}
		out[k] = n
	}
	if err := rows.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// unchanged checks that a submitted verification assigned to reviewer is
// exactly as before a refused decision: undecided, still the reviewer's task,
// no job enqueued.
func (e *env) unchanged(v *kakunin.Verification, d *store.DocumentRecord, reviewer string) {
	e.t.Helper()
	got := e.verification(v.ID)
	if got.Status != kakunin.StatusSubmitted || got.Result != nil {
		e.t.Errorf("verification changed: status %s, result %+v", got.Status, got.Result)
	}
	gd := e.doc(d.ID)
	if gd.DecidedAt != nil || gd.ReviewerID != reviewer || !gd.DestroyAfter.Equal(d.DestroyAfter) {
		e.t.Errorf("document changed: decided %v, reviewer %q, destroy_after %v", gd.DecidedAt, gd.ReviewerID, gd.DestroyAfter)
	}
	if _, err := e.review.Task(e.ctx, reviewer, d.ID); err != nil {
		e.t.Errorf("the task is no longer the reviewer's: %v", err)
	}
	if calls := e.jobs.all(); len(calls) != 0 {
		e.t.Errorf("%d jobs enqueued", len(calls))
	}
	if n := e.riverJobs(); len(n) != 0 {
		e.t.Errorf("river_job holds %v", n)
	}
}

var samples = sync.OnceValues(func() ([][]byte, error) {
	card := samplecard.Card{Type: kakunin.DocDriversLicence, Name: "SATO HANAKO", BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC),
		Issuer: "TOKYO PREFECTURAL POLICE (SAMPLE)", Number: "SAMPLE-0000-1234", Seed: 1}
	j, err := samplecard.Render(card)
	if err != nil {
		return nil, err
	}
	card.Seed = 2
	p, err := samplecard.RenderPNG(card)
	if err != nil {
		return nil, err
	}
	return [][]byte{j, p}, nil
})

func sampleJPEG(t *testing.T) []byte {
	t.Helper()
	s, err := samples()
	if err != nil {
		t.Fatal(err)
	}
	return s[0]
}

func samplePNG(t *testing.T) []byte {
	t.Helper()
	s, err := samples()
	if err != nil {
		t.Fatal(err)
	}
	return s[1]
}
