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
	rows, err := db.q.QueryContext(ctx, `SELECT s.id, s.email, s.email_sealed, s.role, COUNT(*), MIN(r.at), MAX(r.at)
		FROM staff s JOIN `+reads+` ON r.staff_id = s.id
		WHERE r.at >= $1 AND r.at <= $2
		GROUP BY s.id, s.email, s.email_sealed, s.role
		ORDER BY COUNT(*) DESC, s.id`, micros(from), micros(to))
	if err != nil {
		return nil, fmt.Errorf("scope reads by staff: %w", err)
	}
	defer rows.Close()
	var out []StaffReadCount
	for rows.Next() {
		var c StaffReadCount
		var role, legacy string
		var sealed []byte
		var first, last int64
		if err := rows.Scan(&c.StaffID, &legacy, &sealed, &role, &c.Reads, &first, &last); err != nil {
			return nil, fmt.Errorf("scope reads by staff: %w", err)
		}
		c.Email = db.reportStaffEmail(sealed, legacy)
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
	query := `SELECT r.at, r.staff_id, s.email, s.email_sealed, COALESCE(s.role, ''), r.document_id, r.document_type, r.origin
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
	emails := staffEmailCache{q: q}
	for rows.Next() {
		var r ScopedRead
		var at int64
		var role, typ string
		var legacy sql.NullString
		var sealed []byte
		if err := rows.Scan(&at, &r.StaffID, &legacy, &sealed, &role, &r.DocumentID, &typ, &r.Origin); err != nil {
			return fmt.Errorf("scope reads: %w", err)
		}
		if r.Email, err = emails.open(r.StaffID, sealed, legacy); err != nil {
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
