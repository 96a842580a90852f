package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

// MemberRecord is a member as stored: the e-mail address sealed by the vault
// and its keyed blind index, never the address itself.
type MemberRecord struct {
	ID          string
	ExternalID  string
	EmailSealed []byte
	EmailIndex  []byte
	Locale      kakunin.Locale
	CreatedAt   time.Time
	UpdatedAt   time.Time
	DeletedAt   *time.Time
}

const memberColumns = `id, external_id, email_sealed, email_index, locale, created_at, updated_at, deleted_at`

func scanMember(row interface{ Scan(...any) error }) (*MemberRecord, error) {
	var m MemberRecord
	var created, updated int64
	var deleted sql.NullInt64
	var locale string
	if err := row.Scan(&m.ID, &m.ExternalID, &m.EmailSealed, &m.EmailIndex, &locale, &created, &updated, &deleted); err != nil {
		return nil, err
	}
	m.Locale = kakunin.Locale(locale)
	m.CreatedAt, m.UpdatedAt, m.DeletedAt = fromMicros(created), fromMicros(updated), timePtr(deleted)
	return &m, nil
}

// MemberByExternalID returns the member the host knows as externalID.
func (q Queries) MemberByExternalID(ctx context.Context, externalID string) (*MemberRecord, error) {
	m, err := scanMember(q.q.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE external_id = $1`, externalID))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no member with this external_id")
	}
	if err != nil {
		return nil, fmt.Errorf("member by external id: %w", err)
	}
	return m, nil
}

// MemberByID returns a member by kakunin's own ID.
func (q Queries) MemberByID(ctx context.Context, id string) (*MemberRecord, error) {
	m, err := scanMember(q.q.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "member not found")
	}
	if err != nil {
		return nil, fmt.Errorf("member by id: %w", err)
	}
	return m, nil
}

// InsertMember stores a new member.
func (q Queries) InsertMember(ctx context.Context, m *MemberRecord) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO members (`+memberColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		m.ID, m.ExternalID, m.EmailSealed, m.EmailIndex, string(m.Locale), micros(m.CreatedAt), micros(m.UpdatedAt), nullMicros(m.DeletedAt))
	if err != nil {
		return fmt.Errorf("insert member: %w", err)
	}
	return nil
}

// UpdateMemberContact replaces a member's address and locale, and brings back
// a member who had left (the host registered them again).
func (q Queries) UpdateMemberContact(ctx context.Context, m *MemberRecord) error {
	_, err := q.q.ExecContext(ctx, `UPDATE members SET email_sealed = $2, email_index = $3, locale = $4, updated_at = $5, deleted_at = NULL WHERE id = $1`,
		m.ID, m.EmailSealed, m.EmailIndex, string(m.Locale), micros(m.UpdatedAt))
	if err != nil {
		return fmt.Errorf("update member: %w", err)
	}
	return nil
}

// MarkMemberLeft records that the member left and forgets the address:
// only the verification records stay.
func (q Queries) MarkMemberLeft(ctx context.Context, id string, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE members SET email_sealed = NULL, email_index = NULL, deleted_at = $2, updated_at = $2 WHERE id = $1`, id, micros(at))
	if err != nil {
		return fmt.Errorf("mark member left: %w", err)
	}
	return nil
}
