package document

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// Enqueuer puts a job in the caller's transaction.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error
}

// Events is told about verifications that ended without a reviewer (the
// image waited too long, or the member left), so the host hears of it.
type Events interface {
	VerificationEnded(ctx context.Context, tx *store.Tx, v *kakunin.Verification) error
}

// SubmitEvents is what Events may also be told: that a member's upload was
// recorded (verification.submitted), in the same transaction.
type SubmitEvents interface {
	VerificationSubmitted(ctx context.Context, tx *store.Tx, v *kakunin.Verification) error
}

// Service receives and destroys documents.
type Service struct {
	DB     *store.DB
	Vault  *vault.Vault
	Blobs  *blobstore.Store
	Events Events
	Audit  *audit.Log
	Limits intake.Limits
	// Jobs enqueues the full decode of each committed upload (VerifyArgs).
	// Without it the decode runs in Sanitize, before the answer.
	Jobs Enqueuer
	// RetainUnreviewed is how long an image may wait for a reviewer.
	RetainUnreviewed time.Duration
	// AbandonAfter is how long an upload may take between its first byte
	// and its commit; past it the sweep deletes what a crashed process
	// left (pending blobs, temp files). 0 means an hour. It must exceed the
	// server's longest request.
	AbandonAfter time.Duration
	Now          func() time.Time
	Log          *slog.Logger
	// OnNoSpace is told when an upload was refused for a full disk: the
	// operator's alert and /readyz (nil: only logged).
	OnNoSpace func(ctx context.Context)
}

// Pending is an upload stored as ciphertext whose record is not yet
// committed: until Commit, nothing can decrypt it.
type Pending struct {
	ID         string
	Epoch      string
	BlobKey    string
	WrappedKey []byte
	Info       intake.Info
	ReceivedAt time.Time
}

// Store sanitises an upload, encrypts it as it streams in and writes the
// ciphertext to the blob store durably. v is the verification the upload
// came through (nil when there is none yet); it is noted so that an
// incident scope can name whose upload a crash left behind.
//
// Before the blob is written a pending row is recorded, and Commit removes
// it with the document's insert: a crash in between leaves the row, and
// the sweep deletes the blob after AbandonAfter. On any error nothing is
// left (or, if the process dies, nothing the sweep does not remove).
func (s *Service) Store(ctx context.Context, v *kakunin.Verification, r io.Reader) (*Pending, error) {
	now := s.Now().UTC()
	p := &Pending{ID: kakunin.NewID("doc"), Epoch: vault.EpochOf(now), ReceivedAt: now}
	p.BlobKey = "documents/" + p.Epoch + "/" + p.ID
	row := &store.PendingUpload{BlobKey: p.BlobKey, DocumentID: p.ID, Epoch: p.Epoch, StartedAt: now}
	if v != nil {
		row.VerificationID, row.MemberID = v.ID, v.MemberID
	}
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertPendingUpload(ctx, row); err != nil {
			return err
		}
		created, err := tx.NoteEpoch(ctx, p.Epoch, now)
		if err != nil || !created {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: audit.EpochCreated, Actor: "system", Subject: "epoch:" + p.Epoch})
	})
	if err != nil {
		return nil, s.noSpace(ctx, err) // SQLite shares the disk with the blobs
	}
	err = s.Blobs.Put(ctx, p.BlobKey, func(w io.Writer) error {
		sealer, wrapped, err := s.Vault.SealDocument(ctx, p.ID, p.Epoch, w)
		if err != nil {
			return fmt.Errorf("seal document %s: %w", p.ID, err)
		}
		lim := s.Limits
		lim.DecodeInline = lim.DecodeInline || s.Jobs == nil
		info, err := intake.Sanitize(ctx, r, sealer, lim)
		if err != nil {
			return err
		}
		if err := sealer.Close(); err != nil {
			return fmt.Errorf("finish ciphertext of %s: %w", p.ID, err)
		}
		p.Info, p.WrappedKey = info, wrapped
		return nil
	})
	if err != nil {
		// Put stored nothing; the row goes too (or, failing that, the sweep
		// finds a row whose blob is already gone).
		s.forgetPending(ctx, p)
		return nil, s.noSpace(ctx, err)
	}
	return p, nil
}

