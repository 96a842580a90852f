package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
)

//go:embed migrations
var migrations embed.FS

// DB is kakunin's database. Its query methods come from the embedded Queries;
// WithTx runs several of them atomically.
type DB struct {
	Queries
	sql     *sql.DB
	dialect Dialect
}

// Open opens the database at dsn (see OpenSQL) and applies migrations.
func Open(ctx context.Context, dsn string) (*DB, error) {
	sqldb, dialect, err := OpenSQL(ctx, dsn)
	if err != nil {
		return nil, err
	}
	db := &DB{Queries: Queries{q: sqldb}, sql: sqldb, dialect: dialect}
	if err := db.Migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	return db, nil
}

// Migrate applies every pending migration embedded in the binary.
func (db *DB) Migrate(ctx context.Context) error {
	p, err := migrator(db.sql, db.dialect)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
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
	if err := f(&Tx{Queries: Queries{q: sqltx}, tx: sqltx}); err != nil {
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
type Queries struct{ q querier }

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

// affectedOne reports whether exactly one row changed.
func affectedOne(res sql.Result) (bool, error) {
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}
