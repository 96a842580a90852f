// Package store keeps kakunin's records in SQL: SQLite (embedded, the
// default) or PostgreSQL (for scale), from the same queries. It holds no
// image bytes and no plaintext personal data: e-mail addresses and secrets
// arrive already sealed by the vault (invariants 1 and 2).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// Dialect names the SQL engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// OpenSQL opens the database named by dsn: a postgres:// or postgresql://
// URL, or else a SQLite file path (optionally prefixed with "sqlite:").
// SQLite gets WAL, a busy timeout so a CLI can write while the server runs,
// full fsync on commit (an acknowledged upload survives power loss) and a
// single connection, the one writer SQLite allows.
func OpenSQL(ctx context.Context, dsn string) (*sql.DB, Dialect, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, "", fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(20)
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			if transient(err) {
				err = fmt.Errorf("%w: %w", errUnreachable, err)
			}
			return nil, "", fmt.Errorf("connect to postgres: %w", err)
		}
		return db, Postgres, nil
	}
	path := sqlitePath(dsn)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, "", fmt.Errorf("create database directory: %w", err)
	}
	q := url.Values{}
	// busy_timeout first: switching a new file to WAL takes a write lock,
	// and processes opening it together must wait for it, not fail.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, "", fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, "", fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// The database file holds sealed e-mail addresses and wrapped keys:
	// readable by the service's user only.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
			db.Close()
			return nil, "", fmt.Errorf("restrict %s: %w", p, err)
		}
	}
	return db, SQLite, nil
}

// sqlitePath is the file a SQLite DSN names.
func sqlitePath(dsn string) string { return strings.TrimPrefix(dsn, "sqlite:") }

// transient reports whether a failed connection is worth retrying: the
// server did not answer, or answered that it is starting, shutting down or
// out of connections. A wrong password or a missing database is not.
func transient(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		return !errors.Is(err, context.Canceled)
	}
	switch pg.Code {
	case "57P03", "57P01", "53300": // cannot connect now, admin shutdown, too many connections
		return true
	}
	return strings.HasPrefix(pg.Code, "08") // connection exceptions
}

// IsDiskFull reports whether the database refused a write for lack of
// space: SQLite's SQLITE_FULL, PostgreSQL's disk_full (53100).
func IsDiskFull(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "53100"
	}
	var lite interface{ Code() int }
	if errors.As(err, &lite) {
		return lite.Code()&0xff == 13 // SQLITE_FULL and its extended codes
	}
	return false
}
