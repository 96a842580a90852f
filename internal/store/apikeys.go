package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

// InsertAPIKey stores a key by the hash of its secret.
func (q Queries) InsertAPIKey(ctx context.Context, k *kakunin.APIKey, secretHash []byte) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO api_keys (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)`,
		k.ID, k.Name, secretHash, micros(k.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert api key: %w", err)
	}
	return nil
}

// APIKeyByHash returns the live key with this secret hash.
func (q Queries) APIKeyByHash(ctx context.Context, secretHash []byte) (*kakunin.APIKey, error) {
	var k kakunin.APIKey
	var created int64
	err := q.q.QueryRowContext(ctx, `SELECT id, name, created_at FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL`, secretHash).
		Scan(&k.ID, &k.Name, &created)
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "invalid API key")
	}
	if err != nil {
		return nil, fmt.Errorf("api key: %w", err)
	}
	k.CreatedAt = fromMicros(created)
	return &k, nil
}

// APIKeys lists every key, newest first.
func (q Queries) APIKeys(ctx context.Context) ([]*kakunin.APIKey, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at DESC`)
	if err != nil {
		return nil, fmt.Errorf("api keys: %w", err)
	}
	defer rows.Close()
	var out []*kakunin.APIKey
	for rows.Next() {
		var k kakunin.APIKey
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &k.Name, &created, &revoked); err != nil {
			return nil, fmt.Errorf("scan api key: %w", err)
		}
		k.CreatedAt, k.RevokedAt = fromMicros(created), timePtr(revoked)
		out = append(out, &k)
	}
	return out, rows.Err()
}

// RevokeAPIKey revokes a key by ID.
func (q Queries) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	res, err := q.q.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, micros(at))
	if err != nil {
		return fmt.Errorf("revoke api key: %w", err)
	}
	if ok, err := affectedOne(res); err != nil {
		return err
	} else if !ok {
		return kakunin.Errorf(kakunin.ENOTFOUND, "no live API key with ID %s", id)
	}
	return nil
}
