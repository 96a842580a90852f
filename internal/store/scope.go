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

// Incident scoping: which documents still had their ciphertext at some
// moment of a window [from, to] (both ends included), and which of them an
// intruder who also held the keys could have read. internal/incident gives
// these counts their meaning; the queries only count.
//
// A document's ciphertext existed in the window when it was received by
// the end (received_at <= to) and its blob was not deleted before the start
// (blob_deleted_at IS NULL or >= from). Its wrapped data key, its blob and
// its day's epoch key all exist from its receipt on (the epoch key from
// before), so they all existed at one common moment of the window exactly
// when none of them was gone before the start: destroyed_at and the
// epoch's destroyed_at are NULL or >= from. An epoch with no row in epochs
// counts as alive: when in doubt, scoping over-reports.

// scopeDocuments selects the documents whose ciphertext existed in [$1, $2].
// Written as two ranges of documents_scope (00005_scope.sql) rather than
// "IS NULL OR >=", which neither engine reads from one covering index.
const scopeDocuments = `SELECT d.member_id, d.type, d.epoch, d.destroyed_at FROM documents d
		WHERE d.blob_deleted_at IS NULL AND d.received_at <= $2
	UNION ALL
	SELECT d.member_id, d.type, d.epoch, d.destroyed_at FROM documents d
		WHERE d.blob_deleted_at >= $1 AND d.received_at <= $2`

// readableWithKeys says, of a row s of scopeDocuments, that its wrapped
// data key and its epoch key both still existed at $1. The epoch test is an
// uncorrelated NOT IN: the destroyed epochs are read once per query (one
// per day at most) and each row probes them, instead of a join per row.
// (A NULL in the list would make NOT IN true for no row: SQLite lets a
// TEXT primary key hold one.)
const readableWithKeys = `(s.destroyed_at IS NULL OR s.destroyed_at >= $1)
	AND s.epoch NOT IN (SELECT epoch FROM epochs WHERE destroyed_at < $1 AND epoch IS NOT NULL)`

// ScopeTypeCount counts one document type's documents in a window.
type ScopeTypeCount struct {
	Type kakunin.DocumentType
	// Existing documents had their ciphertext (blob) at some moment of the window.
	Existing int64
	// ReadableWithKeys of them also had their wrapped data key and their
	// epoch key then: readable to someone holding the database, the blob
	// store, the key-encryption keyset and the epoch key files.
	ReadableWithKeys int64
}

