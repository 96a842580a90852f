package document

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// epochGrace keeps a day's epoch key for an hour after the day ends, so an
// upload that began before midnight (UTC) and commits after it still finds
// its key. Uploads are bounded by the server's request timeout, far shorter.
const epochGrace = time.Hour

// SweepReport says what one retention sweep did.
type SweepReport struct {
	LinksExpired     int
	ImagesDestroyed  int
	BlobsDeleted     int
	EpochsDestroyed  []string
	TempFilesRemoved int
	// UploadsAbandoned counts uploads older than AbandonAfter that never
	// committed (a crash between the blob and its record): blob deleted.
	UploadsAbandoned int
	// OrphansDeleted counts blobs no record claimed, found by comparing a
	// closed day's listing with the records.
	OrphansDeleted int
}

// Total is how many things the sweep did, for logging only what mattered.
func (r *SweepReport) Total() int {
	return r.LinksExpired + r.ImagesDestroyed + r.BlobsDeleted + len(r.EpochsDestroyed) + r.TempFilesRemoved +
		r.UploadsAbandoned + r.OrphansDeleted
}

// Sweep applies retention: it closes expired upload links, destroys images
// past their time, finishes blob deletions a crash interrupted, deletes
// the blobs of uploads a crash left uncommitted and of any blob no record
// claims, destroys epoch keys whose documents are all gone, and removes
// stale temp files.
func (s *Service) Sweep(ctx context.Context) (*SweepReport, error) {
	now := s.Now().UTC()
	rep := &SweepReport{}
	if err := s.expireLinks(ctx, now, rep); err != nil {
		return rep, err
	}
	for {
		due, err := s.DB.DocumentsDue(ctx, now, sweepBatch)
		if err != nil {
			return rep, err
		}
		n, err := s.destroyDue(ctx, due, now)
		rep.ImagesDestroyed += n
		if err != nil {
			return rep, err
		}
		if len(due) < sweepBatch {
			break
		}
	}
	left, err := s.DB.BlobsToDelete(ctx, 1000)
	if err != nil {
		return rep, err
	}
	for _, d := range left {
		if err := s.deleteBlob(ctx, d); err != nil {
			return rep, err
		}
		rep.BlobsDeleted++
	}
	if err := s.abandonUploads(ctx, now, rep); err != nil {
		return rep, err
	}
	if err := s.deleteOrphans(ctx, now, rep); err != nil {
		return rep, err
	}
	epochs, err := s.DB.EpochsToDestroy(ctx, vault.EpochOf(now.Add(-epochGrace)))
	if err != nil {
		return rep, err
	}
	for _, e := range epochs {
		if err := s.Vault.DestroyEpoch(ctx, e); err != nil {
			return rep, fmt.Errorf("destroy epoch %s: %w", e, err)
		}
		err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
			if err := tx.MarkEpochDestroyed(ctx, e, now); err != nil {
				return err
			}
			return s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: audit.EpochDestroyed, Actor: "system", Subject: "epoch:" + e})
		})
		if err != nil {
			return rep, err
		}
		rep.EpochsDestroyed = append(rep.EpochsDestroyed, e)
		s.Log.Info("epoch key destroyed", "epoch", e)
	}
	rep.TempFilesRemoved = s.removeStaleTemp(now)
	return rep, nil
}

// sweepBatch is how many due documents one sweep transaction destroys.
const sweepBatch = 100

// destroyDue destroys documents past their time, a batch at once: one
// transaction forgets every wrapped key, appends their audit events and
// ends and announces their verifications; then the blobs are deleted and
// marked deleted in one more. The keys still go before the blobs
// (invariant 3): a crash between the two leaves blobs whose keys are gone,
// which BlobsToDelete finds on the next sweep. It returns how many it
// destroyed. A batch rather than a transaction per document, because each
// commit is an fsync: the purge of an old backlog (the Omiai case) was
// bound by them.
func (s *Service) destroyDue(ctx context.Context, due []*store.DocumentRecord, now time.Time) (int, error) {
	if len(due) == 0 {
		return 0, nil
	}
	var destroyed []*store.DocumentRecord
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		destroyed = destroyed[:0]
		var evs []audit.Event
		for _, d := range due {
			ok, err := tx.DestroyDocumentKey(ctx, d.ID, now)
			if err != nil {
				return err
			}
			if !ok {
				continue // destroyed meanwhile (a member left, another replica swept)
			}
			destroyed = append(destroyed, d)
			evs = append(evs, audit.Event{At: now, Action: audit.DocumentDestroyed, Actor: audit.ActorFrom(ctx),
				Subject: d.ID, Detail: map[string]string{"verification": d.VerificationID, "epoch": d.Epoch}})
			ended, err := tx.SetVerificationStatus(ctx, d.VerificationID, kakunin.StatusSubmitted, kakunin.StatusExpired, now)
			if err != nil {
				return err
			}
			if ended && s.Events != nil {
				v, err := tx.Verification(ctx, d.VerificationID)
				if err != nil {
					return err
				}
				if err := s.Events.VerificationEnded(ctx, tx, v); err != nil {
					return err
				}
			}
		}
		return s.Audit.AppendTx(ctx, tx, evs...)
	})
	if err != nil {
		return 0, fmt.Errorf("destroy %d documents due: %w", len(due), err)
	}
	var deleted []*store.DocumentRecord
	var delErr error
	for _, d := range destroyed {
		if err := s.Blobs.Delete(ctx, d.BlobKey); err != nil {
			delErr = err // the next sweep's BlobsToDelete retries it
			break
		}
		deleted = append(deleted, d)
	}
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		for _, d := range deleted {
			if err := tx.MarkBlobDeleted(ctx, d.ID, s.Now().UTC()); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = delErr
	}
	return len(destroyed), err
}

// expireLinks closes lapsed upload links and announces each in the same
// transaction, so no link ends without the host hearing of it.
func (s *Service) expireLinks(ctx context.Context, now time.Time, rep *SweepReport) error {
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		ids, err := tx.ExpireVerifications(ctx, now)
		if err != nil {
			return err
		}
		rep.LinksExpired = len(ids)
		return s.announceEnded(ctx, tx, ids)
	})
}

// removeStaleTemp deletes temp files a process left when it died mid-upload.
// They hold ciphertext whose key was never stored; AbandonAfter's age makes
// sure no live upload is writing them.
func (s *Service) removeStaleTemp(now time.Time) int {
	files, err := s.Blobs.StaleTempFiles()
	if err != nil {
		s.Log.Error("list stale temp files", "err", err)
		return 0
	}
	n := 0
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || now.Sub(fi.ModTime()) < s.abandonAfter() {
			continue
		}
		if os.Remove(f) == nil {
			n++
		}
	}
	return n
}
