// Package review is the reviewer's side of a verification: a queue, one
// task at a time, the image shown only inside a task assigned to the
// reviewer and watermarked with who looked and when (invariant 4), and the
// decision, which is recorded with its webhook and the image's destruction
// in one transaction (invariant 8).
package review

import (
	"context"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/verification"
	"github.com/kakunin/kakunin/internal/watermark"
)

// RejectReasons are the reasons a member may be told, by code.
var RejectReasons = []string{"unreadable", "wrong_document", "back_side", "expired_document", "incomplete", "other"}

// AdultAge is the age of majority in Japan since April 2022, and the age
// the dating-site law asks to be checked.
const AdultAge = 18

// jst is where the calendar day of a birthday is counted.
var jst = time.FixedZone("JST", 9*60*60)

// Service runs reviews.
type Service struct {
	DB                  *store.DB
	Documents           *document.Service
	Jobs                document.Enqueuer
	RetainAfterDecision time.Duration
	KeepBirthDate       bool
	MaxPixels           int64
	MaxAssigned         int // how many undecided tasks one reviewer may hold
	Now                 func() time.Time
	Log                 *slog.Logger
}

// CanReview reports whether a role may take review tasks.
func CanReview(r kakunin.Role) bool { return r == kakunin.RoleReviewer || r == kakunin.RoleAdmin }

// Queue returns the reviewer's open tasks and how many wait unassigned.
func (s *Service) Queue(ctx context.Context, reviewerID string) ([]*store.DocumentRecord, int, error) {
	mine, err := s.DB.AssignedDocuments(ctx, reviewerID)
	if err != nil {
		return nil, 0, err
	}
	n, err := s.DB.WaitingCount(ctx)
	return mine, n, err
}

// Recent returns the documents the reviewer decided most recently.
func (s *Service) Recent(ctx context.Context, reviewerID string) ([]*store.DocumentRecord, error) {
	return s.DB.RecentDecisions(ctx, reviewerID, 10)
}

// Next assigns the oldest waiting document to the reviewer. It returns nil
// when nothing waits.
func (s *Service) Next(ctx context.Context, reviewerID string) (*store.DocumentRecord, error) {
	var d *store.DocumentRecord
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		// Without the lock, parallel requests of one reviewer would all
		// count the same tasks and exceed MaxAssigned.
		if err := tx.LockStaff(ctx, reviewerID); err != nil {
			return err
		}
		mine, err := tx.AssignedDocuments(ctx, reviewerID)
		if err != nil {
			return err
		}
		if len(mine) >= s.MaxAssigned {
			return kakunin.Errorf(kakunin.ECONFLICT, "finish or release one of your %d open tasks first", len(mine))
		}
		d, err = tx.ClaimNextDocument(ctx, reviewerID, s.Now().UTC())
		return err
	})
	return d, err
}

// Task returns a document only to the reviewer it is assigned to; to anyone
// else it does not exist.
func (s *Service) Task(ctx context.Context, reviewerID, docID string) (*store.DocumentRecord, error) {
	return task(ctx, s.DB.Queries, reviewerID, docID)
}

func task(ctx context.Context, q store.Queries, reviewerID, docID string) (*store.DocumentRecord, error) {
	if len(docID) > 64 {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "task not found")
	}
	d, err := q.Document(ctx, docID)
	if err != nil {
		return nil, err
	}
	if d.ReviewerID != reviewerID || d.DecidedAt != nil || d.DestroyedAt != nil {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "task not found")
	}
	return d, nil
}

// Image returns the task's image, decrypted in memory, turned upright by
// the orientation its upload stated and watermarked with the reviewer's
// address and the time, as a JPEG.
func (s *Service) Image(ctx context.Context, reviewer *store.StaffRecord, docID string) ([]byte, error) {
	d, err := s.Task(ctx, reviewer.ID, docID)
	if err != nil {
		return nil, err
	}
	plain, err := s.Documents.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	s.Log.Info("document read", "document", d.ID, "staff", reviewer.ID)
	m := watermark.Mark{Reviewer: reviewer.Email, At: s.Now(), TaskID: d.ID, Orientation: d.Orientation}
	return watermark.Apply(plain, m, s.MaxPixels)
}

// Approval is what the reviewer read off the document.
type Approval struct {
	DocumentName string
	Issuer       string
	BirthDate    string // YYYY-MM-DD
}

