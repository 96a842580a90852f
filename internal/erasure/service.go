package erasure

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/verification"
	"github.com/kakunin/kakunin/internal/webhook"
)

// States of a request.
const (
	Received   = "received"
	Verified   = "verified"
	InProgress = "in_progress"
	Completed  = "completed"
	Refused    = "refused"
)

// Via: who started a request.
const (
	ViaPortal  = "portal"
	ViaSupport = "support"
)

// RefusalReasons are the only reasons an erasure may be refused, each a
// catalogue code (erasure.refusal.<reason>) that names the article.
var RefusalReasons = []string{"legal_hold", "dating_site_act_record"}

// DefaultDeadline is how long a request may stay open (--erasure-deadline).
const DefaultDeadline = 14 * 24 * time.Hour

// ConfirmTTL is how long the mailed confirmation link works.
const ConfirmTTL = 24 * time.Hour

// An Eraser erases one kind of personal data a member has in another part
// of kakunin, inside the erasure's transaction, and says how many items of
// which kind went (the receipt's "erased" lines). The inquiry desk
// registers one for its threads' bodies (Service.Erasers).
type Eraser interface {
	EraseMember(ctx context.Context, tx *store.Tx, memberID string) (kind string, n int64, err error)
}

// Actor is who takes a step: a role for the receipt, an audit actor.
type Actor struct {
	Role  string // member | support | admin | system
	Audit string // "member:mem_…", "staff:stf_…", "system"
}

// Service runs erasure requests.
type Service struct {
	DB      *store.DB
	Keys    verification.Keys
	Docs    *document.Service
	Audit   *audit.Log
	Signer  *audit.Signer
	Jobs    document.Enqueuer // webhooks; nil: none sent
	Mailer  mail.Mailer       // the confirmation link and the receipt; nil: not mailed
	BaseURL string            // the public URL, for the confirmation link
	// Brand is the mails' From name and signature (internal/brand).
	Brand brand.Brand
	// Checkpoint forces a signed audit checkpoint of the chain's head
	// (audit.Checkpointer.Checkpoint with force).
	Checkpoint func(ctx context.Context) error
	Erasers    []Eraser
	Deadline   time.Duration // 0: DefaultDeadline
	Now        func() time.Time
	Log        *slog.Logger
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) deadline() time.Duration {
	if s.Deadline > 0 {
		return s.Deadline
	}
	return DefaultDeadline
}

// Request opens an erasure request for member. From the portal, a
// confirmation link is mailed to the registered address; support, on the
// member's behalf, must say how identity was checked (note), and may then
// verify it at once. A member with an open request gets ECONFLICT.
func (s *Service) Request(ctx context.Context, memberID, via string, by Actor, note string) (*store.ErasureRequest, error) {
	note = strings.TrimSpace(note)
	if via == ViaSupport && note == "" {
		return nil, kakunin.Errorf(kakunin.EINVALID, "say how the member's identity was checked")
	}
	if len(note) > 2000 {
		return nil, kakunin.Errorf(kakunin.EINVALID, "the note is too long")
	}
	m, err := s.DB.MemberByID(ctx, memberID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r := &store.ErasureRequest{ID: kakunin.NewID("era"), MemberID: m.ID, State: Received, Via: via, CreatedAt: now, UpdatedAt: now, DueAt: now.Add(s.deadline())}
	var token string
	if via == ViaPortal && m.EmailSealed != nil {
		token = auth.NewToken()
		exp := now.Add(ConfirmTTL)
		r.ConfirmHash, r.ConfirmExpires = auth.HashToken(token), &exp
	}
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertErasureRequest(ctx, r, &store.ErasureStep{At: now, State: Received, Actor: by.Role, Note: note}); err != nil {
			return err
		}
		if err := s.webhook(ctx, tx, "member.erasure_requested", m, r); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: audit.ErasureRequested, Actor: by.Audit, Subject: r.ID,
			Detail: map[string]string{"member": m.ID, "via": via}})
	})
	if err != nil {
		return nil, fmt.Errorf("erasure request: %w", err)
	}
	if token != "" {
		s.mailConfirmation(ctx, m, token)
	}
	return r, nil
}

func (s *Service) webhook(ctx context.Context, tx *store.Tx, typ string, m *store.MemberRecord, r *store.ErasureRequest) error {
	if s.Jobs == nil {
		return nil
	}
	ev, err := webhook.NewEvent(typ, map[string]string{"external_id": m.ExternalID, "request_id": r.ID})
	if err != nil {
		return err
	}
	return s.Jobs.InsertTx(ctx, tx.SQL(), webhook.DeliverArgs{Event: ev}, nil)
}

// ConfirmURL is the path of a confirmation link.
func ConfirmURL(base, token string) string {
	return strings.TrimRight(base, "/") + "/me/erasure/confirm/" + token
}

