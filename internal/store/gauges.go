package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Gauges is the state an operator watches, read in one go for /metrics. It
// holds counts and ages only: nothing about any member or staff account.
type Gauges struct {
	Jobs                  []JobGauge // per job kind, jobs not yet finished
	NotificationsPending  int64      // mass-notification letters waiting to be sent
	NotificationOldestDue time.Duration
	RetentionBacklog      int64 // images past their destroy-after time, not yet destroyed
	EpochKeysAlive        int64
	StaffLocked           int64 // accounts locked (read quota, failed logins)
	AuditHead             int64 // sequence number of the audit chain's head
	CheckpointSize        int64 // the last signed checkpoint covers this many events
	CheckpointAge         time.Duration
	HasCheckpoint         bool
}

// JobGauge is one job kind's queue: how many wait, how many run, and how
// long the oldest due job has waited.
type JobGauge struct {
	Kind      string
	Waiting   int64 // available, scheduled or retryable
	Running   int64
	OldestDue time.Duration // the oldest available or retryable job past its scheduled time
}

// ReadGauges reads Gauges at now. The job queue's table belongs to River;
// its timestamps are native in PostgreSQL and ISO text in SQLite.
func (db *DB) ReadGauges(ctx context.Context, now time.Time) (*Gauges, error) {
	g := &Gauges{}
	age, due := `EXTRACT(EPOCH FROM (now() - MIN(scheduled_at)))::float8`, `scheduled_at <= now()`
	if db.dialect == SQLite {
		age, due = `(julianday('now') - julianday(MIN(scheduled_at))) * 86400.0`, `julianday(scheduled_at) <= julianday('now')`
	}
	rows, err := db.sql.QueryContext(ctx, `
		SELECT kind,
		       SUM(CASE WHEN state IN ('available','scheduled','retryable') THEN 1 ELSE 0 END),
		       SUM(CASE WHEN state = 'running' THEN 1 ELSE 0 END)
		FROM river_job WHERE state IN ('available','scheduled','retryable','running')
		GROUP BY kind ORDER BY kind`)
	if err != nil {
		return nil, fmt.Errorf("read job gauges: %w", err)
	}
	for rows.Next() {
		var j JobGauge
		if err := rows.Scan(&j.Kind, &j.Waiting, &j.Running); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read job gauges: %w", err)
		}
		g.Jobs = append(g.Jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read job gauges: %w", err)
	}
	for i := range g.Jobs {
		var secs sql.NullFloat64
		err := db.sql.QueryRowContext(ctx, `SELECT `+age+` FROM river_job
			WHERE kind = $1 AND state IN ('available','retryable') AND `+due, g.Jobs[i].Kind).Scan(&secs)
		if err != nil {
			return nil, fmt.Errorf("read job age: %w", err)
		}
		if secs.Valid && secs.Float64 > 0 {
			g.Jobs[i].OldestDue = time.Duration(secs.Float64 * float64(time.Second))
		}
	}
	n := micros(now)
	var oldest sql.NullInt64
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*), MIN(next_attempt_at) FROM notification_outbox
		WHERE state = 'pending'`).Scan(&g.NotificationsPending, &oldest); err != nil {
		return nil, fmt.Errorf("read notification gauges: %w", err)
	}
	if oldest.Valid && oldest.Int64 < n {
		g.NotificationOldestDue = time.Duration(n-oldest.Int64) * time.Microsecond
	}
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM documents WHERE destroyed_at IS NULL AND destroy_after <= $1`, n).
		Scan(&g.RetentionBacklog); err != nil {
		return nil, fmt.Errorf("read retention backlog: %w", err)
	}
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM epochs WHERE destroyed_at IS NULL`).Scan(&g.EpochKeysAlive); err != nil {
		return nil, fmt.Errorf("read epoch gauge: %w", err)
	}
	if err := db.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM staff WHERE locked_at IS NOT NULL`).Scan(&g.StaffLocked); err != nil {
		return nil, fmt.Errorf("read staff gauge: %w", err)
	}
	if err := db.sql.QueryRowContext(ctx, `SELECT seq FROM audit_head WHERE id = 1`).Scan(&g.AuditHead); err != nil {
		return nil, fmt.Errorf("read audit head: %w", err)
	}
	var size, at sql.NullInt64
	if err := db.sql.QueryRowContext(ctx, `SELECT size, at FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &at); err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read audit checkpoint: %w", err)
	}
	if at.Valid {
		g.HasCheckpoint, g.CheckpointSize = true, size.Int64
		g.CheckpointAge = max(0, time.Duration(n-at.Int64)*time.Microsecond)
	}
	return g, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}
