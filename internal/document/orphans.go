package document

import (
	"context"
	"fmt"
	"time"

	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/vault"
)

// A blob with no document row arises when a process dies after writing it
// and before committing its record. Its data key was never stored (only
// the dead process held it), so it is unreadable with every key; it is
// still ciphertext of someone's ID, and goes as soon as no live upload can
// be writing it.

// abandonUploads deletes the blobs of uploads that started more than
// AbandonAfter ago and never committed. Marking them abandoned first
// makes a late Commit fail rather than record a blob about to go.
func (s *Service) abandonUploads(ctx context.Context, now time.Time, rep *SweepReport) error {
	if _, err := s.DB.AbandonPendingUploads(ctx, now.Add(-s.abandonAfter()), now); err != nil {
		return err
	}
	for {
		left, err := s.DB.AbandonedUploads(ctx, 100)
		if err != nil {
			return err
		}
		for _, p := range left {
			if err := s.Blobs.Delete(ctx, p.BlobKey); err != nil {
				return err
			}
			if err := s.DB.DeletePendingUpload(ctx, p.BlobKey); err != nil {
				return err
			}
			rep.UploadsAbandoned++
		}
		if len(left) < 100 {
			return nil
		}
	}
}

// orphanPage is how many blobs one listing request returns (S3's maximum
// is 1000); each page is checked against the records with one query.
const orphanPage = 500

// deleteOrphans compares the blob listing of days that closed (no upload
// begun in them can still commit) with the records, once per day, and
// deletes blobs that neither a document nor a pending upload claims: what
// a version without pending rows left behind, or anything else that
// slipped through. A day is listed page by page, so memory stays bounded,
// and only once after it closes, so the listing's cost stays proportional
// to the uploads, not to sweeps times blobs.
func (s *Service) deleteOrphans(ctx context.Context, now time.Time, rep *SweepReport) error {
	cutoff := now.Add(-s.abandonAfter())
	epochs, err := s.DB.EpochsToCheckForOrphans(ctx, vault.EpochOf(cutoff), 5)
	if err != nil {
		return err
	}
	for _, e := range epochs {
		err := s.Blobs.List(ctx, "documents/"+e+"/", orphanPage, func(objs []blobstore.Object) error {
			orphans, err := s.Unclaimed(ctx, objs)
			if err != nil {
				return err
			}
			for _, o := range orphans {
				if o.ModTime.After(cutoff) {
					continue // cannot happen for a closed day, but never race a writer
				}
				if err := s.Blobs.Delete(ctx, o.Key); err != nil {
					return err
				}
				rep.OrphansDeleted++
				s.Log.Warn("orphan blob deleted", "blob", o.Key)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("check epoch %s for orphan blobs: %w", e, err)
		}
		if err := s.DB.MarkOrphansChecked(ctx, e, now); err != nil {
			return err
		}
	}
	return nil
}

// Unclaimed returns the blobs of objs that no document row and no pending
// upload claims.
func (s *Service) Unclaimed(ctx context.Context, objs []blobstore.Object) ([]blobstore.Object, error) {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.Key
	}
	claimed, err := s.DB.ClaimedBlobKeys(ctx, keys)
	if err != nil {
		return nil, err
	}
	var out []blobstore.Object
	for _, o := range objs {
		if !claimed[o.Key] {
			out = append(out, o)
		}
	}
	return out, nil
}

// CountOrphans lists the whole blob store, a page at a time, and counts
// the blobs written by writtenBy that no record claims: for an incident
// scope, which must count whatever ciphertext exists.
func (s *Service) CountOrphans(ctx context.Context, writtenBy time.Time) (int64, error) {
	var n int64
	err := s.Blobs.List(ctx, "documents/", orphanPage, func(objs []blobstore.Object) error {
		orphans, err := s.Unclaimed(ctx, objs)
		if err != nil {
			return err
		}
		for _, o := range orphans {
			if !o.ModTime.After(writtenBy) {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count orphan blobs: %w", err)
	}
	return n, nil
}
