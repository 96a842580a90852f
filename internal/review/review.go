// Package review is the reviewer's side of a verification: a queue, one
// task at a time, the image shown only inside a task assigned to the
// reviewer and watermarked with who looked and when (invariant 4), and the
// decision, which is recorded with its webhook and the image's destruction
// in one transaction (invariant 8).
package review

import (
	"context"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/verification"
	"github.com/kakunin/kakunin/internal/watermark"
)

// RejectReasons are the reasons a member may be told, by code.
// ReasonUnderAge is the one that is a decision about age: the document is
// readable and shows a minor, so the result says adult false; every other
// reason leaves adult unset.
var RejectReasons = []string{"unreadable", "wrong_document", "back_side", "expired_document", "incomplete", ReasonUnderAge, "other"}

// ReasonUnderAge rejects a document that shows its holder is under AdultAge.
const ReasonUnderAge = "under_age"

// AdultAge is the age of majority in Japan since April 2022, and the age
// the dating-site law asks to be checked.
const AdultAge = 18

// kakunin.JST is where the calendar day of a birthday is counted.

// Service runs reviews.
type Service struct {
	DB                  *store.DB
	Documents           *document.Service
	Jobs                document.Enqueuer
	RetainAfterDecision time.Duration
	KeepBirthDate       bool
	MaxPixels           int64
	MaxAssigned         int // how many undecided tasks one reviewer may hold
	Audit               *audit.Log
	ReadQuota           int           // images one reviewer may open per ReadQuotaWindow
	ReadQuotaWindow     time.Duration // rolling
	// Alert raises an alert inside tx (mail to admins and a webhook), so it
	// is sent if and only if the lock it reports commits.
	Alert func(ctx context.Context, tx *store.Tx, kind, staffID string, detail map[string]string) error
	Now   func() time.Time
	Log   *slog.Logger
}

// CanReview reports whether a role may take review tasks: reviewers only.
// An admin who could also read images would hold every power at once.
func CanReview(r kakunin.Role) bool { return r == kakunin.RoleReviewer }

// ErrQuotaExceeded is what a read beyond the quota gets: the account is
// locked by then.
var ErrQuotaExceeded = kakunin.Errorf(kakunin.EFORBIDDEN, "read quota exceeded: this account is locked and the administrators have been alerted")

// Queue returns the reviewer's open tasks and how many wait unassigned.
func (s *Service) Queue(ctx context.Context, reviewerID string) ([]*store.DocumentRecord, int, error) {
	mine, err := s.DB.AssignedDocuments(ctx, reviewerID)
	if err != nil {
		return nil, 0, err
	}
	n, err := s.DB.WaitingCount(ctx, s.Now().UTC())
	return mine, n, err
}

// RecentDecisions returns the reviewer's latest decisions (outcome,
// reason, time), newest first.
func (s *Service) RecentDecisions(ctx context.Context, reviewerID string) ([]store.Decision, error) {
	return s.DB.RecentDecisionsOf(ctx, reviewerID, 10)
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
//
// Each read is counted and audited before anything is decrypted, in the
// transaction that checks the reviewer's quota (fail closed: no audit, no
// image). The read that would exceed the quota locks the account instead,
// ends its sessions, audits both and raises an alert, all in one
// transaction; it returns ErrQuotaExceeded.
func (s *Service) Image(ctx context.Context, reviewer *store.StaffRecord, docID string) ([]byte, error) {
	var d *store.DocumentRecord
	exceeded := false
	now := s.Now().UTC()
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.LockStaff(ctx, reviewer.ID); err != nil {
			return err
		}
		var err error
		if d, err = task(ctx, tx.Queries, reviewer.ID, docID); err != nil {
			return err
		}
		if !now.Before(d.DestroyAfter) {
			// Refused before it counts as a read: nothing is shown.
			return kakunin.Errorf(kakunin.EGONE, "this image has passed its retention deadline")
		}
		n, err := tx.CountReadsSince(ctx, reviewer.ID, now.Add(-s.ReadQuotaWindow))
		if err != nil {
			return err
		}
		if n >= s.ReadQuota {
			exceeded = true
			return s.lockForQuota(ctx, tx, reviewer.ID, d.ID, n, now)
		}
		origin := audit.OriginFrom(ctx)
		err = tx.InsertDocumentRead(ctx, &store.DocumentRead{DocumentID: d.ID, StaffID: reviewer.ID, MemberID: d.MemberID,
			DocumentType: string(d.Type), Origin: origin, At: now})
		if err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: audit.DocumentRead, Actor: audit.StaffActor(reviewer.ID),
			Subject: d.ID, Origin: origin, Detail: map[string]string{"task": d.ID, "verification": d.VerificationID, "read": strconv.Itoa(n + 1)}})
	})
	if err != nil {
		return nil, err
	}
	if exceeded {
		return nil, ErrQuotaExceeded
	}
	plain, err := s.Documents.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	m := watermark.Mark{Reviewer: reviewer.Email, At: s.Now(), TaskID: d.ID, Orientation: d.Orientation}
	// The watermark decodes the image and draws on an RGBA copy: it holds
	// its share of the memory budget like an upload's decode does.
	cost, err := intake.DecodeCost(plain[:min(len(plain), intake.HeadLen)])
	if err != nil {
		cost = 0 // Apply refuses it on its own
	}
	cost += 4 * int64(d.Width) * int64(d.Height)
	release, err := s.Documents.Limits.Budget.Acquire(ctx, cost)
	if err != nil {
		return nil, err
	}
	defer release()
	marked, err := watermark.Apply(plain, m, s.MaxPixels)
	if cost >= 16<<20 {
		runtime.GC() // the decoded pixels are garbage now; see document.Verify
	}
	return marked, err
}