func (s *Service) mailConfirmation(ctx context.Context, m *store.MemberRecord, token string) {
	if s.Mailer == nil {
		return
	}
	to, err := verification.OpenEmail(s.Keys, m.EmailSealed)
	if err != nil {
		s.Log.ErrorContext(ctx, "erasure confirmation: open address", "member", m.ID, "err", err)
		return
	}
	lang := language(m.Locale)
	cat := catalogue.Default()
	text := cat.Text(lang, catalogue.M("erasure.mail.confirm_intro")) + "\n\n" + ConfirmURL(s.BaseURL, token) + "\n\n" +
		cat.Text(lang, catalogue.M("erasure.mail.not_you")) + "\n"
	msg := s.Brand.Sign(mail.Message{To: []string{to}, Subject: cat.Text(lang, catalogue.M("erasure.mail.confirm_subject")), Text: text,
		Headers: map[string]string{"Auto-Submitted": "auto-generated"}}, lang)
	if err := s.Mailer.Send(ctx, msg); err != nil {
		s.Log.ErrorContext(ctx, "erasure confirmation not mailed", "member", m.ID, "err", err)
	}
}

func language(l kakunin.Locale) kakunin.Locale {
	cat := catalogue.Default()
	if slices.Contains(cat.Languages(), l) {
		return l
	}
	return cat.Languages()[0]
}

// Confirm verifies the request whose mailed link carries token. A forged,
// expired or spent link is EUNAUTHORIZED.
func (s *Service) Confirm(ctx context.Context, token string) (*store.ErasureRequest, error) {
	if len(token) != auth.TokenLen {
		return nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "this link cannot be used")
	}
	r, err := s.DB.ErasureRequestByConfirmation(ctx, auth.HashToken(token), s.now())
	if err != nil {
		return nil, err
	}
	return r, s.move(ctx, r.ID, Received, Verified, Actor{Role: "member", Audit: "member:" + r.MemberID}, "", audit.ErasureVerified)
}

// Verify is support's step: identity checked (note says how).
func (s *Service) Verify(ctx context.Context, id string, by Actor, note string) error {
	if strings.TrimSpace(note) == "" {
		return kakunin.Errorf(kakunin.EINVALID, "say how the member's identity was checked")
	}
	return s.move(ctx, id, Received, Verified, by, note, audit.ErasureVerified)
}

// Refuse ends an open request for one of RefusalReasons (an admin's step).
func (s *Service) Refuse(ctx context.Context, id string, by Actor, reason, note string) error {
	if !slices.Contains(RefusalReasons, reason) {
		return kakunin.Errorf(kakunin.EINVALID, "an erasure may be refused only for a reason the law allows")
	}
	r, err := s.DB.ErasureRequest(ctx, id)
	if err != nil {
		return err
	}
	if r.State != Received && r.State != Verified {
		return kakunin.Errorf(kakunin.ECONFLICT, "this request is %s", r.State)
	}
	now := s.now()
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.MoveErasureRequest(ctx, id, r.State, &store.ErasureStep{At: now, State: Refused, Actor: by.Role, Note: note}, reason); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: audit.ErasureRefused, Actor: by.Audit, Subject: id,
			Detail: map[string]string{"reason": reason}})
	})
}

func (s *Service) move(ctx context.Context, id, from, to string, by Actor, note, action string) error {
	now := s.now()
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.MoveErasureRequest(ctx, id, from, &store.ErasureStep{At: now, State: to, Actor: by.Role, Note: note}, ""); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: action, Actor: by.Audit, Subject: id})
	})
}

