package inquiry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// CategoriesFor is what a staff member with roles works on: support sees
// every category; a responder (without support) the incident questions.
func CategoriesFor(roles []kakunin.Role) []string {
	if slices.Contains(roles, kakunin.RoleSupport) {
		return Categories
	}
	if slices.Contains(roles, kakunin.RoleResponder) {
		return []string{CategoryIncident}
	}
	return nil
}

// Queue is the desk's queue: threads of the allowed categories matching
// category, status ("" = not closed) and SLA state ("" = any), oldest
// first.
func (s *Service) Queue(ctx context.Context, allowed []string, category, status, state string) ([]*View, error) {
	if len(allowed) == 0 {
		return nil, nil
	}
	ths, err := s.DB.Inquiries(ctx, store.InquiryFilter{Categories: allowed, Category: category, Status: status})
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []*View
	for _, th := range ths {
		st := s.State(th, now)
		if state != "" && st != state {
			continue
		}
		out = append(out, &View{ID: th.ID, Category: th.Category, Status: th.Status, Locale: th.Locale, CreatedAt: th.CreatedAt,
			SolutionBy: th.DueSolution, AnswerBy: firstOf(th.DueFirst, th.DueNext), Assignee: th.Assignee, SLAState: st})
	}
	return out, nil
}

func firstOf(ts ...*time.Time) *time.Time {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return nil
}

// Thread returns a thread for staff (with the notes), if its category is
// allowed; otherwise ENOTFOUND, as an unknown one.
func (s *Service) Thread(ctx context.Context, allowed []string, id string) (*View, error) {
	th, err := s.DB.Inquiry(ctx, id)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(allowed, th.Category) {
		return nil, errNotFound()
	}
	return s.view(ctx, s.DB.Queries, th, true)
}

// act runs a staff action on thread id in one transaction with its audit
// event: f changes th and returns the event's detail.
func (s *Service) act(ctx context.Context, allowed []string, id, action string, f func(tx *store.Tx, th *store.InquiryThread, now time.Time) (map[string]string, error)) error {
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		th, err := tx.Inquiry(ctx, id)
		if err != nil {
			return err
		}
		if !slices.Contains(allowed, th.Category) {
			return errNotFound()
		}
		now := s.now()
		detail, err := f(tx, th, now)
		if err != nil {
			return err
		}
		th.UpdatedAt = now
		if err := tx.UpdateInquiry(ctx, th); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{Action: action, Actor: audit.ActorFrom(ctx), Subject: id,
			Origin: audit.OriginFrom(ctx), Detail: detail})
	})
}

// Take makes staffID the thread's assignee.
func (s *Service) Take(ctx context.Context, allowed []string, id, staffID string) error {
	return s.act(ctx, allowed, id, audit.InquiryTaken, func(_ *store.Tx, th *store.InquiryThread, _ time.Time) (map[string]string, error) {
		th.Assignee = staffID
		return nil, nil
	})
}

// ReplyArgs is the durable job that mails one desk reply.
type ReplyArgs struct {
	ThreadID  string `json:"thread_id"`
	MessageID string `json:"message_id"`
}

// Kind implements river.JobArgs. Stored jobs refer to it: never change it.
func (ReplyArgs) Kind() string { return "inquiry_reply" }

// InsertOpts: a reply is worth retrying for a day.
func (ReplyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: MaxAttempts} }

// Reply adds the desk's reply to the thread, pauses its clock (the desk
// now waits for the person) and queues the mail, all in one transaction.
func (s *Service) Reply(ctx context.Context, allowed []string, id, staffID, message string) error {
	body, err := CleanMessage(message)
	if err != nil {
		return err
	}
	sealed, err := s.Keys.SealField(vault.PurposeInquiryBody, []byte(body))
	if err != nil {
		return fmt.Errorf("inquiry reply: %w", err)
	}
	return s.act(ctx, allowed, id, audit.InquiryReplied, func(tx *store.Tx, th *store.InquiryThread, now time.Time) (map[string]string, error) {
		if th.Status == StatusClosed || th.MergedInto != "" {
			return nil, kakunin.Errorf(kakunin.ECONFLICT, "closed")
		}
		msgID := kakunin.NewID("msg")
		if err := tx.InsertInquiryMessage(ctx, &store.InquiryMessage{ID: msgID, ThreadID: th.ID, Kind: KindReply, Author: staffID,
			BodySealed: sealed, CreatedAt: now}); err != nil {
			return nil, err
		}
		if th.FirstReplyAt == nil {
			th.FirstReplyAt = &now
		}
		th.DueFirst, th.DueNext = nil, nil
		th.Status = StatusWaiting
		s.pause(th, now)
		if th.Assignee == "" {
			th.Assignee = staffID
		}
		if err := s.Jobs.InsertTx(ctx, tx.SQL(), ReplyArgs{ThreadID: th.ID, MessageID: msgID}, nil); err != nil {
			return nil, fmt.Errorf("queue reply mail: %w", err)
		}
		return map[string]string{"message": msgID}, nil
	})
}

