package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AuditRecord is one row of the audit chain as stored. Detail is the JSON
// text of the row, kept raw so that a verifier can report a row whose
// detail was tampered into something that is not an object of strings.
// internal/audit gives these rows their meaning and their hashes.
type AuditRecord struct {
	Seq     int64
	At      time.Time
	Action  string
	Actor   string
	Subject string
	Origin  string
	Detail  string // JSON object of strings
	Hash    []byte
}

const auditColumns = `seq, at, action, actor, subject, origin, detail, hash`

func scanAudit(row interface{ Scan(...any) error }) (AuditRecord, error) {
	var r AuditRecord
	var at int64
	err := row.Scan(&r.Seq, &at, &r.Action, &r.Actor, &r.Subject, &r.Origin, &r.Detail, &r.Hash)
	r.At = fromMicros(at)
	return r, err
}

// LockAuditHead takes the chain's head row for the rest of the transaction
// and returns it. In PostgreSQL the UPDATE row-locks it, so concurrent
// appenders (other processes, other replicas) queue here and each reads the
// head its predecessor committed; SQLite transactions are BEGIN IMMEDIATE
// and so already hold the database's write lock.
func (q Queries) LockAuditHead(ctx context.Context) (seq int64, hash []byte, err error) {
	err = q.q.QueryRowContext(ctx, `UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash`).Scan(&seq, &hash)
	if err != nil {
		return 0, nil, fmt.Errorf("lock audit head: %w", err)
	}
	return seq, hash, nil
}

// AuditHead reads the head without locking it.
func (q Queries) AuditHead(ctx context.Context) (seq int64, hash []byte, err error) {
	err = q.q.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash)
	if err != nil {
		return 0, nil, fmt.Errorf("audit head: %w", err)
	}
	return seq, hash, nil
}

// SetAuditHead moves the head; call it in the transaction that took
// LockAuditHead.
func (q Queries) SetAuditHead(ctx context.Context, seq int64, hash []byte) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, seq, hash); err != nil {
		return fmt.Errorf("set audit head: %w", err)
	}
	return nil
}

// auditInsertRows bounds one multi-row INSERT: 8 parameters a row stays far
// below SQLite's 32766 and PostgreSQL's 65535 parameters a statement.
const auditInsertRows = 500

