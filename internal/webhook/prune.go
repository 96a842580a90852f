package webhook

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/store"
)

// PruneArgs is the periodic job that forgets what the host API keeps for a
// while only: logged events past their retention and idempotency keys
// past their window.
type PruneArgs struct{}

// Kind names the job; stored jobs refer to it.
func (PruneArgs) Kind() string { return "host_api_prune" }

// PruneWorker runs PruneArgs.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	DB                *store.DB
	EventRetention    time.Duration // --event-retention
	IdempotencyWindow time.Duration
	Log               *slog.Logger
}

// Work prunes both.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	now := time.Now()
	events, err := w.DB.SweepWebhookEvents(ctx, now.Add(-w.EventRetention))
	if err != nil {
		return err
	}
	keys, err := w.DB.SweepIdempotencyKeys(ctx, now.Add(-w.IdempotencyWindow))
	if err != nil {
		return err
	}
	if events+keys > 0 {
		w.Log.InfoContext(ctx, "host API pruned", "events", events, "idempotency_keys", keys)
	}
	return nil
}

// PruneJob runs PruneArgs every interval and once at start.
func PruneJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return PruneArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true})
}
