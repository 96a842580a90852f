package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
)

// Bulk loading, for the synthetic-data generator (kakunin dev seed). These
// write rows as given, lifecycle included, with no checks of the rules the
// services keep: they are for throw-away databases.

// MembersExist reports whether the database holds any member.
func (q Queries) MembersExist(ctx context.Context) (bool, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM members LIMIT 1) m`).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("any members: %w", err)
	}
	return n > 0, nil
}

// BulkTx is a transaction that can also insert many rows per statement.
type BulkTx struct {
	Tx
	dialect Dialect
	stmts   map[string]*sql.Stmt // full-size INSERTs, prepared once a transaction
}

// WithBulkTx runs f in a transaction, committing when f returns nil.
//
// On SQLite it first sets up its connection for loading: a page cache of
// bulkCacheKiB, since rows keyed by random IDs land all over their indexes
// and with the default 2 MB cache a load spent half its time re-reading
// pages; statement journals in memory; and foreign keys unchecked, which
// also spares every multi-row INSERT its statement journal (a fifth of the
// time). The caller inserts parents first all the same: PostgreSQL checks.
func (db *DB) WithBulkTx(ctx context.Context, f func(tx *BulkTx) error) error {
	if db.dialect != SQLite {
		return db.WithTx(ctx, func(tx *Tx) error { return f(&BulkTx{Tx: *tx, dialect: db.dialect}) })
	}
	conn, err := db.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("bulk load: %w", err)
	}
	defer conn.Close()
	// The connection goes back to the pool afterwards: put back what was
	// there, so that later queries run as the service's would. (Foreign
	// keys cannot change inside a transaction: this is set around one.)
	settings := []string{"cache_size", "temp_store", "foreign_keys"}
	loading := []string{"-" + strconv.Itoa(bulkCacheKiB), "MEMORY", "OFF"}
	for i, name := range settings {
		var was string
		if err := conn.QueryRowContext(ctx, `PRAGMA `+name).Scan(&was); err != nil {
			return fmt.Errorf("bulk load: read %s: %w", name, err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA `+name+` = `+was)
		if _, err := conn.ExecContext(ctx, `PRAGMA `+name+` = `+loading[i]); err != nil {
			return fmt.Errorf("bulk load: set %s: %w", name, err)
		}
	}
	sqltx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := f(&BulkTx{Tx: Tx{Queries: Queries{q: sqltx, emails: db.emails, engine: db.dialect}, tx: sqltx}, dialect: db.dialect}); err != nil {
		sqltx.Rollback()
		return err
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

const bulkCacheKiB = 1 << 20

// FinishBulkLoad leaves the database as a long-running service would have
// it after a bulk load. On SQLite it folds the write-ahead log (gigabytes
// after millions of rows) back into the database file and truncates it. On
// PostgreSQL, VACUUM ANALYZE does what autovacuum would in time: statistics
// for the planner, and the visibility map that lets index-only scans skip
// the table.
func (db *DB) FinishBulkLoad(ctx context.Context) error {
	stmt := `PRAGMA wal_checkpoint(TRUNCATE)`
	if db.dialect == Postgres {
		stmt = `VACUUM ANALYZE`
	}
	if _, err := db.sql.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("after bulk load: %s: %w", stmt, err)
	}
	return nil
}

// DocumentLifecycle is a document row with every lifecycle time, as a bulk
// load writes it.
type DocumentLifecycle struct {
	DocumentRecord
	BlobDeletedAt *time.Time
	AssignedAt    *time.Time
}

// EpochHistory is an epochs row: when a day's epoch key was made and destroyed.
type EpochHistory struct {
	Epoch       string
	CreatedAt   time.Time
	DestroyedAt *time.Time
}

// InsertMembers inserts members, many per statement.
func (tx *BulkTx) InsertMembers(ctx context.Context, ms []*MemberRecord) error {
	args := make([]any, 0, len(ms)*8)
	for _, m := range ms {
		args = append(args, m.ID, m.ExternalID, m.EmailSealed, m.EmailIndex, string(m.Locale), micros(m.CreatedAt), micros(m.UpdatedAt), nullMicros(m.DeletedAt))
	}
	return tx.insertRows(ctx, "members", memberColumns, 8, args)
}

const bulkVerificationColumns = `id, member_id, status, expires_at, created_at, updated_at,
	adult, document_type, document_name, issuer, birth_date, reject_reason, checked_at, checked_by`

// InsertVerifications inserts verifications with their results.
func (tx *BulkTx) InsertVerifications(ctx context.Context, vs []*kakunin.Verification) error {
	args := make([]any, 0, len(vs)*14)
	for _, v := range vs {
		args = append(args, v.ID, v.MemberID, string(v.Status), micros(v.ExpiresAt), micros(v.CreatedAt), micros(v.UpdatedAt))
		if r := v.Result; r != nil {
			args = append(args, r.Adult, string(r.DocumentType), nullString(r.DocumentName), nullString(r.Issuer), nullString(r.BirthDate),
				nullString(r.RejectReason), micros(r.CheckedAt), nullString(r.CheckedBy))
		} else {
			args = append(args, nil, nil, nil, nil, nil, nil, nil, nil)
		}
	}
	return tx.insertRows(ctx, "verifications", bulkVerificationColumns, 14, args)
}

const bulkDocumentColumns = `id, verification_id, member_id, type, content_type, size, width, height, orientation, epoch, blob_key,
	wrapped_key, received_at, decided_at, destroy_after, destroyed_at, blob_deleted_at, reviewer_id, assigned_at`

