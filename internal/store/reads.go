package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// DocumentRead is one opening of a document's image by a reviewer.
type DocumentRead struct {
	DocumentID   string
	StaffID      string
	MemberID     string
	DocumentType string
	Origin       string // keyed hash of the client address
	At           time.Time
}

// InsertDocumentRead records a read; the read quota counts these.
func (q Queries) InsertDocumentRead(ctx context.Context, r *DocumentRead) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO document_reads (document_id, staff_id, member_id, document_type, origin, at)
		VALUES ($1, $2, $3, $4, $5, $6)`, r.DocumentID, r.StaffID, r.MemberID, r.DocumentType, r.Origin, micros(r.At))
	if err != nil {
		return fmt.Errorf("record document read: %w", err)
	}
	return nil
}

// CountReadsSince counts the images a staff member opened at or after since.
func (q Queries) CountReadsSince(ctx context.Context, staffID string, since time.Time) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM document_reads WHERE staff_id = $1 AND at >= $2`, staffID, micros(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count reads: %w", err)
	}
	return n, nil
}

// LockStaffAccount locks an account (it stays locked until an admin unlocks
// it) and ends its sessions.
func (q Queries) LockStaffAccount(ctx context.Context, id string, at time.Time) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE staff SET locked_at = $2 WHERE id = $1 AND locked_at IS NULL`, id, micros(at)); err != nil {
		return fmt.Errorf("lock staff account: %w", err)
	}
	return q.DeleteStaffSessions(ctx, id)
}

// ListStaff returns every staff account, by address (sorted here: the
// database holds them sealed).
func (q Queries) ListStaff(ctx context.Context) ([]*StaffRecord, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+staffColumns+` FROM staff ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	defer rows.Close()
	var out []*StaffRecord
	for rows.Next() {
		s, err := q.scanStaff(rows)
		if err != nil {
			return nil, fmt.Errorf("list staff: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list staff: %w", err)
	}
	slices.SortStableFunc(out, func(a, b *StaffRecord) int { return strings.Compare(a.Email, b.Email) })
	return out, nil
}

// SetSessionReauth records that a session proved the second factor again.
func (q Queries) SetSessionReauth(ctx context.Context, tokenHash []byte, at time.Time) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE staff_sessions SET reauth_at = $2 WHERE token_hash = $1`, tokenHash, micros(at)); err != nil {
		return fmt.Errorf("set session reauth: %w", err)
	}
	return nil
}
