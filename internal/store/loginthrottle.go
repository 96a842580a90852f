package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// LoginKey is one thing sign-in attempts are counted against: a client
// address or an account, each by a keyed hash (never the address itself).
type LoginKey struct {
	Scope string // "client" or "account"
	Hash  string
}

// LoginAttempts sums up a key's counted attempts in a window.
type LoginAttempts struct {
	N           int
	First, Last time.Time // of the counted attempts; zero when N is 0
}

// LockLoginKey makes the sign-in steps of one key take turns: the upsert
// holds the key's row until the transaction ends, on every replica (SQLite
// has one writer anyway), so a limit read and then written is exact.
func (q Queries) LockLoginKey(ctx context.Context, k LoginKey, now time.Time) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO login_throttles (scope, key_hash, last_at) VALUES ($1, $2, $3)
		ON CONFLICT (scope, key_hash) DO UPDATE SET last_at =
			CASE WHEN login_throttles.last_at > excluded.last_at THEN login_throttles.last_at ELSE excluded.last_at END`,
		k.Scope, k.Hash, micros(now))
	if err != nil {
		return fmt.Errorf("lock sign-in %s key: %w", k.Scope, err)
	}
	return nil
}

// LoginAttemptsSince counts a key's attempts after since.
func (q Queries) LoginAttemptsSince(ctx context.Context, k LoginKey, since time.Time) (LoginAttempts, error) {
	var a LoginAttempts
	var first, last sql.NullInt64
	err := q.q.QueryRowContext(ctx, `SELECT COUNT(*), MIN(at), MAX(at) FROM login_attempts
		WHERE scope = $1 AND key_hash = $2 AND at > $3`, k.Scope, k.Hash, micros(since)).Scan(&a.N, &first, &last)
	if err != nil {
		return a, fmt.Errorf("count sign-in attempts (%s): %w", k.Scope, err)
	}
	if first.Valid {
		a.First, a.Last = fromMicros(first.Int64), fromMicros(last.Int64)
	}
	return a, nil
}

// InsertLoginAttempt counts one attempt against k.
func (q Queries) InsertLoginAttempt(ctx context.Context, id string, k LoginKey, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO login_attempts (id, scope, key_hash, at) VALUES ($1, $2, $3, $4)`,
		id, k.Scope, k.Hash, micros(at))
	if err != nil {
		return fmt.Errorf("record sign-in attempt (%s): %w", k.Scope, err)
	}
	return nil
}

// DeleteLoginAttempts uncounts attempts that turned out to succeed.
func (q Queries) DeleteLoginAttempts(ctx context.Context, ids ...string) error {
	for _, id := range ids {
		if _, err := q.q.ExecContext(ctx, `DELETE FROM login_attempts WHERE id = $1`, id); err != nil {
			return fmt.Errorf("uncount sign-in attempt: %w", err)
		}
	}
	return nil
}

// ClearLoginAttempts forgets every attempt counted against k.
func (q Queries) ClearLoginAttempts(ctx context.Context, k LoginKey) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM login_attempts WHERE scope = $1 AND key_hash = $2`, k.Scope, k.Hash); err != nil {
		return fmt.Errorf("clear sign-in attempts (%s): %w", k.Scope, err)
	}
	return nil
}

// PruneLoginAttempts deletes the attempts at or before `before`, and the
// keys with none since: what no window reaches any more.
func (q Queries) PruneLoginAttempts(ctx context.Context, before time.Time) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM login_attempts WHERE at <= $1`, micros(before)); err != nil {
		return fmt.Errorf("prune sign-in attempts: %w", err)
	}
	if _, err := q.q.ExecContext(ctx, `DELETE FROM login_throttles WHERE last_at <= $1`, micros(before)); err != nil {
		return fmt.Errorf("prune sign-in attempts: %w", err)
	}
	return nil
}

// RecordSecondFactorFailure counts a wrong second factor given after the
// right password and locks the account when the count reaches limit. It
// returns the count and whether this failure locked the account.
func (q Queries) RecordSecondFactorFailure(ctx context.Context, id string, limit int, now time.Time) (int, bool, error) {
	var n int
	var locked sql.NullInt64
	err := q.q.QueryRowContext(ctx, `UPDATE staff SET failed_logins = failed_logins + 1,
		locked_at = CASE WHEN failed_logins + 1 >= $2 AND locked_at IS NULL THEN $3 ELSE locked_at END
		WHERE id = $1 RETURNING failed_logins, locked_at`, id, limit, micros(now)).Scan(&n, &locked)
	if isNoRows(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("record second-factor failure: %w", err)
	}
	return n, locked.Valid && locked.Int64 == micros(now), nil
}
