package verification_test

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/intake"
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

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// recorder is an Enqueuer that keeps the jobs it is given.
type recorder struct {
	mu   sync.Mutex
	jobs []river.JobArgs
}

func (r *recorder) InsertTx(_ context.Context, tx *sql.Tx, args river.JobArgs, _ *river.InsertOpts) error {
	if tx == nil {
		panic("InsertTx without a transaction")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, args)
	return nil
}

func (r *recorder) all() []river.JobArgs {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]river.JobArgs{}, r.jobs...)
}

type env struct {
	t      *testing.T
	ctx    context.Context
	db     *store.DB
	dbPath string // "" on PostgreSQL
	vault  *vault.Vault
	clock  *clock
	jobs   *recorder
	svc    *verification.Service
}

var start = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

const publicURL = "https://kakunin.example"

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	ctx := t.Context()
	root := t.TempDir()
	e := &env{t: t, ctx: ctx, clock: &clock{t: start}, jobs: &recorder{}}
	if !strings.HasPrefix(dsn, "postgres") {
		e.dbPath = dsn
	}
	var err error
	if e.db, err = store.Open(ctx, dsn); err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { e.db.Close() })
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
	docs := &document.Service{DB: e.db, Vault: e.vault, Blobs: blobs, Limits: intake.DefaultLimits(),
		RetainUnreviewed: 72 * time.Hour, Now: e.clock.Now,
		Log: slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))}
	e.svc = &verification.Service{DB: e.db, Keys: e.vault, Documents: docs, Jobs: e.jobs,
		PublicURL: publicURL, LinkTTL: 7 * 24 * time.Hour, Now: e.clock.Now}
	docs.Events = e.svc
	return e
}

// row is a member's stored address, as raw column bytes.
func (e *env) row(externalID string) (sealed, index []byte) {
	e.t.Helper()
	err := e.db.SQL().QueryRowContext(e.ctx, `SELECT email_sealed, email_index FROM members WHERE external_id = $1`, externalID).Scan(&sealed, &index)
	if err != nil {
		e.t.Fatalf("member row %s: %v", externalID, err)
	}
	return sealed, index
}

func (e *env) countMembers() int {
	e.t.Helper()
	var n int
	if err := e.db.SQL().QueryRowContext(e.ctx, `SELECT COUNT(*) FROM members`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}
