package store

import (
	"context"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

// ImageGrant is the right to fetch one review image once, from one console
// session (migration 00012 says why).
type ImageGrant struct {
	TokenHash   []byte
	SessionHash []byte
	StaffID     string
	DocumentID  string
	ExpiresAt   time.Time
}

// InsertImageGrant stores a grant, and drops the expired ones while at it.
func (q Queries) InsertImageGrant(ctx context.Context, g *ImageGrant, now time.Time) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM image_grants WHERE expires_at <= $1`, micros(now)); err != nil {
		return fmt.Errorf("prune image grants: %w", err)
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO image_grants (token_hash, session_hash, staff_id, document_id, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		g.TokenHash, g.SessionHash, g.StaffID, g.DocumentID, micros(g.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert image grant: %w", err)
	}
	return nil
}

// TakeImageGrant consumes the grant of tokenHash if it was made for this
// session and staff member and has not expired, and returns its document.
// A grant asked for by another session is left alone (and refused): the
// one it was made for can still use it. Anything else is not found.
func (q Queries) TakeImageGrant(ctx context.Context, tokenHash, sessionHash []byte, staffID string, now time.Time) (string, error) {
	var doc string
	err := q.q.QueryRowContext(ctx, `DELETE FROM image_grants
		WHERE token_hash = $1 AND session_hash = $2 AND staff_id = $3 AND expires_at > $4 RETURNING document_id`,
		tokenHash, sessionHash, staffID, micros(now)).Scan(&doc)
	if isNoRows(err) {
		return "", kakunin.Errorf(kakunin.ENOTFOUND, "this image link was used already, has expired, or is not yours: open the task again")
	}
	if err != nil {
		return "", fmt.Errorf("take image grant: %w", err)
	}
	return doc, nil
}
