package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// errUnreachable marks a database that could not be connected to (as
// opposed to one that answered with an error): only this is worth waiting
// for at start.
var errUnreachable = errors.New("database not reachable")

// OpenWait is Open for a service starting beside its database: while the
// database cannot be reached it retries with back-off (from 250 ms, doubling,
// at most 5 s apart) for up to wait, logging each miss, instead of crashing
// the replica into its supervisor's restart loop. Any other failure — a
// refused schema, a bad password, a failed migration — is returned at once.
func OpenWait(ctx context.Context, dsn string, wait time.Duration, log *slog.Logger) (*DB, error) {
	deadline := time.Now().Add(wait)
	delay := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		db, err := Open(ctx, dsn)
		if err == nil || !errors.Is(err, errUnreachable) {
			return db, err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("gave up after waiting %s (--database-wait): %w", wait, err)
		}
		log.Warn("database not reachable yet; waiting", "attempt", attempt, "retry_in", min(delay, left).String(), "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the database: %w", ctx.Err())
		case <-time.After(min(delay, left)):
		}
		delay = min(2*delay, 5*time.Second)
	}
}
