package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// ErrSchemaNewer says the database was migrated by a newer kakunin than this
// one: running an old binary against it could misread or damage records.
var ErrSchemaNewer = errors.New("database schema is newer than this kakunin")

// migrationLockKey is the first half of the PostgreSQL advisory lock taken
// while migrating ("kkn"); the second half is the schema's hash, so
// installations (or test schemas) sharing a server do not wait for each other.
const migrationLockKey = 0x6b6b6e

// Migrate applies every pending migration embedded in the binary, under the
// migration lock. It refuses, changing nothing, when the database already
// has migrations this binary does not know.
func (db *DB) Migrate(ctx context.Context) error {
	return db.WithMigrationLock(ctx, db.migrate)
}

func (db *DB) migrate(ctx context.Context) error {
	p, err := migrator(db.sql, db.dialect)
	if err != nil {
		return err
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	var known int64
	if src := p.ListSources(); len(src) > 0 {
		known = src[len(src)-1].Version
	}
	if current > known {
		return fmt.Errorf("%w: the database is at schema version %d, this binary knows up to %d; "+
			"a newer kakunin has migrated it — run that release (or a later one), never an older one", ErrSchemaNewer, current, known)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// WithMigrationLock runs f while holding the lock every kakunin process
// takes to migrate this database: PostgreSQL's session advisory lock (on a
// connection of its own, released when f returns or the connection dies),
// or for SQLite an exclusive lock on a file beside the database. A second
// replica starting at the same moment waits, then finds nothing to do.
func (db *DB) WithMigrationLock(ctx context.Context, f func(ctx context.Context) error) error {
	if db.dialect != Postgres {
		unlock, err := lockFile(ctx, db.lockPath)
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		defer unlock()
		return f(ctx)
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1, hashtext(current_schema()))", migrationLockKey); err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1, hashtext(current_schema()))", migrationLockKey)
	return f(ctx)
}

// migrator is goose over the embedded migrations of dialect.
func migrator(sqldb *sql.DB, dialect Dialect) (*goose.Provider, error) {
	dir, gd := "migrations/sqlite", goose.DialectSQLite3
	if dialect == Postgres {
		dir, gd = "migrations/postgres", goose.DialectPostgres
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	p, err := goose.NewProvider(gd, sqldb, fsys)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}
