package store

import (
	"context"
	"fmt"
	"time"
)

// NoteEpoch records that an epoch key exists (idempotent). It reports
// whether this call was the first.
func (q Queries) NoteEpoch(ctx context.Context, epoch string, at time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `INSERT INTO epochs (epoch, created_at) VALUES ($1, $2) ON CONFLICT (epoch) DO NOTHING`, epoch, micros(at))
	if err != nil {
		return false, fmt.Errorf("note epoch %s: %w", epoch, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// EpochsToDestroy returns epochs before the given one whose key still exists
// and none of whose documents is still readable, nor any upload pending
// (one may still commit, and would need the key).
func (q Queries) EpochsToDestroy(ctx context.Context, before string) ([]string, error) {
	return q.ids(ctx, `SELECT e.epoch FROM epochs e
		WHERE e.destroyed_at IS NULL AND e.epoch < $1
		AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.epoch = e.epoch AND d.destroyed_at IS NULL)
		AND NOT EXISTS (SELECT 1 FROM pending_uploads p WHERE p.epoch = e.epoch)
		ORDER BY e.epoch`, before)
}

// MarkEpochDestroyed records when an epoch key was destroyed.
func (q Queries) MarkEpochDestroyed(ctx context.Context, epoch string, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE epochs SET destroyed_at = $2 WHERE epoch = $1 AND destroyed_at IS NULL`, epoch, micros(at))
	if err != nil {
		return fmt.Errorf("mark epoch %s destroyed: %w", epoch, err)
	}
	return nil
}

// EpochDestroyedAt returns when an epoch key was destroyed, or nil.
func (q Queries) EpochDestroyedAt(ctx context.Context, epoch string) (*time.Time, error) {
	var at *int64
	err := q.q.QueryRowContext(ctx, `SELECT destroyed_at FROM epochs WHERE epoch = $1`, epoch).Scan(&at)
	if isNoRows(err) || at == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("epoch %s: %w", epoch, err)
	}
	t := fromMicros(*at)
	return &t, nil
}