// ScopeDocumentsByType counts, per document type, the documents whose
// ciphertext existed at some moment of [from, to] and those of them that
// were readable with the keys: one row per type of types, in that order,
// then one per other type found, in name order.
func (q Queries) ScopeDocumentsByType(ctx context.Context, from, to time.Time, types []kakunin.DocumentType) ([]ScopeTypeCount, error) {
	// One pass with a pair of sums per known type: a GROUP BY would sort
	// every row in scope (SQLite has no hash aggregation), which took most
	// of the time over millions of documents.
	var sums strings.Builder
	args := []any{micros(from), micros(to)}
	for _, t := range types {
		args = append(args, string(t))
		p := "$" + strconv.Itoa(len(args))
		fmt.Fprintf(&sums, `, CAST(COALESCE(SUM(CASE WHEN s.type = %s THEN 1 ELSE 0 END), 0) AS BIGINT)
			, CAST(COALESCE(SUM(CASE WHEN s.type = %s THEN s.r ELSE 0 END), 0) AS BIGINT)`, p, p)
	}
	dest := make([]any, 0, 2+2*len(types))
	var all ScopeTypeCount
	dest = append(dest, &all.Existing, &all.ReadableWithKeys)
	out := make([]ScopeTypeCount, len(types))
	for i, t := range types {
		out[i].Type = t
		dest = append(dest, &out[i].Existing, &out[i].ReadableWithKeys)
	}
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(s.r), 0) AS BIGINT)`+sums.String()+`
		FROM (SELECT s.type, CASE WHEN `+readableWithKeys+` THEN 1 ELSE 0 END AS r
			FROM (`+scopeDocuments+`) s) s`, args...).Scan(dest...)
	if err != nil {
		return nil, fmt.Errorf("scope documents by type: %w", err)
	}
	var known int64
	for _, c := range out {
		known += c.Existing
	}
	if all.Existing == known {
		return out, nil
	}
	others, err := q.scopeOtherTypes(ctx, from, to, types)
	if err != nil {
		return nil, err
	}
	return append(out, others...), nil
}

// scopeOtherTypes counts the documents of types not in types: intake takes
// none, so this runs only on a database that was changed by hand.
func (q Queries) scopeOtherTypes(ctx context.Context, from, to time.Time, types []kakunin.DocumentType) ([]ScopeTypeCount, error) {
	args := []any{micros(from), micros(to)}
	var in []string
	for _, t := range types {
		args = append(args, string(t))
		in = append(in, "$"+strconv.Itoa(len(args)))
	}
	notIn := ""
	if len(in) > 0 {
		notIn = ` WHERE s.type NOT IN (` + strings.Join(in, ", ") + `)`
	}
	rows, err := q.q.QueryContext(ctx, `SELECT s.type, COUNT(*), CAST(SUM(CASE WHEN `+readableWithKeys+` THEN 1 ELSE 0 END) AS BIGINT)
		FROM (`+scopeDocuments+`) s`+notIn+` GROUP BY s.type ORDER BY s.type`, args...)
	if err != nil {
		return nil, fmt.Errorf("scope documents of other types: %w", err)
	}
	defer rows.Close()
	var out []ScopeTypeCount
	for rows.Next() {
		var c ScopeTypeCount
		var typ string
		if err := rows.Scan(&typ, &c.Existing, &c.ReadableWithKeys); err != nil {
			return nil, fmt.Errorf("scope documents of other types: %w", err)
		}
		c.Type = kakunin.DocumentType(typ)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scope documents of other types: %w", err)
	}
	return out, nil
}

// ScopeMemberSplit counts distinct members, and those of them who had left
// the platform (members.deleted_at) by the end of the window or after it.
type ScopeMemberSplit struct {
	Total         int64
	LeftBeforeEnd int64 // deleted_at <= to
	LeftSince     int64 // deleted_at > to
}

// scopeMembers is how the member queries look members up, after grouping
// the documents by member: members_scope (00005_scope.sql) carries id,
// deleted_at and external_id, so a look-up reads one index and not the
// table too, and the groups come out sorted by member ID, so the look-ups
// walk that index in order (1.6 million of them in under a second, against
// five in random order). SQLite's planner rates the primary key's unique
// index higher, so it is told to use this one.
func (db *DB) scopeMembers() string {
	if db.dialect == SQLite {
		return `members m INDEXED BY members_scope`
	}
	return `members m`
}

// ScopeMemberCounts counts the distinct members with at least one document
// whose ciphertext existed in [from, to], and those with at least one
// document readable with the keys, each split by whether they had left.
func (db *DB) ScopeMemberCounts(ctx context.Context, from, to time.Time) (existing, readable ScopeMemberSplit, err error) {
	var e1, e2, e3, r1, r2, r3 sql.NullInt64
	err = db.q.QueryRowContext(ctx, `SELECT COUNT(*),
			CAST(SUM(CASE WHEN m.deleted_at <= $2 THEN 1 ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN m.deleted_at > $2 THEN 1 ELSE 0 END) AS BIGINT),
			CAST(SUM(a.r) AS BIGINT),
			CAST(SUM(CASE WHEN a.r = 1 AND m.deleted_at <= $2 THEN 1 ELSE 0 END) AS BIGINT),
			CAST(SUM(CASE WHEN a.r = 1 AND m.deleted_at > $2 THEN 1 ELSE 0 END) AS BIGINT)
		FROM (SELECT s.member_id, MAX(CASE WHEN `+readableWithKeys+` THEN 1 ELSE 0 END) AS r
			FROM (`+scopeDocuments+`) s GROUP BY s.member_id) a
		LEFT JOIN `+db.scopeMembers()+` ON m.id = a.member_id`, micros(from), micros(to)).Scan(&e1, &e2, &e3, &r1, &r2, &r3)
	if err != nil {
		return existing, readable, fmt.Errorf("scope member counts: %w", err)
	}
	existing = ScopeMemberSplit{Total: e1.Int64, LeftBeforeEnd: e2.Int64, LeftSince: e3.Int64}
	readable = ScopeMemberSplit{Total: r1.Int64, LeftBeforeEnd: r2.Int64, LeftSince: r3.Int64}
	return existing, readable, nil
}

// ScopeMembers calls fn with the external ID of every member with at least
// one document whose ciphertext existed in [from, to] (with readableOnly,
// one readable with the keys), once each, in byte order of the IDs (Go's
// string order), whatever the database's locale.
//
// fn runs while the query's rows are open: on SQLite, whose one connection
// they hold, fn must not use the database (collect what it needs instead).
func (db *DB) ScopeMembers(ctx context.Context, from, to time.Time, readableOnly bool, fn func(externalID string) error) error {
	where := ""
	if readableOnly {
		where = ` WHERE ` + readableWithKeys
	}
	// PostgreSQL would order by the database's locale; "C" is bytewise, as
	// SQLite's default BINARY collation already is.
	order := `m.external_id`
	if db.dialect == Postgres {
		order += ` COLLATE "C"`
	}
	// GROUP BY rather than DISTINCT: SQLite sorts for the one and builds a
	// temporary B-tree for the other, four times slower over a million rows.
	rows, err := db.q.QueryContext(ctx, `SELECT m.external_id
		FROM (SELECT s.member_id FROM (`+scopeDocuments+`) s`+where+` GROUP BY s.member_id) a
		JOIN `+db.scopeMembers()+` ON m.id = a.member_id
		ORDER BY `+order, micros(from), micros(to))
	if err != nil {
		return fmt.Errorf("scope members: %w", err)
	}
	return eachString(rows, "scope members", fn)
}

// StaffReadCount sums one staff member's reads of document images in a window.
type StaffReadCount struct {
	StaffID string
	Email   string
	Role    kakunin.Role
	Reads   int64 // images opened
	First   time.Time
	Last    time.Time
}

// ScopeReadsByStaff sums the document reads of [from, to] per staff member,
// most reads first.
func (db *DB) ScopeReadsByStaff(ctx context.Context, from, to time.Time) ([]StaffReadCount, error) {
	// For each staff member, one range of document_reads_staff (staff_id,
	// at), which holds all this needs: no sort and no look-up per read.
	// SQLite's planner would rather take the window from document_reads_at
	// and visit the table for every read, five times slower over two
	// million; so it is told. (document_reads.staff_id references staff, so
	// the join drops no read.)
	reads := `document_reads r`
	if db.dialect == SQLite {
		reads += ` INDEXED BY document_reads_staff`
	}
	rows, err := db.q.QueryContext(ctx, `SELECT s.id, s.email, s.role, COUNT(*), MIN(r.at), MAX(r.at)
		FROM staff s JOIN `+reads+` ON r.staff_id = s.id
		WHERE r.at >= $1 AND r.at <= $2
		GROUP BY s.id, s.email, s.role
		ORDER BY COUNT(*) DESC, s.id`, micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("scope reads by staff: %w", err)
	}
	defer rows.Close()
	var out []StaffReadCount
	for rows.Next() {
		var c StaffReadCount
		var role string
		var first, last int64
		if err := rows.Scan(&c.StaffID, &c.Email, &role, &c.Reads, &first, &last); err != nil {
			return nil, fmt.Errorf("scope reads by staff: %w", err)
		}
		c.Role, c.First, c.Last = kakunin.Role(role), fromMicros(first), fromMicros(last)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scope reads by staff: %w", err)
	}
	return out, nil
}

// ScopedRead is one opening of a document image, with who opened it.
type ScopedRead struct {
	At           time.Time
	StaffID      string
	Email        string // "" if the account no longer exists
	Role         kakunin.Role
	DocumentID   string
	DocumentType kakunin.DocumentType
	Origin       string // keyed hash of the client address
}

// ScopeReads calls fn with the document reads of [from, to] in time order,
// at most limit of them (0: all). Like ScopeMembers, fn must not use the
// database on SQLite.
func (q Queries) ScopeReads(ctx context.Context, from, to time.Time, limit int, fn func(ScopedRead) error) error {
	return q.scopeReads(ctx, from, to, limit, "r.at, r.id", fn)
}

// ScopeReadsNewest is ScopeReads newest first: the limit keeps the latest
// reads of a window without walking all of them.
func (q Queries) ScopeReadsNewest(ctx context.Context, from, to time.Time, limit int, fn func(ScopedRead) error) error {
	return q.scopeReads(ctx, from, to, limit, "r.at DESC, r.id DESC", fn)
}

func (q Queries) scopeReads(ctx context.Context, from, to time.Time, limit int, order string, fn func(ScopedRead) error) error {
	query := `SELECT r.at, r.staff_id, COALESCE(s.email, ''), COALESCE(s.role, ''), r.document_id, r.document_type, r.origin
		FROM document_reads r LEFT JOIN staff s ON s.id = r.staff_id
		WHERE r.at >= $1 AND r.at <= $2 ORDER BY ` + order
	args := []any{micros(from), micros(to)}
	if limit > 0 {
		query += ` LIMIT $3`
		args = append(args, limit)
	}
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("scope reads: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ScopedRead
		var at int64
		var role, typ string
		if err := rows.Scan(&at, &r.StaffID, &r.Email, &role, &r.DocumentID, &typ, &r.Origin); err != nil {
			return fmt.Errorf("scope reads: %w", err)
		}
		r.At, r.Role, r.DocumentType = fromMicros(at), kakunin.Role(role), kakunin.DocumentType(typ)
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("scope reads: %w", err)
	}
	return nil
}

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
	if err := f(&BulkTx{Tx: Tx{Queries: Queries{q: sqltx}, tx: sqltx}, dialect: db.dialect}); err != nil {
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

// eachString hands fn the one text column of each row, closing rows. fn
// runs while the rows are open: on SQLite it must not use the database.
func eachString(rows *sql.Rows, what string, fn func(string) error) error {
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
