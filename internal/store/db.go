package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/kakunin/kakunin"
)

//go:embed migrations
var migrations embed.FS

// DB is kakunin's database. Its query methods come from the embedded Queries;
// WithTx runs several of them atomically.
type DB struct {
	Queries
	sql      *sql.DB
	dialect  Dialect
	lockPath string // SQLite: the file locked while migrating
}

// Open opens the database at dsn (see OpenSQL) and applies migrations,
// under the migration lock so replicas starting together run them once.
func Open(ctx context.Context, dsn string) (*DB, error) {
	sqldb, dialect, err := OpenSQL(ctx, dsn)
	if err != nil {
		return nil, err
	}
	db := &DB{Queries: Queries{q: sqldb, engine: dialect}, sql: sqldb, dialect: dialect}
	if dialect == SQLite {
		db.lockPath = sqlitePath(dsn) + ".migrate-lock"
	}
	if err := db.Migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return db, nil
}

// SQL returns the underlying handle (the job queue shares it).
func (db *DB) SQL() *sql.DB { return db.sql }

// Dialect says which engine this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes the database.
func (db *DB) Close() error { return db.sql.Close() }

// Tx is a transaction with the same query methods as DB.
type Tx struct {
	Queries
	tx *sql.Tx
}

// SQL returns the underlying transaction, so that a job can be enqueued in it.
func (tx *Tx) SQL() *sql.Tx { return tx.tx }

// WithTx runs f in a transaction, committing when f returns nil.
func (db *DB) WithTx(ctx context.Context, f func(tx *Tx) error) error {
	sqltx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(&Tx{Queries: Queries{q: sqltx, emails: db.emails, engine: db.dialect}, tx: sqltx}); err != nil {
		sqltx.Rollback()
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Queries holds every query; DB and Tx run them on a connection or a
// transaction. Placeholders are $1, $2…: both engines accept them.
type Queries struct {
	q      querier
	emails StaffEmails // seals and opens staff addresses; nil until UseStaffEmails
	// engine is the dialect, for the few queries whose SQL differs.
	engine Dialect
}

// micros stores times as Unix microseconds, the same in both engines.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// isUniqueViolation reports whether err is a unique index refusing a row,
// on either engine.
func isUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505" // unique_violation
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return lite.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
	}
	return false
}

// affectedOne reports whether exactly one row changed.
func affectedOne(res sql.Result) (bool, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// HoldsData reports whether the database holds anything that keys sealed
// or that needs keys to read: members, documents, staff, epochs. kakunin
// refuses to make new keys for such a database (they could open none of
// it).
func (q Queries) HoldsData(ctx context.Context) (bool, error) {
	var held bool
	err := q.q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM members) OR EXISTS (SELECT 1 FROM documents)
		OR EXISTS (SELECT 1 FROM staff) OR EXISTS (SELECT 1 FROM epochs)`).Scan(&held)
	if err != nil {
		return false, fmt.Errorf("does the database hold data: %w", err)
	}
	return held, nil
}

// BackupInto writes a consistent copy of a SQLite database to the new
// file path while the service runs (VACUUM INTO reads one snapshot, and
// writers go on). PostgreSQL is backed up with its own tools: pg_dump or
// the provider's snapshots.
func (db *DB) BackupInto(ctx context.Context, path string) error {
	if db.dialect != SQLite {
		return kakunin.Errorf(kakunin.EINVALID, "only a SQLite database can be backed up by kakunin; back PostgreSQL up with pg_dump or your provider's snapshots")
	}
	if _, err := db.sql.ExecContext(ctx, `VACUUM INTO $1`, path); err != nil {
		return fmt.Errorf("back up the database: %w", err)
	}
	return nil
}

// InstallationID returns the installation's identity, recording newID as
// it the first time (migration 00012): every later call, from any process
// or replica, gets the one that was stored first.
func (q Queries) InstallationID(ctx context.Context, newID string, now time.Time) (string, error) {
	if _, err := q.q.ExecContext(ctx, `INSERT INTO installation (singleton, id, created_at) VALUES (1, $1, $2) ON CONFLICT (singleton) DO NOTHING`,
		newID, micros(now)); err != nil {
		return "", fmt.Errorf("record the installation's ID: %w", err)
	}
	var id string
	if err := q.q.QueryRowContext(ctx, `SELECT id FROM installation WHERE singleton = 1`).Scan(&id); err != nil {
		return "", fmt.Errorf("read the installation's ID: %w", err)
	}
	return id, nil
}
