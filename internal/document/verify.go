package document

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// The full decode of an upload (every pixel, to refuse a file whose
// structure is sound but whose data is not) costs most of intake's time and
// up to the memory budget, so it does not run before the member's answer:
// intake checks the structure in line, Commit enqueues a VerifyArgs job in
// the record's own transaction (durable: it runs even after a crash), and
// the job decodes the image from the vault, streaming and decrypting in
// memory (no plaintext at rest), within the memory budget. An undecodable
// image is rejected with the reason "unreadable" — the member sees it on
// the status page, the host gets the webhook — and destroyed at once.

// VerifyQueue is the job queue the decodes run in, with its own workers
// (--verify-workers), so that a queue of decodes never delays webhooks and
// mail.
const VerifyQueue = "document_verify"

// ReasonUnreadable is the rejection reason of an image that cannot be
// decoded (the same reason a reviewer gives a photo that cannot be read).
const ReasonUnreadable = "unreadable"

// SystemChecker is Result.CheckedBy when no reviewer decided: the
// automatic decode check.
const SystemChecker = "system"

// VerifyArgs is the job that fully decodes one stored document.
type VerifyArgs struct {
	DocumentID string `json:"document_id"`
	// DecodeCost is the decode's estimated allocation (intake.Info), the
	// weight it takes from the memory budget.
	DecodeCost int64 `json:"decode_cost"`
}

// Kind names the job.
func (VerifyArgs) Kind() string { return "document_verify" }

// InsertOpts puts the job on its own queue.
func (VerifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: VerifyQueue, MaxAttempts: 10}
}

// VerifyWorker runs VerifyArgs jobs.
type VerifyWorker struct {
	river.WorkerDefaults[VerifyArgs]
	Service *Service
}

// Timeout is the longest the queue allows: River rescues a job a crashed
// process left running only once the kind's timeout has passed, so a
// longer one strands decodes past the rescue time (the crash loop found
// 199 of them still running 2m45s after the last kill). A decode that
// waits longer for the budget fails and is retried.
func (w *VerifyWorker) Timeout(*river.Job[VerifyArgs]) time.Duration { return jobs.MaxJobTimeout }

// Work decodes the document and rejects it if it is unreadable.
func (w *VerifyWorker) Work(ctx context.Context, job *river.Job[VerifyArgs]) error {
	return w.Service.Verify(ctx, job.Args.DocumentID, job.Args.DecodeCost)
}

// Verify fully decodes document id within the budget; an image that does
// not decode is rejected as unreadable. A document already destroyed or
// decided is left alone. Other failures (the blob store, the keys) are
// returned, for the job to retry.
func (s *Service) Verify(ctx context.Context, id string, cost int64) error {
	d, err := s.DB.Document(ctx, id)
	if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	if d.DestroyedAt != nil || d.WrappedKey == nil {
		return nil
	}
	release, err := s.Limits.Budget.AcquireWait(ctx, cost)
	if err != nil {
		return fmt.Errorf("verify document %s: wait for memory: %w", id, err)
	}
	err = s.decode(ctx, d)
	if cost >= bigDecode {
		// The decoded pixels are garbage now, but the collector would
		// only notice them after the next decode had allocated its own:
		// collect before the budget is given back, so decodes never
		// stack in memory.
		runtime.GC()
	}
	release()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errGone):
		return nil
	case kakunin.ErrorCode(err) == kakunin.EINVALID:
		return s.rejectUnreadable(ctx, d)
	}
	return fmt.Errorf("verify document %s: %w", id, err)
}

var errGone = errors.New("document destroyed")

// bigDecode is the decode size past which its garbage is collected at
// once (a 12-megapixel JPEG is about 18 MB).
const bigDecode = 16 << 20

// decode streams the ciphertext from the blob store through the vault
// into the decoder: no plaintext is written anywhere, and only the
// decoder's image is held whole.
func (s *Service) decode(ctx context.Context, d *store.DocumentRecord) error {
	blob, err := s.Blobs.Get(ctx, d.BlobKey)
	if blobstore.IsNotFound(err) {
		return errGone
	}
	if err != nil {
		return err
	}
	defer blob.Close()
	r, err := s.Vault.OpenDocument(ctx, d.ID, d.Epoch, d.WrappedKey, blob)
	if errors.Is(err, vault.ErrKeyDestroyed) {
		return errGone
	}
	if err != nil {
		return fmt.Errorf("open document %s: %w", d.ID, err)
	}
	return intake.Decode(ctx, r)
}

// rejectUnreadable decides the verification as rejected, reason
// unreadable, announces it to the host and destroys the image, unless a
// reviewer decided it first.
func (s *Service) rejectUnreadable(ctx context.Context, d *store.DocumentRecord) error {
	now := s.Now().UTC()
	decided := false
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		r := &kakunin.Result{RejectReason: ReasonUnreadable, DocumentType: d.Type, CheckedAt: now, CheckedBy: SystemChecker}
		ok, err := tx.RecordDecision(ctx, d.VerificationID, kakunin.StatusRejected, r)
		if err != nil || !ok {
			return err
		}
		decided = true
		if err := tx.SetDecided(ctx, d.ID, now, now); err != nil {
			return err
		}
		err = s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: audit.DocumentDecided, Actor: SystemChecker, Subject: d.ID,
			Detail: map[string]string{"task": d.ID, "verification": d.VerificationID, "status": string(kakunin.StatusRejected), "reason": ReasonUnreadable}})
		if err != nil {
			return err
		}
		if s.Events == nil {
			return nil
		}
		v, err := tx.Verification(ctx, d.VerificationID)
		if err != nil {
			return err
		}
		return s.Events.VerificationEnded(ctx, tx, v)
	})
	if err != nil {
		return fmt.Errorf("reject unreadable document %s: %w", d.ID, err)
	}
	if !decided {
		return nil
	}
	s.Log.Info("document rejected as unreadable", "document", d.ID)
	// Nothing is left to review: the image goes now (the sweep would
	// destroy it on its next pass anyway, its deadline being now).
	return s.Destroy(ctx, d.ID)
}
