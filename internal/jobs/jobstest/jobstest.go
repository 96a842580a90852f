// Package jobstest puts the job queue into states that tests cannot reach
// by running it: a job left "running" by a process that died.
package jobstest

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kakunin/kakunin/internal/store"
)

// Crash makes every available job of kind look as a kill -9 leaves it:
// "running", its first attempt started ago, by a client that no longer
// exists. It returns how many jobs it changed.
func Crash(ctx context.Context, db *sql.DB, dialect store.Dialect, kind string, ago time.Duration) (int64, error) {
	at := time.Now().Add(-ago).UTC()
	var (
		res sql.Result
		err error
	)
	switch dialect {
	case store.SQLite:
		// River's SQLite driver compares times as text in exactly this
		// format (riversqlite's timeString).
		res, err = db.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1,
			attempted_at = ?, attempted_by = json_array('crashed-host') WHERE kind = ? AND state = 'available'`,
			at.Round(time.Millisecond).Format("2006-01-02 15:04:05.000"), kind)
	case store.Postgres:
		res, err = db.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1,
			attempted_at = $1, attempted_by = ARRAY['crashed-host'] WHERE kind = $2 AND state = 'available'`, at, kind)
	default:
		return 0, fmt.Errorf("crash jobs: unknown dialect %q", dialect)
	}
	if err != nil {
		return 0, fmt.Errorf("crash %s jobs: %w", kind, err)
	}
	return res.RowsAffected()
}