// Complete erases a verified request's member and returns the signed
// receipt, which is also stored (the portal's download) and mailed to the
// address the member had.
func (s *Service) Complete(ctx context.Context, id string, by Actor) ([]byte, error) {
	r, err := s.DB.ErasureRequest(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := s.DB.MemberByID(ctx, r.MemberID)
	if err != nil {
		return nil, err
	}
	started := s.now()
	var first int64
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.MoveErasureRequest(ctx, id, Verified, &store.ErasureStep{At: started, State: InProgress, Actor: by.Role}, ""); err != nil {
			return err
		}
		ev := []audit.Event{{At: started, Action: audit.ErasureStarted, Actor: by.Audit, Subject: id, Detail: map[string]string{"member": m.ID}}}
		if err := s.Audit.AppendTx(ctx, tx, ev...); err != nil {
			return err
		}
		first = ev[0].Seq
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("erasure %s: %w", id, err)
	}
	var to string
	if m.EmailSealed != nil {
		if to, err = verification.OpenEmail(s.Keys, m.EmailSealed); err != nil {
			return nil, fmt.Errorf("erasure %s: %w", id, err)
		}
	}
	// The images: every document not yet destroyed, as when a member leaves.
	docs, err := s.DB.LiveDocumentsOfMember(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("erasure %s: %w", id, err)
	}
	erased := map[string]int64{"document_image": int64(len(docs))}
	if m.EmailSealed != nil {
		erased["sealed_address"] = 1
	}
	err = s.Docs.MemberLeft(ctx, m.ID, func(tx *store.Tx) error {
		n, err := tx.EraseExposureRecords(ctx, m.EmailIndex)
		if err != nil {
			return err
		}
		erased["exposure_check_record"] = n
		links, sessions, err := tx.ErasePortalTraces(ctx, m.ID)
		if err != nil {
			return err
		}
		erased["signin_link"], erased["member_session"] = links, sessions
		for _, e := range s.Erasers {
			kind, n, err := e.EraseMember(ctx, tx, m.ID)
			if err != nil {
				return err
			}
			erased[kind] += n
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("erasure %s: %w", id, err)
	}
	vs, err := s.DB.VerificationsOfMember(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("erasure %s: %w", id, err)
	}
	done := s.now()
	var last int64
	counts := sortedCounts(erased)
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.MoveErasureRequest(ctx, id, InProgress, &store.ErasureStep{At: done, State: Completed, Actor: "system"}, ""); err != nil {
			return err
		}
		if err := s.webhook(ctx, tx, "member.erased", m, r); err != nil {
			return err
		}
		detail := map[string]string{"member": m.ID}
		for _, c := range counts {
			detail[c.Kind] = strconv.FormatInt(c.N, 10)
		}
		ev := []audit.Event{{At: done, Action: audit.ErasureCompleted, Actor: "system", Subject: id, Detail: detail}}
		if err := s.Audit.AppendTx(ctx, tx, ev...); err != nil {
			return err
		}
		last = ev[0].Seq
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("erasure %s: %w", id, err)
	}
	receipt, err := s.issueReceipt(ctx, id, m.ID, done, counts, []Count{{Kind: "verification_record", N: int64(len(vs)), Reason: "dating_site_act"}}, first, last)
	if err != nil {
		return nil, fmt.Errorf("erasure %s: receipt: %w", id, err)
	}
	if to != "" && s.Mailer != nil {
		s.mailReceipt(ctx, m, to, id, receipt)
	}
	return receipt, nil
}

func sortedCounts(m map[string]int64) []Count {
	var out []Count
	for k, n := range m {
		out = append(out, Count{Kind: k, N: n})
	}
	slices.SortFunc(out, func(a, b Count) int { return strings.Compare(a.Kind, b.Kind) })
	return out
}

// issueReceipt forces a checkpoint covering the events through last,
// signs the receipt and stores it with the request.
func (s *Service) issueReceipt(ctx context.Context, id, memberID string, done time.Time, erased, kept []Count, first, last int64) ([]byte, error) {
	if s.Checkpoint != nil {
		if err := s.Checkpoint(ctx); err != nil {
			return nil, err
		}
	}
	rec, ok, err := s.DB.LatestAuditCheckpoint(ctx)
	if err != nil {
		return nil, err
	}
	if !ok || rec.Size < last {
		return nil, errors.New("no signed audit checkpoint covers the erasure yet")
	}
	steps, err := s.DB.ErasureSteps(ctx, id)
	if err != nil {
		return nil, err
	}
	rc := &Receipt{Request: id, Member: memberID, ErasedAt: done.Truncate(time.Microsecond), Erased: erased, Kept: kept,
		FirstEvent: first, LastEvent: last, Checkpoint: rec.Note}
	for _, st := range steps {
		rc.Timeline = append(rc.Timeline, Step{At: st.At, State: st.State, Actor: roleOf(st.Actor)})
	}
	msg, err := Sign(rc, s.Signer.Signer)
	if err != nil {
		return nil, err
	}
	if err := s.DB.SetErasureReceipt(ctx, id, string(msg)); err != nil {
		return nil, err
	}
	return msg, nil
}

func roleOf(actor string) string {
	switch actor {
	case "member", "support", "admin":
		return actor
	}
	return "system"
}

func (s *Service) mailReceipt(ctx context.Context, m *store.MemberRecord, to, id string, receipt []byte) {
	lang := language(m.Locale)
	cat := catalogue.Default()
	text := cat.Text(lang, catalogue.M("erasure.mail.receipt_intro")) + "\n\n" + cat.Text(lang, catalogue.M("erasure.mail.receipt_verify")) + "\n\n" +
		string(receipt)
	msg := s.Brand.Sign(mail.Message{To: []string{to}, Subject: cat.Text(lang, catalogue.M("erasure.mail.receipt_subject")), Text: text, ID: id + ".receipt",
		Headers: map[string]string{"Auto-Submitted": "auto-generated"}}, lang)
	if err := s.Mailer.Send(ctx, msg); err != nil {
		s.Log.ErrorContext(ctx, "erasure receipt not mailed", "request", id, "err", err)
	}
}

// ReceiptOf returns the receipt of request id if member owns it; any other
// request is ENOTFOUND alike, so no one learns of another's request.
func (s *Service) ReceiptOf(ctx context.Context, memberID, id string) ([]byte, error) {
	r, err := s.DB.ErasureRequest(ctx, id)
	if err != nil || r.MemberID != memberID || r.Receipt == "" {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no such receipt")
	}
	if err := s.Audit.Append(ctx, audit.Event{Action: audit.ErasureReceipt, Actor: "member:" + memberID, Subject: id}); err != nil {
		return nil, err
	}
	return []byte(r.Receipt), nil
}
