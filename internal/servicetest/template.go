package servicetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/store"
)

// A fresh SQLite database migrated from nothing costs tens of milliseconds
// of fsyncs, in every test. New instead starts a database that does not
// exist yet as a copy of one migrated once per test binary (with the job
// queue's tables too when the test wants a queue); opening the copy still
// runs the migrations, finding nothing to do. A file that already exists
// is left alone, so tests that prepare a database keep theirs.
var (
	migratedSQLite      = sync.OnceValues(func() ([]byte, error) { return migrateTemplate(false) })
	migratedSQLiteQueue = sync.OnceValues(func() ([]byte, error) { return migrateTemplate(true) })
)

// seedSQLite writes the migrated template to path if nothing is there.
func seedSQLite(dsn string, queue bool) error {
	path := strings.TrimPrefix(dsn, "sqlite:")
	if path == "" || path == ":memory:" {
		return nil // not a file: nothing to seed
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return err // nil when it exists: leave it alone
	}
	template := migratedSQLite
	if queue {
		template = migratedSQLiteQueue
	}
	b, err := template()
	if err != nil {
		return fmt.Errorf("migrated SQLite template: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// migrateTemplate returns the bytes of a migrated SQLite database, closed,
// so that its write-ahead log is folded into the file and removed.
func migrateTemplate(queue bool) ([]byte, error) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "kakunin-servicetest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "template.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	if queue {
		if err := jobs.Migrate(ctx, db.SQL(), db.Dialect(), slog.New(slog.DiscardHandler)); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := db.Close(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(path + "-wal"); err == nil {
		return nil, fmt.Errorf("%s-wal outlived the database", path)
	}
	return os.ReadFile(path)
}
