package store

import (
	"context"
	"database/sql"
	"encoding/json"
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

// IncidentListing is an incident with what the desk's list decides from:
// its certifier items and what the public last heard of it.
type IncidentListing struct {
	Incident *kakunin.Incident
	Items    []kakunin.CertifierItem // the soonest due first
	// LastPublic is the newest change of its published notices (as
	// LastPublicUpdates); nil while none is published.
	LastPublic *time.Time
}

// IncidentListings returns every incident, the most recently discovered
// first, with its certifier items and last public update, in one query
// however many incidents there are.
func (q Queries) IncidentListings(ctx context.Context) ([]IncidentListing, error) {
	// i.* is the derived table's columns: incidentColumns, then last_public.
	rows, err := q.q.QueryContext(ctx, `SELECT i.*, c.id, c.text, c.due_at, c.done_at, c.created_at
		FROM (SELECT `+incidentColumns+`, (SELECT MAX(n.updated_at) FROM notices n
				WHERE n.incident_id = incidents.id AND n.published_at IS NOT NULL) AS last_public
			FROM incidents) i
		LEFT JOIN certifier_items c ON c.incident_id = i.id
		ORDER BY i.discovered_at DESC, i.id DESC, c.due_at, c.id`)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []IncidentListing
	for rows.Next() {
		var lastPublic, due, done, created sql.NullInt64
		var itemID, text sql.NullString
		in, err := scanIncident(scanThen{rows, []any{&lastPublic, &itemID, &text, &due, &done, &created}})
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].Incident.ID != in.ID {
			out = append(out, IncidentListing{Incident: in, LastPublic: timePtr(lastPublic)})
		}
		if itemID.Valid {
			l := &out[len(out)-1]
			l.Items = append(l.Items, kakunin.CertifierItem{ID: itemID.String, IncidentID: in.ID, Text: text.String,
				DueAt: fromMicros(due.Int64), DoneAt: timePtr(done), CreatedAt: fromMicros(created.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// scanThen appends destinations to a scan, for a query that selects more
// columns than the shared scanner reads.
type scanThen struct {
	row   interface{ Scan(...any) error }
	extra []any
}

func (s scanThen) Scan(dest ...any) error { return s.row.Scan(append(dest, s.extra...)...) }

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

// ListOpenIncidents returns the incidents not closed, the most recently
// discovered first: those the watch job looks at.
func (q Queries) ListOpenIncidents(ctx context.Context) ([]*kakunin.Incident, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE status <> $1 ORDER BY discovered_at DESC, id DESC`,
		string(kakunin.IncidentClosed))
	if err != nil {
		return nil, fmt.Errorf("list open incidents: %w", err)
	}
	defer rows.Close()
	var out []*kakunin.Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list open incidents: %w", err)
		}
		out = append(out, in)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list open incidents: %w", err)
	}
	return out, nil
}

// InsertIncidentUpdate adds an entry to an incident's timeline.
func (q Queries) InsertIncidentUpdate(ctx context.Context, u *kakunin.IncidentUpdate) error {
	args := []byte("{}")
	if len(u.Args) > 0 {
		var err error
		if args, err = json.Marshal(u.Args); err != nil {
			return fmt.Errorf("insert incident update: %w", err)
		}
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO incident_updates (id, incident_id, at, actor, status, code, args, text)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		u.ID, u.IncidentID, micros(u.At), u.Actor, string(u.Status), u.Code, string(args), u.Text)
	if err != nil {
		return fmt.Errorf("insert incident update: %w", err)
	}
	return nil
}

// IncidentUpdates returns an incident's timeline, newest first.
func (q Queries) IncidentUpdates(ctx context.Context, incidentID string) ([]kakunin.IncidentUpdate, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT id, incident_id, at, actor, status, code, args, text FROM incident_updates
		WHERE incident_id = $1 ORDER BY at DESC, id DESC`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("incident updates: %w", err)
	}
	defer rows.Close()
	var out []kakunin.IncidentUpdate
	for rows.Next() {
		var u kakunin.IncidentUpdate
		var at int64
		var status, args string
		if err := rows.Scan(&u.ID, &u.IncidentID, &at, &u.Actor, &status, &u.Code, &args, &u.Text); err != nil {
			return nil, fmt.Errorf("incident updates: %w", err)
		}
		if args != "{}" {
			if err := json.Unmarshal([]byte(args), &u.Args); err != nil {
				return nil, fmt.Errorf("incident update %s: arguments: %w", u.ID, err)
			}
		}
		u.At, u.Status = fromMicros(at), kakunin.IncidentStatus(status)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("incident updates: %w", err)
	}
	return out, nil
}

// InsertCertifierItem stores a certifier's corrective item.
func (q Queries) InsertCertifierItem(ctx context.Context, c *kakunin.CertifierItem) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO certifier_items (id, incident_id, text, due_at, done_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		c.ID, c.IncidentID, c.Text, micros(c.DueAt), nullMicros(c.DoneAt), micros(c.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert certifier item: %w", err)
	}
	return nil
}

// CertifierItemDone records when an item was done. It reports false when
// the item was done already (or is not this incident's): nothing changes.
func (q Queries) CertifierItemDone(ctx context.Context, incidentID, id string, at time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE certifier_items SET done_at = $3 WHERE id = $1 AND incident_id = $2 AND done_at IS NULL`,
		id, incidentID, micros(at))
	if err != nil {
		return false, fmt.Errorf("certifier item %s done: %w", id, err)
	}
	return affectedOne(res)
}

// CertifierItems returns an incident's certifier items, the soonest due first.
func (q Queries) CertifierItems(ctx context.Context, incidentID string) ([]kakunin.CertifierItem, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT id, incident_id, text, due_at, done_at, created_at FROM certifier_items
		WHERE incident_id = $1 ORDER BY due_at, id`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("certifier items: %w", err)
	}
	defer rows.Close()
	var out []kakunin.CertifierItem
	for rows.Next() {
		var c kakunin.CertifierItem
		var due, created int64
		var done sql.NullInt64
		if err := rows.Scan(&c.ID, &c.IncidentID, &c.Text, &due, &done, &created); err != nil {
			return nil, fmt.Errorf("certifier items: %w", err)
		}
		c.DueAt, c.DoneAt, c.CreatedAt = fromMicros(due), timePtr(done), fromMicros(created)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("certifier items: %w", err)
	}
	return out, nil
}

// LastPublicUpdates returns, per incident, the newest change of its
// published notices: what the public last heard of it. Incidents without
// a published notice are absent.
func (q Queries) LastPublicUpdates(ctx context.Context) (map[string]time.Time, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT incident_id, MAX(updated_at) FROM notices
		WHERE incident_id IS NOT NULL AND published_at IS NOT NULL GROUP BY incident_id`)
	if err != nil {
		return nil, fmt.Errorf("last public updates: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("last public updates: %w", err)
		}
		out[id] = fromMicros(at)
	}
	return out, rows.Err()
}

// ClaimIncidentAlert records that obligation of an incident is being
// alerted at now, unless it was alerted after notBefore: it reports
// whether the caller should raise the alert. Run it in the transaction
// that raises the alert, so the row and the alert commit together.
func (q Queries) ClaimIncidentAlert(ctx context.Context, incidentID, obligation string, now, notBefore time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `INSERT INTO incident_alerts (incident_id, obligation, alerted_at) VALUES ($1, $2, $3)
		ON CONFLICT (incident_id, obligation) DO UPDATE SET alerted_at = excluded.alerted_at
		WHERE incident_alerts.alerted_at <= $4`, incidentID, obligation, micros(now), micros(notBefore))
	if err != nil {
		return false, fmt.Errorf("claim alert %s %s: %w", incidentID, obligation, err)
	}
	return affectedOne(res)
}

// ActiveStaffIDs returns the IDs of the staff of role who may be alerted:
// not locked, oldest account first (ActiveAdminIDs for any role).
func (q Queries) ActiveStaffIDs(ctx context.Context, role kakunin.Role) ([]string, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT id FROM staff WHERE role = $1 AND locked_at IS NULL ORDER BY created_at, id`, string(role))
	if err != nil {
		return nil, fmt.Errorf("active %s staff: %w", role, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("active %s staff: %w", role, err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// ActiveStaffEmail returns the address of staff member id if it still has
// role and is not locked, and ENOTFOUND otherwise (ActiveAdminEmail for
// any role), read when the mail is sent.
func (q Queries) ActiveStaffEmail(ctx context.Context, id string, role kakunin.Role) (string, error) {
	var legacy string
	var sealed []byte
	err := q.q.QueryRowContext(ctx, `SELECT email, email_sealed FROM staff WHERE id = $1 AND role = $2 AND locked_at IS NULL`, id, string(role)).Scan(&legacy, &sealed)
	if isNoRows(err) {
		return "", kakunin.Errorf(kakunin.ENOTFOUND, "no active %s %s", role, id)
	}
	if err != nil {
		return "", fmt.Errorf("active %s %s: %w", role, id, err)
	}
	return q.openStaffEmail(sealed, legacy)
}