// cleanField trims a reviewer's entry and accepts it only if it is 1 to max
// printable characters: it ends up in the host's record and webhooks.
func cleanField(s string, max int) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return s, false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != '\u3000' {
			return s, false
		}
	}
	return s, true
}

// Approve records that the document was checked: its name, its issuer and
// whether the holder is an adult. The date of birth is kept only when the
// operator enabled it.
func (s *Service) Approve(ctx context.Context, reviewerID, docID string, a Approval) error {
	name, ok1 := cleanField(a.DocumentName, 100)
	issuer, ok2 := cleanField(a.Issuer, 100)
	if !ok1 || !ok2 {
		return kakunin.Errorf(kakunin.EINVALID, "the document's name and issuer are required (100 characters at most)")
	}
	now := s.Now().UTC()
	birth, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(a.BirthDate), jst)
	if err != nil || birth.Year() < 1900 || !birth.Before(now) {
		return kakunin.Errorf(kakunin.EINVALID, "the date of birth must be a real past date (YYYY-MM-DD)")
	}
	r := &kakunin.Result{Adult: IsAdult(birth, now), DocumentName: name, Issuer: issuer, CheckedAt: now, CheckedBy: reviewerID}
	if s.KeepBirthDate {
		r.BirthDate = birth.Format("2006-01-02")
	}
	return s.decide(ctx, reviewerID, docID, kakunin.StatusApproved, r)
}

// Reject records that the document could not be accepted, with a reason
// the member is shown.
func (s *Service) Reject(ctx context.Context, reviewerID, docID, reason string) error {
	known := false
	for _, r := range RejectReasons {
		known = known || r == reason
	}
	if !known {
		return kakunin.Errorf(kakunin.EINVALID, "choose a reason")
	}
	r := &kakunin.Result{RejectReason: reason, CheckedAt: s.Now().UTC(), CheckedBy: reviewerID}
	return s.decide(ctx, reviewerID, docID, kakunin.StatusRejected, r)
}

// decide stores the result, schedules the image's destruction and the
// host's webhook, all in one transaction: either all happen or none.
func (s *Service) decide(ctx context.Context, reviewerID, docID string, status kakunin.VerificationStatus, r *kakunin.Result) error {
	destroyAt := r.CheckedAt.Add(s.RetainAfterDecision)
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		d, err := task(ctx, tx.Queries, reviewerID, docID)
		if err != nil {
			return err
		}
		r.DocumentType = d.Type
		ok, err := tx.RecordDecision(ctx, d.VerificationID, status, r)
		if err != nil {
			return err
		}
		if !ok {
			return kakunin.Errorf(kakunin.ECONFLICT, "this verification was already decided or has ended")
		}
		if err := tx.SetDecided(ctx, d.ID, r.CheckedAt, destroyAt); err != nil {
			return err
		}
		err = s.Jobs.InsertTx(ctx, tx.SQL(), document.DestroyArgs{DocumentID: d.ID}, &river.InsertOpts{ScheduledAt: destroyAt, MaxAttempts: 50})
		if err != nil {
			return err
		}
		v, err := tx.Verification(ctx, d.VerificationID)
		if err != nil {
			return err
		}
		return verification.Announce(ctx, s.Jobs, tx, v)
	})
}

// Release puts a task back in the queue.
func (s *Service) Release(ctx context.Context, reviewerID, docID string) error {
	ok, err := s.DB.ReleaseDocument(ctx, docID, reviewerID)
	if err != nil {
		return err
	}
	if !ok {
		return kakunin.Errorf(kakunin.ENOTFOUND, "task not found")
	}
	return nil
}

// IsAdult reports whether someone born on birth is at least AdultAge on
// the calendar day of now in Japan. Japanese law makes one a year older at
// the very end of the day before the birthday, so one is 18 from the start
// of the 18th birthday; someone born on 29 February, from 1 March in common
// years (time.Date normalises 29 February to 1 March).
func IsAdult(birth, now time.Time) bool {
	// A birth date is a calendar date, not an instant: take its own day.
	b := time.Date(birth.Year(), birth.Month(), birth.Day(), 0, 0, 0, 0, jst)
	n := now.In(jst)
	threshold := time.Date(b.Year()+AdultAge, b.Month(), b.Day(), 0, 0, 0, 0, jst)
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, jst)
	return !today.Before(threshold)
}
