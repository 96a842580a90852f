package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// env is kakunin's upload path wired as openApp wires it (cmd/kakunin/app.go),
// on a data directory of its own: the database, the keys, the file:// blob
// store, and beside them the directory the raw baseline writes to, so that
// both write to the same filesystem.
type env struct {
	dir           string
	raw           *rawWriter
	db            *store.DB
	vault         *vault.Vault
	blobs         *blobstore.Store
	documents     *document.Service
	verifications *verification.Service
	limits        intake.Limits
	dropSchema    func() // removes the benchmark's PostgreSQL schema, if any
}

// openEnv creates a data directory under parent (the system temp dir when
// empty) and opens kakunin in it. With a postgres:// DSN the records go to
// a new schema of that database, dropped by close; otherwise to a SQLite
// file in the data directory.
func openEnv(ctx context.Context, parent, dsn string) (*env, error) {
	dir, err := os.MkdirTemp(parent, "kakunin-bench-")
	if err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	e := &env{dir: dir, dropSchema: func() {}}
	if e.raw, err = openRawWriter(filepath.Join(dir, "raw")); err != nil {
		e.close()
		return nil, err
	}
	if dsn == "" {
		dsn = filepath.Join(dir, "kakunin.db")
	} else if dsn, err = e.benchSchema(ctx, dsn); err != nil {
		e.close()
		return nil, err
	}
	if e.db, err = store.Open(ctx, dsn); err != nil {
		e.close()
		return nil, err
	}
	kek, err := vault.OpenLocalKeyset(filepath.Join(dir, "keys", "master.json"))
	if err != nil {
		e.close()
		return nil, fmt.Errorf("key-encryption keyset: %w", err)
	}
	if e.vault, err = vault.New(ctx, kek, filepath.Join(dir, "keys")); err != nil {
		e.close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	if e.blobs, err = blobstore.Open(ctx, "file://"+filepath.ToSlash(filepath.Join(dir, "blobs"))); err != nil {
		e.close()
		return nil, err
	}
	// The server's defaults (config: --max-upload-mb 20, --max-megapixels 50).
	e.limits = intake.DefaultLimits()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e.documents = &document.Service{DB: e.db, Vault: e.vault, Blobs: e.blobs, Limits: e.limits,
		RetainUnreviewed: 30 * 24 * time.Hour, Audit: &audit.Log{DB: e.db, Now: time.Now}, Now: time.Now, Log: log}
	e.verifications = &verification.Service{DB: e.db, Keys: e.vault, Audit: e.documents.Audit, Documents: e.documents,
		PublicURL: "http://127.0.0.1:8080", LinkTTL: 7 * 24 * time.Hour, Now: time.Now, Jobs: discardJobs{}}
	e.documents.Events = e.verifications
	return e, nil
}

// benchSchema creates a schema of its own in the PostgreSQL database at dsn
// and returns a DSN whose search_path is that schema, so the benchmark's
// tables and rows never mix with anything else there.
func (e *env) benchSchema(ctx context.Context, dsn string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("-database must be a postgres:// URL")
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", fmt.Errorf("open postgres: %w", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "kakunin_bench_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		return "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	e.dropSchema = func() {
		admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func (e *env) close() {
	if e.raw != nil {
		e.raw.close()
	}
	if e.blobs != nil {
		e.blobs.Close()
	}
	if e.db != nil {
		e.db.Close()
	}
	e.dropSchema()
}

// remove closes e and deletes its data directory.
func (e *env) remove() {
	e.close()
	os.RemoveAll(e.dir)
}

// members registers n members, one per input, untimed.
func (e *env) members(ctx context.Context, n int) ([]string, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%06d", i)
		email := fmt.Sprintf("bench-%06d@example.test", i)
		if _, _, err := e.verifications.UpsertMember(ctx, ids[i], email, kakunin.LocaleEN); err != nil {
			return nil, fmt.Errorf("register member: %w", err)
		}
	}
	return ids, nil
}

// awaitingUpload opens a fresh verification for each member, as the host
// platform does before handing a member the upload link; each Commit uses
// one up.
func (e *env) awaitingUpload(ctx context.Context, members []string) ([]*kakunin.Verification, error) {
	vs := make([]*kakunin.Verification, len(members))
	for i, m := range members {
		v, _, err := e.verifications.Create(ctx, m)
		if err != nil {
			return nil, fmt.Errorf("open verification: %w", err)
		}
		vs[i] = v
	}
	return vs, nil
}

// rawWriter is the baseline: what a minimal durable store of the same bytes
// does, with no sanitising, no encryption and no database.
type rawWriter struct {
	dir *os.File
}

// openRawWriter creates dir and keeps it open, to fsync after each file.
func openRawWriter(dir string) (*rawWriter, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	return &rawWriter{dir: d}, nil
}

// write creates a file, writes b, fsyncs the file and the directory (so
// the new name survives a crash too), and closes it.
func (r *rawWriter) write(name string, b []byte) error {
	f, err := os.OpenFile(filepath.Join(r.dir.Name(), name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := r.dir.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (r *rawWriter) close() { r.dir.Close() }

// sealOnly encrypts b to io.Discard the way Store does: a fresh data key
// wrapped by the day's epoch key, then AES256-GCM-HKDF-1MB streaming AEAD.
func (e *env) sealOnly(ctx context.Context, b []byte) error {
	w, _, err := e.vault.SealDocument(ctx, kakunin.NewID("doc"), vault.EpochOf(time.Now()), io.Discard)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	return w.Close()
}

// discardJobs takes the webhook jobs an upload enqueues (verification.submitted)
// and runs none: the benchmark times intake, not the host's webhooks. The
// event row is still written in the upload's transaction, as in the server.
type discardJobs struct{}

func (discardJobs) InsertTx(context.Context, *sql.Tx, river.JobArgs, *river.InsertOpts) error {
	return nil
}