func (s *Service) lockForQuota(ctx context.Context, tx *store.Tx, staffID, docID string, n int, now time.Time) error {
	if err := tx.LockStaffAccount(ctx, staffID, now); err != nil {
		return err
	}
	detail := map[string]string{"reads": strconv.Itoa(n), "quota": strconv.Itoa(s.ReadQuota),
		"window": s.ReadQuotaWindow.String(), "refused_document": docID}
	origin := audit.OriginFrom(ctx)
	err := s.Audit.AppendTx(ctx, tx,
		audit.Event{At: now, Action: audit.QuotaExceeded, Actor: audit.StaffActor(staffID), Subject: staffID, Origin: origin, Detail: detail},
		audit.Event{At: now, Action: audit.StaffLocked, Actor: "system", Subject: staffID, Origin: origin, Detail: map[string]string{"reason": "read_quota"}})
	if err != nil {
		return err
	}
	s.Log.Warn("read quota exceeded: account locked", "staff", staffID, "reads", n, "quota", s.ReadQuota)
	return s.Alert(ctx, tx, audit.QuotaExceeded, staffID, detail)
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
	birth, err := time.ParseInLocation("2006-01-02", strings.TrimSpace(a.BirthDate), kakunin.JST)
	if err != nil || birth.Year() < 1900 || !birth.Before(now) {
		return kakunin.Errorf(kakunin.EINVALID, "the date of birth must be a real past date (YYYY-MM-DD)")
	}
	r := &kakunin.Result{Adult: kakunin.Bool(IsAdult(birth, now)), DocumentName: name, Issuer: issuer, CheckedAt: now, CheckedBy: reviewerID}
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
	if reason == ReasonUnderAge {
		r.Adult = kakunin.Bool(false)
	}
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
		err = s.Audit.AppendTx(ctx, tx, audit.Event{At: r.CheckedAt, Action: audit.DocumentDecided, Actor: audit.StaffActor(reviewerID),
			Subject: d.ID, Origin: audit.OriginFrom(ctx), Detail: decisionDetail(d, status, r)})
		if err != nil {
			return err
		}
		return verification.Announce(ctx, s.Jobs, tx, v)
	})
}

// decisionDetail is what the audit log keeps of a decision: identifiers and
// codes, never the name, issuer or date of birth read off the card.
func decisionDetail(d *store.DocumentRecord, status kakunin.VerificationStatus, r *kakunin.Result) map[string]string {
	m := map[string]string{"task": d.ID, "verification": d.VerificationID, "status": string(status)}
	if r.RejectReason != "" {
		m["reason"] = r.RejectReason
	}
	if r.Adult != nil {
		m["adult"] = strconv.FormatBool(*r.Adult)
	}
	return m
}

// Release puts a task back in the queue.
func (s *Service) Release(ctx context.Context, reviewerID, docID string) error {
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		ok, err := tx.ReleaseDocument(ctx, docID, reviewerID)
		if err != nil {
			return err
		}
		if !ok {
			return kakunin.Errorf(kakunin.ENOTFOUND, "task not found")
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{At: s.Now().UTC(), Action: audit.DocumentReleased,
			Actor: audit.StaffActor(reviewerID), Subject: docID, Origin: audit.OriginFrom(ctx)})
	})
}

// IsAdult reports whether someone born on birth is at least AdultAge on
// the calendar day of now in Japan. Japanese law makes one a year older at
// the very end of the day before the birthday, so one is 18 from the start
// of the 18th birthday; someone born on 29 February, from 1 March in common
// years (time.Date normalises 29 February to 1 March).
func IsAdult(birth, now time.Time) bool {
	// A birth date is a calendar date, not an instant: take its own day.
	b := time.Date(birth.Year(), birth.Month(), birth.Day(), 0, 0, 0, 0, kakunin.JST)
	n := now.In(kakunin.JST)
	threshold := time.Date(b.Year()+AdultAge, b.Month(), b.Day(), 0, 0, 0, 0, kakunin.JST)
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, kakunin.JST)
	return !today.Before(threshold)
}
