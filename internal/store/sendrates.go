package store

import (
	"context"
	"fmt"
	"time"
)

// TakeSends grants n sends from the throttle name's budget of limit per
// window (of the given length) when the current window still has room, and
// reports whether it did. The window is read from the database's clock, not
// the replica's, so replicas whose clocks disagree still share one window;
// the single upsert is atomic on both engines (PostgreSQL locks the row,
// SQLite has one writer), so a budget of N grants N in total.
func (db *DB) TakeSends(ctx context.Context, name string, n, limit int, window time.Duration) (bool, error) {
	secs := int64(window / time.Second)
	if secs < 1 {
		secs = 1
	}
	if n < 1 || n > limit {
		return false, fmt.Errorf("take %d sends from a budget of %d: out of range", n, limit)
	}
	now := `CAST(strftime('%s', 'now') AS INTEGER)`
	if db.dialect == Postgres {
		now = `CAST(FLOOR(EXTRACT(EPOCH FROM clock_timestamp())) AS BIGINT)`
	}
	res, err := db.sql.ExecContext(ctx, `INSERT INTO send_rates (name, window_no, used) VALUES ($1, `+now+` / $2, $3)
		ON CONFLICT (name) DO UPDATE SET
			used = CASE WHEN send_rates.window_no = excluded.window_no THEN send_rates.used + excluded.used ELSE excluded.used END,
			window_no = excluded.window_no
		WHERE send_rates.window_no <> excluded.window_no OR send_rates.used + excluded.used <= $4`,
		name, secs, n, limit)
	if err != nil {
		return false, fmt.Errorf("take sends from %s: %w", name, err)
	}
	k, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take sends from %s: %w", name, err)
	}
	return k == 1, nil
}
