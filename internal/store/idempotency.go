package store

import (
	"context"
	"fmt"
	"time"
)

// IdempotencyRecord is what is kept of a POST sent with an Idempotency-Key.
type IdempotencyRecord struct {
	RequestHash    []byte // SHA-256 of the request, to tell a retry from another request
	Status         int    // 0 while the first request is being answered
	ResponseSealed []byte // the sealed first answer, nil while Status is 0
	CreatedAt      time.Time
}

// ClaimIdempotencyKey takes key for apiKeyID, or returns the record already
// holding it. claimed is true when this request is the first under the key
// (a row with status 0 is now there). A row created at or before expired
// is removed first, so an old key works again as a new one; so is a row
// still unanswered since abandoned, whose request died with its process.
func (q Queries) ClaimIdempotencyKey(ctx context.Context, apiKeyID, key string, requestHash []byte, now, expired, abandoned time.Time) (rec *IdempotencyRecord, claimed bool, err error) {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE api_key_id = $1 AND idem_key = $2
		AND (created_at <= $3 OR (status = 0 AND created_at <= $4))`,
		apiKeyID, key, micros(expired), micros(abandoned)); err != nil {
		return nil, false, fmt.Errorf("expire idempotency key: %w", err)
	}
	res, err := q.q.ExecContext(ctx, `INSERT INTO idempotency_keys (api_key_id, idem_key, request_hash, status, created_at)
		VALUES ($1, $2, $3, 0, $4) ON CONFLICT (api_key_id, idem_key) DO NOTHING`, apiKeyID, key, requestHash, micros(now))
	if err != nil {
		return nil, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if ok, err := affectedOne(res); err != nil || ok {
		return nil, ok, err
	}
	var r IdempotencyRecord
	var created int64
	err = q.q.QueryRowContext(ctx, `SELECT request_hash, status, response_sealed, created_at FROM idempotency_keys
		WHERE api_key_id = $1 AND idem_key = $2`, apiKeyID, key).Scan(&r.RequestHash, &r.Status, &r.ResponseSealed, &created)
	if isNoRows(err) {
		// Released between our insert and read: the caller may try again.
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read idempotency key: %w", err)
	}
	r.CreatedAt = fromMicros(created)
	return &r, false, nil
}

// FinishIdempotencyKey stores the first answer under a claimed key.
func (q Queries) FinishIdempotencyKey(ctx context.Context, apiKeyID, key string, status int, sealed []byte) error {
	_, err := q.q.ExecContext(ctx, `UPDATE idempotency_keys SET status = $3, response_sealed = $4
		WHERE api_key_id = $1 AND idem_key = $2 AND status = 0`, apiKeyID, key, status, sealed)
	if err != nil {
		return fmt.Errorf("finish idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey forgets a claimed key whose request failed in a way
// worth retrying (a 5xx, a 429): the retry is then a first request again.
func (q Queries) ReleaseIdempotencyKey(ctx context.Context, apiKeyID, key string) error {
	_, err := q.q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE api_key_id = $1 AND idem_key = $2 AND status = 0`, apiKeyID, key)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// SweepIdempotencyKeys deletes the keys created at or before expired and
// returns how many went.
func (q Queries) SweepIdempotencyKeys(ctx context.Context, expired time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at <= $1`, micros(expired))
	if err != nil {
		return 0, fmt.Errorf("sweep idempotency keys: %w", err)
	}
	return res.RowsAffected()
}