// Note adds an internal note, which the person never sees.
func (s *Service) Note(ctx context.Context, allowed []string, id, staffID, message string) error {
	body, err := CleanMessage(message)
	if err != nil {
		return err
	}
	sealed, err := s.Keys.SealField(vault.PurposeInquiryBody, []byte(body))
	if err != nil {
		return fmt.Errorf("inquiry note: %w", err)
	}
	return s.act(ctx, allowed, id, audit.InquiryNoted, func(tx *store.Tx, th *store.InquiryThread, now time.Time) (map[string]string, error) {
		return nil, tx.InsertInquiryMessage(ctx, &store.InquiryMessage{ID: kakunin.NewID("msg"), ThreadID: th.ID, Kind: KindNote,
			Author: staffID, BodySealed: sealed, CreatedAt: now})
	})
}

// SetCategory moves the thread to another category (its targets stay).
func (s *Service) SetCategory(ctx context.Context, allowed []string, id, category string) error {
	if !ValidCategory(category) {
		return kakunin.Errorf(kakunin.EINVALID, "invalid_category")
	}
	return s.act(ctx, allowed, id, audit.InquiryRecategorised, func(_ *store.Tx, th *store.InquiryThread, _ time.Time) (map[string]string, error) {
		from := th.Category
		th.Category = category
		return map[string]string{"from": from, "to": category}, nil
	})
}

// Close closes the thread; Reopen opens it again with a next-update target.
func (s *Service) Close(ctx context.Context, allowed []string, id string) error {
	return s.act(ctx, allowed, id, audit.InquiryClosed, func(_ *store.Tx, th *store.InquiryThread, now time.Time) (map[string]string, error) {
		th.Status, th.ClosedAt = StatusClosed, &now
		s.pause(th, now)
		return nil, nil
	})
}

// Reopen opens a closed thread again: the desk owes a next update.
func (s *Service) Reopen(ctx context.Context, allowed []string, id string) error {
	return s.act(ctx, allowed, id, audit.InquiryReopened, func(_ *store.Tx, th *store.InquiryThread, now time.Time) (map[string]string, error) {
		if th.Status != StatusClosed || th.MergedInto != "" {
			return nil, kakunin.Errorf(kakunin.ECONFLICT, "not closed")
		}
		s.resume(th, now)
		d := s.sla().Add(now, s.sla().Policy(th.Category).NextUpdate)
		th.Status, th.ClosedAt, th.DueNext = StatusOpen, nil, &d
		th.Warned, th.Escalated = unmark(th.Warned, TargetNext), unmark(th.Escalated, TargetNext)
		return nil, nil
	})
}

// Merge merges the duplicate thread dup into into: its messages and links
// move there (its link now opens into), and dup is closed as merged.
func (s *Service) Merge(ctx context.Context, allowed []string, dup, into string) error {
	if dup == into {
		return kakunin.Errorf(kakunin.EINVALID, "invalid_merge")
	}
	return s.act(ctx, allowed, dup, audit.InquiryMerged, func(tx *store.Tx, th *store.InquiryThread, now time.Time) (map[string]string, error) {
		target, err := tx.Inquiry(ctx, into)
		if err != nil || !slices.Contains(allowed, target.Category) || target.MergedInto != "" {
			return nil, kakunin.Errorf(kakunin.EINVALID, "invalid_merge")
		}
		if err := tx.MoveInquiryMessages(ctx, dup, into); err != nil {
			return nil, err
		}
		th.MergedInto, th.Status, th.ClosedAt = into, StatusClosed, &now
		return map[string]string{"into": into}, nil
	})
}

// DeliverReply mails one desk reply to the thread's address: a stable
// Message-ID (the message's), In-Reply-To and References naming the
// thread's first mail, so a retried job's copies are one mail and the
// person's mail program threads them.
func (s *Service) DeliverReply(ctx context.Context, m mail.Mailer, args ReplyArgs) error {
	th, err := s.DB.Inquiry(ctx, args.ThreadID)
	if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		return nil // erased meanwhile: nothing to send
	}
	if err != nil {
		return err
	}
	msgs, err := s.DB.InquiryMessages(ctx, th.ID, false)
	if err != nil {
		return err
	}
	var body []byte
	for _, msg := range msgs {
		if msg.ID == args.MessageID {
			if body, err = s.Keys.OpenField(vault.PurposeInquiryBody, msg.BodySealed); err != nil {
				return err
			}
		}
	}
	if body == nil {
		return nil
	}
	addr, err := s.Keys.OpenField(vault.PurposeInquiryAddress, th.AddressSealed)
	if err != nil {
		return err
	}
	l := lang(th.Locale)
	cat := catalogue.Default()
	var b strings.Builder
	line := func(id string, pairs ...any) { b.WriteString(cat.Text(l, catalogue.M(id, pairs...)) + "\n") }
	line("desk.mail.reply_intro")
	b.WriteString("\n" + string(body) + "\n\n")
	line("desk.mail.reply_where")
	line("desk.mail.no_email_replies")
	b.WriteString("\n-- \n")
	line("desk.mail.footer")
	first := "<" + threadMailID(th.ID) + "@" + s.MailDomain + ">"
	err = m.Send(ctx, mail.Message{To: []string{string(addr)}, Subject: cat.Text(l, catalogue.M("desk.mail.reply_subject")), Text: b.String(),
		ID: "inquiry." + args.MessageID, Headers: map[string]string{"Auto-Submitted": "auto-replied", "In-Reply-To": first, "References": first}})
	if se, ok := err.(*mail.SendError); ok && !se.Retryable() {
		return nil
	}
	return err
}
