package document

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/jobs"
)

// DestroyArgs is a job that destroys one document's image when its
// retention ends; it is enqueued with the decision, in the same transaction.
type DestroyArgs struct {
	DocumentID string `json:"document_id"`
}

// Kind names the job.
func (DestroyArgs) Kind() string { return "document_destroy" }

// DestroyWorker runs DestroyArgs jobs.
type DestroyWorker struct {
	river.WorkerDefaults[DestroyArgs]
	Service *Service
}

// Timeout is the default: one blob delete and one small transaction.
func (w *DestroyWorker) Timeout(*river.Job[DestroyArgs]) time.Duration { return jobs.DefaultJobTimeout }

// Work destroys the document.
func (w *DestroyWorker) Work(ctx context.Context, job *river.Job[DestroyArgs]) error {
	return w.Service.Destroy(ctx, job.Args.DocumentID)
}

// SweepArgs is the periodic retention sweep.
type SweepArgs struct{}

// Kind names the job.
func (SweepArgs) Kind() string { return "retention_sweep" }

// SweepWorker runs the retention sweep.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Service *Service
}

// Timeout is the longest the queue allows: a sweep that runs out of time
// has still committed what it finished, and the next sweep goes on.
func (w *SweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return jobs.MaxJobTimeout }

// Work sweeps.
func (w *SweepWorker) Work(ctx context.Context, job *river.Job[SweepArgs]) error {
	rep, err := w.Service.Sweep(ctx)
	if err != nil {
		return err
	}
	if rep.Total() > 0 {
		w.Service.Log.Info("retention sweep", "links_expired", rep.LinksExpired, "images_destroyed", rep.ImagesDestroyed,
			"blobs_deleted", rep.BlobsDeleted, "epochs_destroyed", len(rep.EpochsDestroyed), "temp_files_removed", rep.TempFilesRemoved,
			"uploads_abandoned", rep.UploadsAbandoned, "orphans_deleted", rep.OrphansDeleted)
	}
	return nil
}

// Register adds the document workers to workers.
func Register(workers *river.Workers, s *Service) {
	river.AddWorker(workers, &DestroyWorker{Service: s})
	river.AddWorker(workers, &SweepWorker{Service: s})
	river.AddWorker(workers, &VerifyWorker{Service: s})
}

// SweepJob is the periodic job that runs the sweep every interval (and once
// at start, to catch up on anything due while the service was down).
func SweepJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return SweepArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true})
}
