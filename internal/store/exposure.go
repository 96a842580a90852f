package store

import (
	"context"
	"fmt"
	"time"
)

// ActiveMembersByEmailIndex returns the members registered under an
// address's blind index who have not left (a member who left has no index
// any more). Usually one; the host may have registered an address twice.
func (q Queries) ActiveMembersByEmailIndex(ctx context.Context, index []byte) ([]*MemberRecord, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+memberColumns+` FROM members
		WHERE email_index = $1 AND deleted_at IS NULL AND email_sealed IS NOT NULL ORDER BY id`, index)
	if err != nil {
		return nil, fmt.Errorf("members by email index: %w", err)
	}
	defer rows.Close()
	var out []*MemberRecord
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, fmt.Errorf("members by email index: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("members by email index: %w", err)
	}
	return out, nil
}

// TakeRateHit admits one hit of key in scope if fewer than max were
// admitted in the window before now, and records it. A hit already
// recorded for checkID (a retried job) is admitted again without counting
// twice; checkID "" makes every call a new hit.
//
// Call it inside a transaction: the upsert of the key's exposure_limits row
// locks that row until the transaction ends, so two replicas counting the
// same key take turns (SQLite has one writer anyway) and the limit holds
// exactly, over a sliding window.
func (q Queries) TakeRateHit(ctx context.Context, scope string, key []byte, max int, window time.Duration, checkID string, now time.Time) (bool, error) {
	at, since := micros(now), micros(now.Add(-window))
	if _, err := q.q.ExecContext(ctx, `INSERT INTO exposure_limits (scope, key_hash, last_at) VALUES ($1, $2, $3)
		ON CONFLICT (scope, key_hash) DO UPDATE SET last_at =
			CASE WHEN exposure_limits.last_at > excluded.last_at THEN exposure_limits.last_at ELSE excluded.last_at END`,
		scope, key, at); err != nil {
		return false, fmt.Errorf("rate limit %s: %w", scope, err)
	}
	if checkID != "" {
		var n int
		err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM exposure_hits WHERE scope = $1 AND key_hash = $2 AND check_id = $3`,
			scope, key, checkID).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("rate limit %s: %w", scope, err)
		}
		if n > 0 {
			return true, nil
		}
	}
	// The key's hits that left the window are never counted again.
	if _, err := q.q.ExecContext(ctx, `DELETE FROM exposure_hits WHERE scope = $1 AND key_hash = $2 AND at <= $3`, scope, key, since); err != nil {
		return false, fmt.Errorf("rate limit %s: %w", scope, err)
	}
	var n int
	if err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM exposure_hits WHERE scope = $1 AND key_hash = $2 AND at > $3`,
		scope, key, since).Scan(&n); err != nil {
		return false, fmt.Errorf("rate limit %s: %w", scope, err)
	}
	if n >= max {
		return false, nil
	}
	if _, err := q.q.ExecContext(ctx, `INSERT INTO exposure_hits (scope, key_hash, at, check_id) VALUES ($1, $2, $3, $4)`,
		scope, key, at, checkID); err != nil {
		return false, fmt.Errorf("rate limit %s: %w", scope, err)
	}
	return true, nil
}

// PruneRateHits deletes the hits admitted at or before `before` and the
// keys with no hit since: what no window reaches any more. It returns how
// many hits it deleted.
func (q Queries) PruneRateHits(ctx context.Context, before time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM exposure_hits WHERE at <= $1`, micros(before))
	if err != nil {
		return 0, fmt.Errorf("prune rate limits: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := q.q.ExecContext(ctx, `DELETE FROM exposure_limits WHERE last_at <= $1`, micros(before)); err != nil {
		return 0, fmt.Errorf("prune rate limits: %w", err)
	}
	return n, nil
}

// CountRateHits returns how many hits of key in scope are recorded: for
// tests and the operator's curiosity.
func (q Queries) CountRateHits(ctx context.Context, scope string, key []byte) (int, error) {
	var n int
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM exposure_hits WHERE scope = $1 AND key_hash = $2`, scope, key).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count rate hits: %w", err)
	}
	return n, nil
}