// InsertAuditRecords inserts rows, several per statement: a group-commit
// batch costs a few round trips, not one per event.
func (q Queries) InsertAuditRecords(ctx context.Context, recs []AuditRecord) error {
	for len(recs) > 0 {
		n := min(len(recs), auditInsertRows)
		var sb strings.Builder
		sb.WriteString(`INSERT INTO audit_events (` + auditColumns + `) VALUES `)
		args := make([]any, 0, n*8)
		for i, r := range recs[:n] {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(")
			for j := range 8 {
				if j > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString("$" + strconv.Itoa(i*8+j+1))
			}
			sb.WriteString(")")
			args = append(args, r.Seq, micros(r.At), r.Action, r.Actor, r.Subject, r.Origin, r.Detail, r.Hash)
		}
		if _, err := q.q.ExecContext(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("insert audit events %d..%d: %w", recs[0].Seq, recs[n-1].Seq, err)
		}
		recs = recs[n:]
	}
	return nil
}

// AuditRecords returns up to limit rows with after < seq <= through, in seq
// order: a verifier pages through the chain with it, holding one page at a
// time and no connection between pages.
func (q Queries) AuditRecords(ctx context.Context, after, through int64, limit int) ([]AuditRecord, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`, after, through, limit)
	if err != nil {
		return nil, fmt.Errorf("audit events after %d: %w", after, err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("scan audit event: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit events after %d: %w", after, err)
	}
	return out, nil
}

// AuditRecordsBetween returns up to limit rows with from <= at < to and
// seq > after, in seq order (exports page through a time range with it).
func (q Queries) AuditRecordsBetween(ctx context.Context, from, to time.Time, after int64, limit int) ([]AuditRecord, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE at >= $1 AND at < $2 AND seq > $3 ORDER BY seq LIMIT $4`, micros(from), micros(to), after, limit)
	if err != nil {
		return nil, fmt.Errorf("audit events between: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("scan audit event: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit events between: %w", err)
	}
	return out, nil
}

// AuditHashAt returns the stored hash of event seq; ok is false when there
// is no such event.
func (q Queries) AuditHashAt(ctx context.Context, seq int64) (hash []byte, ok bool, err error) {
	err = q.q.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE seq = $1`, seq).Scan(&hash)
	if isNoRows(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("audit event %d: %w", seq, err)
	}
	return hash, true, nil
}

// AuditFilter selects events for the auditor's page. Zero fields match
// everything; From is inclusive and To exclusive.
type AuditFilter struct {
	From, To                       time.Time
	Action, Actor, Subject, Origin string
	BeforeSeq                      int64 // only events with seq < BeforeSeq (paging); 0: no bound
	Limit                          int
}

// AuditRecordsNewest returns the events matching f, newest (highest seq)
// first.
func (q Queries) AuditRecordsNewest(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, "$"+strconv.Itoa(len(args))))
	}
	if !f.From.IsZero() {
		add("at >= %s", micros(f.From))
	}
	if !f.To.IsZero() {
		add("at < %s", micros(f.To))
	}
	for _, c := range []struct{ col, v string }{{"action", f.Action}, {"actor", f.Actor}, {"subject", f.Subject}, {"origin", f.Origin}} {
		if c.v != "" {
			add(c.col+" = %s", c.v)
		}
	}
	if f.BeforeSeq > 0 {
		add("seq < %s", f.BeforeSeq)
	}
	query := `SELECT ` + auditColumns + ` FROM audit_events`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit)
	query += ` ORDER BY seq DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, fmt.Errorf("scan audit event: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

// AuditCheckpointRecord is a signed checkpoint as stored: the size it
// covers, when it was signed, and the signed note's text.
type AuditCheckpointRecord struct {
	Size int64
	At   time.Time
	Note string
}

// InsertAuditCheckpoint stores a checkpoint unless one of that size exists
// (another replica signed the same head first); inserted says which.
func (q Queries) InsertAuditCheckpoint(ctx context.Context, c AuditCheckpointRecord) (inserted bool, err error) {
	res, err := q.q.ExecContext(ctx, `INSERT INTO audit_checkpoints (size, at, note) VALUES ($1, $2, $3)
		ON CONFLICT (size) DO NOTHING`, c.Size, micros(c.At), c.Note)
	if err != nil {
		return false, fmt.Errorf("insert audit checkpoint %d: %w", c.Size, err)
	}
	return affectedOne(res)
}

// AuditCheckpoints returns every stored checkpoint, by size. There is one
// per thousand events or so: a long chain still has few enough to hold.
func (q Queries) AuditCheckpoints(ctx context.Context) ([]AuditCheckpointRecord, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT size, at, note FROM audit_checkpoints ORDER BY size`)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []AuditCheckpointRecord
	for rows.Next() {
		var c AuditCheckpointRecord
		var at int64
		if err := rows.Scan(&c.Size, &at, &c.Note); err != nil {
			return nil, fmt.Errorf("scan audit checkpoint: %w", err)
		}
		c.At = fromMicros(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

// LatestAuditCheckpoint returns the checkpoint of the greatest size; ok is
// false when none was signed yet.
func (q Queries) LatestAuditCheckpoint(ctx context.Context) (c AuditCheckpointRecord, ok bool, err error) {
	var at int64
	err = q.q.QueryRowContext(ctx, `SELECT size, at, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&c.Size, &at, &c.Note)
	if isNoRows(err) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("latest audit checkpoint: %w", err)
	}
	c.At = fromMicros(at)
	return c, true, nil
}
