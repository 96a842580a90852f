package store

import (
	"context"
	"fmt"
	"time"
)

// OIDCFlow is one authorization request a member's browser was sent on
// (internal/jpki). StateHash and BrowserHash are SHA-256 of the state and
// of the browser's cookie; the tokens themselves are never stored.
type OIDCFlow struct {
	StateHash      []byte
	BrowserHash    []byte
	VerificationID string
	Nonce          string
	PKCEVerifier   string
	CreatedAt      time.Time
	ExpiresAt      time.Time
}

// InsertOIDCFlow stores a new flow and deletes flows that expired before
// now (a few rows at most: flows live minutes).
func (q Queries) InsertOIDCFlow(ctx context.Context, f *OIDCFlow) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM oidc_flows WHERE expires_at < $1`, micros(f.CreatedAt)); err != nil {
		return fmt.Errorf("delete expired oidc flows: %w", err)
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO oidc_flows (state_hash, browser_hash, verification_id, nonce, pkce_verifier, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		f.StateHash, f.BrowserHash, f.VerificationID, f.Nonce, f.PKCEVerifier, micros(f.CreatedAt), micros(f.ExpiresAt))
	if err != nil {
		return fmt.Errorf("insert oidc flow: %w", err)
	}
	return nil
}

// SpendOIDCFlow marks the flow of stateHash used and returns it, or nil
// when there is none that is unused and unexpired at now: the first
// callback that names a state spends it, whatever happens next.
func (q Queries) SpendOIDCFlow(ctx context.Context, stateHash []byte, now time.Time) (*OIDCFlow, error) {
	var f OIDCFlow
	var created, expires int64
	err := q.q.QueryRowContext(ctx, `UPDATE oidc_flows SET used_at = $2
		WHERE state_hash = $1 AND used_at IS NULL AND expires_at > $2
		RETURNING state_hash, browser_hash, verification_id, nonce, pkce_verifier, created_at, expires_at`,
		stateHash, micros(now)).Scan(&f.StateHash, &f.BrowserHash, &f.VerificationID, &f.Nonce, &f.PKCEVerifier, &created, &expires)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spend oidc flow: %w", err)
	}
	f.CreatedAt, f.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &f, nil
}