// noSpace turns a full disk (blob store or database) into the member's
// clear "storage full" answer and tells OnNoSpace; other errors pass.
func (s *Service) noSpace(ctx context.Context, err error) error {
	if !blobstore.IsNoSpace(err) && !store.IsDiskFull(err) {
		return err
	}
	s.Log.Error("upload refused: storage full", "err", err)
	if s.OnNoSpace != nil {
		s.OnNoSpace(ctx)
	}
	return kakunin.Errorf(kakunin.ENOSPACE, "storage_full")
}

// Discard deletes a pending upload's ciphertext, then its pending row.
func (s *Service) Discard(ctx context.Context, p *Pending) {
	ctx = context.WithoutCancel(ctx)
	if err := s.Blobs.Delete(ctx, p.BlobKey); err != nil {
		// The row stays, so the sweep tries again.
		s.Log.Error("discard pending upload", "document", p.ID, "err", err)
		return
	}
	s.forgetPending(ctx, p)
}

func (s *Service) forgetPending(ctx context.Context, p *Pending) {
	if err := s.DB.DeletePendingUpload(context.WithoutCancel(ctx), p.BlobKey); err != nil {
		s.Log.Error("forget pending upload", "document", p.ID, "err", err)
	}
}

// abandonAfter is AbandonAfter or its default.
func (s *Service) abandonAfter() time.Duration {
	if s.AbandonAfter > 0 {
		return s.AbandonAfter
	}
	return time.Hour
}

// Commit records a stored upload as the document of a verification that is
// awaiting it, in one transaction; the verification moves to submitted. If
// the link was used meanwhile, the upload is discarded and EGONE returned.
func (s *Service) Commit(ctx context.Context, p *Pending, v *kakunin.Verification, typ kakunin.DocumentType) (*store.DocumentRecord, error) {
	if !typ.Valid() {
		s.Discard(ctx, p)
		return nil, kakunin.Errorf(kakunin.EINVALID, "choose the type of document")
	}
	d := &store.DocumentRecord{BlobKey: p.BlobKey}
	d.ID, d.VerificationID, d.MemberID, d.Type = p.ID, v.ID, v.MemberID, typ
	d.ContentType, d.Size, d.Width, d.Height = p.Info.ContentType, p.Info.Size, p.Info.Width, p.Info.Height
	d.Orientation = p.Info.Orientation
	d.Epoch, d.WrappedKey, d.ReceivedAt = p.Epoch, p.WrappedKey, p.ReceivedAt
	d.DestroyAfter = p.ReceivedAt.Add(s.RetainUnreviewed)
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		ok, err := tx.SetVerificationStatus(ctx, v.ID, kakunin.StatusAwaitingUpload, kakunin.StatusSubmitted, s.Now().UTC())
		if err != nil {
			return err
		}
		if !ok {
			return kakunin.Errorf(kakunin.EGONE, "this link has already been used")
		}
		// The sweep abandons an upload older than AbandonAfter and deletes
		// its blob; recording it then would acknowledge a lost image.
		live, err := tx.FinishPendingUpload(ctx, p.BlobKey)
		if err != nil {
			return err
		}
		if !live {
			return fmt.Errorf("commit document %s: the upload took longer than %s and was abandoned", p.ID, s.abandonAfter())
		}
		if err := tx.InsertDocument(ctx, d); err != nil {
			return err
		}
		if ev, ok := s.Events.(SubmitEvents); ok {
			sv, err := tx.Verification(ctx, v.ID)
			if err != nil {
				return err
			}
			if err := ev.VerificationSubmitted(ctx, tx, sv); err != nil {
				return err
			}
		}
		if s.Jobs != nil {
			err := s.Jobs.InsertTx(ctx, tx.SQL(), VerifyArgs{DocumentID: d.ID, DecodeCost: p.Info.DecodeCost}, nil)
			if err != nil {
				return err
			}
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{At: d.ReceivedAt, Action: audit.DocumentReceived, Actor: "member:" + v.MemberID,
			Subject: d.ID, Origin: audit.OriginFrom(ctx), Detail: map[string]string{"verification": v.ID, "type": string(typ), "epoch": d.Epoch}})
	})
	if err != nil {
		s.Discard(ctx, p)
		return nil, err
	}
	return d, nil
}

