package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

// Notice is a public notice in both languages. PublishedAt is nil for a
// draft.
type Notice struct {
	ID               string // ntc_…
	TitleJA, TitleEN string
	BodyJA, BodyEN   string
	CreatedBy        string
	CreatedAt        time.Time
	UpdatedAt        time.Time
	PublishedAt      *time.Time
	IncidentID       string // the incident it is about; "" for none
}

const noticeColumns = `id, title_ja, title_en, body_ja, body_en, created_by, created_at, updated_at, published_at, incident_id`

func scanNotice(row interface{ Scan(...any) error }) (*Notice, error) {
	var n Notice
	var created, updated int64
	var published sql.NullInt64
	var incident sql.NullString
	if err := row.Scan(&n.ID, &n.TitleJA, &n.TitleEN, &n.BodyJA, &n.BodyEN, &n.CreatedBy, &created, &updated, &published, &incident); err != nil {
		return nil, err
	}
	n.CreatedAt, n.UpdatedAt, n.PublishedAt, n.IncidentID = fromMicros(created), fromMicros(updated), timePtr(published), incident.String
	return &n, nil
}

// InsertNotice stores a new notice.
func (q Queries) InsertNotice(ctx context.Context, n *Notice) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO notices (`+noticeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		n.ID, n.TitleJA, n.TitleEN, n.BodyJA, n.BodyEN, n.CreatedBy, micros(n.CreatedAt), micros(n.UpdatedAt), nullMicros(n.PublishedAt),
		nullString(n.IncidentID))
	if err != nil {
		return fmt.Errorf("insert notice: %w", err)
	}
	return nil
}

// UpdateNotice replaces a notice's text, its incident and its updated_at.
func (q Queries) UpdateNotice(ctx context.Context, n *Notice) error {
	res, err := q.q.ExecContext(ctx, `UPDATE notices SET title_ja = $2, title_en = $3, body_ja = $4, body_en = $5, updated_at = $6,
		incident_id = $7 WHERE id = $1`,
		n.ID, n.TitleJA, n.TitleEN, n.BodyJA, n.BodyEN, micros(n.UpdatedAt), nullString(n.IncidentID))
	if err != nil {
		return fmt.Errorf("update notice %s: %w", n.ID, err)
	}
	return noticeAffected(res, n.ID)
}

// PublishNotice sets a draft's published_at. Publishing a published notice
// changes nothing and reports false.
func (q Queries) PublishNotice(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE notices SET published_at = $2 WHERE id = $1 AND published_at IS NULL`, id, micros(at))
	if err != nil {
		return false, fmt.Errorf("publish notice %s: %w", id, err)
	}
	return affectedOne(res)
}

// UnpublishNotice makes a published notice a draft again. Unpublishing a
// draft changes nothing and reports false.
func (q Queries) UnpublishNotice(ctx context.Context, id string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE notices SET published_at = NULL WHERE id = $1 AND published_at IS NOT NULL`, id)
	if err != nil {
		return false, fmt.Errorf("unpublish notice %s: %w", id, err)
	}
	return affectedOne(res)
}

// DeleteNotice deletes a draft. A published notice is not deleted: it
// reports false, and the caller says why.
func (q Queries) DeleteNotice(ctx context.Context, id string) (bool, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM notices WHERE id = $1 AND published_at IS NULL`, id)
	if err != nil {
		return false, fmt.Errorf("delete notice %s: %w", id, err)
	}
	return affectedOne(res)
}

// IncidentNotices returns the notices about an incident, drafts included,
// the most recently updated first.
func (q Queries) IncidentNotices(ctx context.Context, incidentID string) ([]*Notice, error) {
	return q.notices(ctx, `SELECT `+noticeColumns+` FROM notices WHERE incident_id = $1 ORDER BY updated_at DESC, id DESC`, incidentID)
}

func noticeAffected(res sql.Result, id string) error {
	ok, err := affectedOne(res)
	if err != nil {
		return fmt.Errorf("notice %s: %w", id, err)
	}
	if !ok {
		return kakunin.Errorf(kakunin.ENOTFOUND, "no such notice")
	}
	return nil
}

// Notice returns one notice, draft or published.
func (q Queries) Notice(ctx context.Context, id string) (*Notice, error) {
	n, err := scanNotice(q.q.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM notices WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no such notice")
	}
	if err != nil {
		return nil, fmt.Errorf("notice %s: %w", id, err)
	}
	return n, nil
}

// ListNotices returns every notice, the most recently updated first.
func (q Queries) ListNotices(ctx context.Context) ([]*Notice, error) {
	return q.notices(ctx, `SELECT `+noticeColumns+` FROM notices ORDER BY updated_at DESC, id DESC`)
}

// PublishedNotices returns the published notices, the most recently
// updated first.
func (q Queries) PublishedNotices(ctx context.Context) ([]*Notice, error) {
	return q.notices(ctx, `SELECT `+noticeColumns+` FROM notices WHERE published_at IS NOT NULL ORDER BY updated_at DESC, id DESC`)
}

func (q Queries) notices(ctx context.Context, query string, args ...any) ([]*Notice, error) {
	rows, err := q.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	defer rows.Close()
	var out []*Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, fmt.Errorf("list notices: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
