package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

const incidentColumns = `id, title, summary, discovered_at, window_from, window_to,
	held_database, held_blobs, held_keys, held_staff_account, malicious, status,
	preliminary_reported_at, final_reported_at, individuals_notified_at, created_by, created_at, updated_at`

func scanIncident(row interface{ Scan(...any) error }) (*kakunin.Incident, error) {
	var in kakunin.Incident
	var discovered, created, updated int64
	var from, to, prelim, final, notified sql.NullInt64
	var status string
	if err := row.Scan(&in.ID, &in.Title, &in.Summary, &discovered, &from, &to,
		&in.Held.Database, &in.Held.Blobs, &in.Held.Keys, &in.Held.StaffAccount, &in.Malicious, &status,
		&prelim, &final, &notified, &in.CreatedBy, &created, &updated); err != nil {
		return nil, err
	}
	in.Status = kakunin.IncidentStatus(status)
	in.DiscoveredAt, in.CreatedAt, in.UpdatedAt = fromMicros(discovered), fromMicros(created), fromMicros(updated)
	if from.Valid {
		in.WindowFrom = fromMicros(from.Int64)
	}
	if to.Valid {
		in.WindowTo = fromMicros(to.Int64)
	}
	in.PreliminaryReportedAt, in.FinalReportedAt, in.IndividualsNotifiedAt = timePtr(prelim), timePtr(final), timePtr(notified)
	return &in, nil
}

// zeroNull stores a zero time as NULL (a window end not yet known).
func zeroNull(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: micros(t), Valid: true}
}

// InsertIncident stores a new incident.
func (q Queries) InsertIncident(ctx context.Context, in *kakunin.Incident) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO incidents (`+incidentColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		in.ID, in.Title, in.Summary, micros(in.DiscoveredAt), zeroNull(in.WindowFrom), zeroNull(in.WindowTo),
		in.Held.Database, in.Held.Blobs, in.Held.Keys, in.Held.StaffAccount, in.Malicious, string(in.Status),
		nullMicros(in.PreliminaryReportedAt), nullMicros(in.FinalReportedAt), nullMicros(in.IndividualsNotifiedAt),
		in.CreatedBy, micros(in.CreatedAt), micros(in.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert incident: %w", err)
	}
	return nil
}

// UpdateIncident replaces every field of an incident but its ID, creator
// and creation time.
func (q Queries) UpdateIncident(ctx context.Context, in *kakunin.Incident) error {
	res, err := q.q.ExecContext(ctx, `UPDATE incidents SET title = $2, summary = $3, discovered_at = $4,
		window_from = $5, window_to = $6, held_database = $7, held_blobs = $8, held_keys = $9,
		held_staff_account = $10, malicious = $11, status = $12, preliminary_reported_at = $13,
		final_reported_at = $14, individuals_notified_at = $15, updated_at = $16 WHERE id = $1`,
		in.ID, in.Title, in.Summary, micros(in.DiscoveredAt), zeroNull(in.WindowFrom), zeroNull(in.WindowTo),
		in.Held.Database, in.Held.Blobs, in.Held.Keys, in.Held.StaffAccount, in.Malicious, string(in.Status),
		nullMicros(in.PreliminaryReportedAt), nullMicros(in.FinalReportedAt), nullMicros(in.IndividualsNotifiedAt),
		micros(in.UpdatedAt))
	if err != nil {
		return fmt.Errorf("update incident %s: %w", in.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return kakunin.Errorf(kakunin.ENOTFOUND, "no such incident")
	}
	return nil
}

// Incident returns one incident.
func (q Queries) Incident(ctx context.Context, id string) (*kakunin.Incident, error) {
	in, err := scanIncident(q.q.QueryRowContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no such incident")
	}
	if err != nil {
		return nil, fmt.Errorf("incident %s: %w", id, err)
	}
	return in, nil
}

// ListIncidents returns every incident, the most recently discovered first.
func (q Queries) ListIncidents(ctx context.Context) ([]*kakunin.Incident, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents ORDER BY discovered_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []*kakunin.Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// MemberScopedDocument is one of a member's documents whose ciphertext
// existed in a window (the rule in scope.go).
type MemberScopedDocument struct {
	Type       kakunin.DocumentType
	ReceivedAt time.Time
	// ReadableWithKeys: its wrapped data key and epoch key existed then too.
	ReadableWithKeys bool
	// ReadByStaff: a staff account opened it in the window.
	ReadByStaff bool
}

// MemberDocumentsInWindow lists one member's documents whose ciphertext
// existed at some moment of [from, to], oldest first: the per-member form
// of ScopeMembers, for the exposure check and the notification mail.
func (q Queries) MemberDocumentsInWindow(ctx context.Context, memberID string, from, to time.Time) ([]MemberScopedDocument, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT s.type, s.received_at,
			CASE WHEN `+readableWithKeys+` THEN 1 ELSE 0 END,
			CASE WHEN EXISTS (SELECT 1 FROM document_reads r WHERE r.document_id = s.id AND r.at >= $1 AND r.at <= $2) THEN 1 ELSE 0 END
		FROM documents s
		WHERE s.member_id = $3 AND s.received_at <= $2 AND (s.blob_deleted_at IS NULL OR s.blob_deleted_at >= $1)
		ORDER BY s.received_at, s.id`, micros(from), micros(to), memberID)
	if err != nil {
		return nil, fmt.Errorf("member documents in window: %w", err)
	}
	defer rows.Close()
	var out []MemberScopedDocument
	for rows.Next() {
		var d MemberScopedDocument
		var typ string
		var received, readable, read int64
		if err := rows.Scan(&typ, &received, &readable, &read); err != nil {
			return nil, fmt.Errorf("member documents in window: %w", err)
		}
		d.Type, d.ReceivedAt, d.ReadableWithKeys, d.ReadByStaff = kakunin.DocumentType(typ), fromMicros(received), readable == 1, read == 1
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("member documents in window: %w", err)
	}
	return out, nil
}