// InsertDocuments inserts documents with their whole lifecycle.
func (tx *BulkTx) InsertDocuments(ctx context.Context, ds []*DocumentLifecycle) error {
	args := make([]any, 0, len(ds)*19)
	for _, d := range ds {
		args = append(args, d.ID, d.VerificationID, d.MemberID, string(d.Type), d.ContentType, d.Size, d.Width, d.Height,
			orientationOrNormal(d.Orientation), d.Epoch, d.BlobKey, d.WrappedKey, micros(d.ReceivedAt), nullMicros(d.DecidedAt),
			micros(d.DestroyAfter), nullMicros(d.DestroyedAt), nullMicros(d.BlobDeletedAt), nullString(d.ReviewerID), nullMicros(d.AssignedAt))
	}
	return tx.insertRows(ctx, "documents", bulkDocumentColumns, 19, args)
}

// InsertEpochs records epoch history rows. An epoch already recorded (a
// second load over the same days) keeps the earlier creation, and stays
// alive unless both say it was destroyed, then until the later time.
func (tx *BulkTx) InsertEpochs(ctx context.Context, es []EpochHistory) error {
	for _, e := range es {
		_, err := tx.tx.ExecContext(ctx, `INSERT INTO epochs (epoch, created_at, destroyed_at) VALUES ($1, $2, $3)
			ON CONFLICT (epoch) DO UPDATE SET
				created_at = CASE WHEN excluded.created_at < epochs.created_at THEN excluded.created_at ELSE epochs.created_at END,
				destroyed_at = CASE WHEN epochs.destroyed_at IS NULL OR excluded.destroyed_at IS NULL THEN NULL
					WHEN excluded.destroyed_at > epochs.destroyed_at THEN excluded.destroyed_at ELSE epochs.destroyed_at END`,
			e.Epoch, micros(e.CreatedAt), nullMicros(e.DestroyedAt))
		if err != nil {
			return fmt.Errorf("insert epoch %s: %w", e.Epoch, err)
		}
	}
	return nil
}

// InsertDocumentReads inserts document reads.
func (tx *BulkTx) InsertDocumentReads(ctx context.Context, rs []*DocumentRead) error {
	args := make([]any, 0, len(rs)*6)
	for _, r := range rs {
		args = append(args, r.DocumentID, r.StaffID, r.MemberID, r.DocumentType, r.Origin, micros(r.At))
	}
	return tx.insertRows(ctx, "document_reads", "document_id, staff_id, member_id, document_type, origin, at", 6, args)
}

// maxParams bounds one statement's parameters: below SQLite's 32766 and
// PostgreSQL's 65535. Past a few hundred rows a statement, bigger ones save
// nothing measurable.
const maxParams = 8000

// insertRows inserts len(args)/ncols rows into table, as many per statement
// as maxParams allows.
func (tx *BulkTx) insertRows(ctx context.Context, table, columns string, ncols int, args []any) error {
	perStmt := maxParams / ncols
	var full string // the statement for perStmt rows, built once a call
	for len(args) > 0 {
		n := min(len(args)/ncols, perStmt)
		var err error
		if n == perStmt {
			if full == "" {
				full = insertStatement(tx.dialect, table, columns, ncols, n)
			}
			err = tx.execPrepared(ctx, full, args[:n*ncols])
		} else {
			_, err = tx.tx.ExecContext(ctx, insertStatement(tx.dialect, table, columns, ncols, n), args[:n*ncols]...)
		}
		if err != nil {
			return fmt.Errorf("insert %d rows into %s: %w", n, table, err)
		}
		args = args[n*ncols:]
	}
	return nil
}

// execPrepared runs query, parsing it only the first time in the
// transaction: parsing thousands of placeholders took a tenth of the time.
func (tx *BulkTx) execPrepared(ctx context.Context, query string, args []any) error {
	st := tx.stmts[query]
	if st == nil {
		var err error
		if st, err = tx.tx.PrepareContext(ctx, query); err != nil {
			return err
		}
		if tx.stmts == nil {
			tx.stmts = map[string]*sql.Stmt{}
		}
		tx.stmts[query] = st // closed with the transaction
	}
	_, err := st.ExecContext(ctx, args...)
	return err
}

// insertStatement writes a multi-row INSERT. Here, unlike elsewhere, SQLite
// gets anonymous "?" placeholders: it binds "$N" by name, looking each name
// up in a list, which costs time quadratic in the parameters of a statement
// (thousands here; an 8000-parameter INSERT spent 96% of its time there).
// And OR FAIL: on a conflict the statement stops where it is instead of
// undoing its earlier rows, so SQLite keeps no statement journal for it;
// the whole transaction is rolled back on the error anyway.
func insertStatement(dialect Dialect, table, columns string, ncols, rows int) string {
	var sb strings.Builder
	sb.Grow(len(columns) + rows*ncols*8 + 64)
	if dialect == Postgres {
		sb.WriteString("INSERT INTO ")
	} else {
		sb.WriteString("INSERT OR FAIL INTO ")
	}
	sb.WriteString(table + " (" + columns + ") VALUES ")
	p := 1
	for i := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteByte('(')
		for j := range ncols {
			if j > 0 {
				sb.WriteString(", ")
			}
			if dialect == Postgres {
				sb.WriteByte('$')
				sb.WriteString(strconv.Itoa(p))
			} else {
				sb.WriteByte('?')
			}
			p++
		}
		sb.WriteByte(')')
	}
	return sb.String()
}