// Open returns a document's plaintext, decrypted in memory. Callers are the
// review task only (invariant 4); the size is bounded by intake's limits.
func (s *Service) Open(ctx context.Context, d *store.DocumentRecord) ([]byte, error) {
	if d.DestroyedAt != nil || d.WrappedKey == nil {
		return nil, kakunin.Errorf(kakunin.EGONE, "this image has been destroyed")
	}
	// Past its deadline an image is gone, whether or not the sweep has
	// destroyed it yet: retention is a promise about reads, not about
	// when a job runs.
	if !s.Now().Before(d.DestroyAfter) {
		return nil, kakunin.Errorf(kakunin.EGONE, "this image has passed its retention deadline")
	}
	blob, err := s.Blobs.Get(ctx, d.BlobKey)
	if blobstore.IsNotFound(err) {
		// Destroyed since the caller read the record.
		return nil, kakunin.Errorf(kakunin.EGONE, "this image has been destroyed")
	}
	if err != nil {
		return nil, err
	}
	defer blob.Close()
	r, err := s.Vault.OpenDocument(ctx, d.ID, d.Epoch, d.WrappedKey, blob)
	if errors.Is(err, vault.ErrKeyDestroyed) {
		return nil, kakunin.Errorf(kakunin.EGONE, "this image has been destroyed")
	}
	if err != nil {
		return nil, fmt.Errorf("open document %s: %w", d.ID, err)
	}
	// Read to EOF: streaming AEAD authenticates each segment as it is read,
	// so only a complete read proves the whole image is genuine.
	b, err := io.ReadAll(io.LimitReader(r, d.Size+1))
	if err != nil {
		return nil, fmt.Errorf("decrypt document %s: %w", d.ID, err)
	}
	if int64(len(b)) != d.Size {
		return nil, fmt.Errorf("decrypt document %s: size %d, want %d", d.ID, len(b), d.Size)
	}
	return b, nil
}

// Destroy makes one document's image unreadable at once by forgetting its
// wrapped key, then deletes its ciphertext. A verification still waiting
// for review ends as expired. Destroying twice is harmless.
func (s *Service) Destroy(ctx context.Context, id string) error {
	now := s.Now().UTC()
	var d *store.DocumentRecord
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		d, err = tx.Document(ctx, id)
		if err != nil {
			return err
		}
		destroyed, err := tx.DestroyDocumentKey(ctx, id, now)
		if err != nil {
			return err
		}
		if destroyed {
			err := s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: audit.DocumentDestroyed, Actor: audit.ActorFrom(ctx),
				Subject: id, Detail: map[string]string{"verification": d.VerificationID, "epoch": d.Epoch}})
			if err != nil {
				return err
			}
		}
		ended, err := tx.SetVerificationStatus(ctx, d.VerificationID, kakunin.StatusSubmitted, kakunin.StatusExpired, now)
		if err != nil || !ended || s.Events == nil {
			return err
		}
		v, err := tx.Verification(ctx, d.VerificationID)
		if err != nil {
			return err
		}
		return s.Events.VerificationEnded(ctx, tx, v)
	})
	if err != nil {
		return fmt.Errorf("destroy document %s: %w", id, err)
	}
	return s.deleteBlob(ctx, d)
}

func (s *Service) deleteBlob(ctx context.Context, d *store.DocumentRecord) error {
	if err := s.Blobs.Delete(ctx, d.BlobKey); err != nil {
		return err
	}
	return s.DB.MarkBlobDeleted(ctx, d.ID, s.Now().UTC())
}

// announceEnded tells Events, in tx, of each verification that just ended.
func (s *Service) announceEnded(ctx context.Context, tx *store.Tx, ids []string) error {
	if s.Events == nil {
		return nil
	}
	for _, id := range ids {
		v, err := tx.Verification(ctx, id)
		if err != nil {
			return err
		}
		if err := s.Events.VerificationEnded(ctx, tx, v); err != nil {
			return err
		}
	}
	return nil
}

// MemberLeft destroys every image of a member at once and forgets their
// address; only the verification records stay. record, when not nil,
// writes what records the departure (its audit event) in the same
// transaction.
func (s *Service) MemberLeft(ctx context.Context, memberID string, record func(tx *store.Tx) error) error {
	now := s.Now().UTC()
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.MarkMemberLeft(ctx, memberID, now); err != nil {
			return err
		}
		ids, err := tx.ExpireMemberVerifications(ctx, memberID, now)
		if err != nil {
			return err
		}
		if err := s.announceEnded(ctx, tx, ids); err != nil {
			return err
		}
		if record == nil {
			return nil
		}
		return record(tx)
	})
	if err != nil {
		return fmt.Errorf("member %s left: %w", memberID, err)
	}
	docs, err := s.DB.LiveDocumentsOfMember(ctx, memberID)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if err := s.Destroy(ctx, d.ID); err != nil {
			return err
		}
	}
	return nil
}
