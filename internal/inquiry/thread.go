package inquiry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// Outcome says what Deliver did, for tests; never shown nor logged.
type Outcome string

const (
	OutcomeMailed  Outcome = "mailed"  // the thread was opened and its link mailed
	OutcomeLimited Outcome = "limited" // the address had its share of threads: nothing opened
	OutcomeRefused Outcome = "refused" // the mail server refused the address for good
)

// Link is a thread's private link.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// linkPath is where a thread's page lives; the token follows.
const linkPath = "/contact/t/"

// issueLink makes a new private link for thread in tx and audits it.
func (s *Service) issueLink(ctx context.Context, tx *store.Tx, threadID, actor string) (Link, error) {
	now := s.now()
	token := auth.NewToken()
	ttl := s.LinkTTL
	if ttl <= 0 {
		ttl = DefaultLinkTTL
	}
	exp := now.Add(ttl).Truncate(time.Second).UTC()
	if err := tx.InsertInquiryLink(ctx, &store.InquiryLink{TokenHash: auth.HashToken(token), ThreadID: threadID, CreatedAt: now, ExpiresAt: exp}); err != nil {
		return Link{}, err
	}
	err := s.Audit.AppendTx(ctx, tx, audit.Event{Action: audit.InquiryLinkIssued, Actor: actor, Subject: threadID,
		Origin: audit.OriginFrom(ctx), Detail: map[string]string{"expires": exp.Format(time.RFC3339)}})
	if err != nil {
		return Link{}, err
	}
	return Link{URL: strings.TrimSuffix(s.PublicURL, "/") + linkPath + token, ExpiresAt: exp}, nil
}

// openThread inserts a new thread (and its first message when body is
// not nil) with its SLA targets, in tx.
func (s *Service) openThread(ctx context.Context, tx *store.Tx, id, category string, lang kakunin.Locale, addr, memberID, actor string, body []byte, at time.Time) (*store.InquiryThread, error) {
	sealed, err := s.Keys.SealField(vault.PurposeInquiryAddress, []byte(addr))
	if err != nil {
		return nil, err
	}
	th := &store.InquiryThread{ID: id, Category: category, Status: StatusOpen, Locale: lang, AddressSealed: sealed,
		AddressIndex: AddressIndex(s.Keys, addr), MemberID: memberID, CreatedAt: at, UpdatedAt: at}
	if body == nil {
		// Opened for a member who has not written yet: nothing is owed.
		th.Status = StatusWaiting
		th.PausedAt = &at
	} else {
		p := s.sla().Policy(category)
		first, sol := s.sla().Add(at, p.FirstResponse), s.sla().Add(at, p.Solution)
		th.DueFirst, th.DueSolution = &first, &sol
	}
	if err := tx.InsertInquiry(ctx, th); err != nil {
		return nil, err
	}
	if body != nil {
		if err := tx.InsertInquiryMessage(ctx, &store.InquiryMessage{ID: kakunin.NewID("msg"), ThreadID: id, Kind: KindPerson,
			Author: KindPerson, BodySealed: body, CreatedAt: at}); err != nil {
			return nil, err
		}
	}
	err = s.Audit.AppendTx(ctx, tx, audit.Event{Action: audit.InquiryOpened, Actor: actor, Subject: id,
		Origin: audit.OriginFrom(ctx), Detail: map[string]string{"category": category}})
	return th, err
}

var errLimited = errors.New("rate limited")

// Deliver runs one /contact job: within the address's limit it opens the
// thread with the message and mails its private link to the typed
// address. It logs the same line whatever the outcome.
func (s *Service) Deliver(ctx context.Context, m mail.Mailer, args ContactArgs) (Outcome, error) {
	out, err := s.deliver(ctx, m, args)
	if err != nil {
		return "", err
	}
	s.Log.InfoContext(ctx, "contact request handled", "request", args.ID)
	return out, nil
}

func (s *Service) deliver(ctx context.Context, m mail.Mailer, args ContactArgs) (Outcome, error) {
	b, err := s.Keys.OpenField(vault.PurposeInquiryAddress, args.Address)
	if err != nil {
		return "", fmt.Errorf("contact %s: %w", args.ID, err)
	}
	addr := string(b)
	index := AddressIndex(s.Keys, addr)
	// A member writing from their registered address: the thread is
	// theirs, and goes with their data when they are erased.
	members, err := s.DB.ActiveMembersByEmailIndex(ctx, verification.EmailIndex(s.Keys, addr))
	if err != nil {
		return "", fmt.Errorf("contact %s: %w", args.ID, err)
	}
	memberID := ""
	if len(members) == 1 {
		memberID = members[0].ID
	}
	lim := s.Limits.withDefaults()
	var msg mail.Message
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		ok, err := tx.TakeRateHit(ctx, ScopeAddress, index, lim.Address, lim.AddressWindow, args.ID, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return errLimited
		}
		// A retried job finds its thread and mails a new link to it.
		if _, err := tx.Inquiry(ctx, args.ID); kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
			at := args.At
			if at.IsZero() {
				at = s.now()
			}
			if _, err := s.openThread(ctx, tx, args.ID, args.Category, args.Lang, addr, memberID, "public", args.Body, at); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		l, err := s.issueLink(ctx, tx, args.ID, "public")
		if err != nil {
			return err
		}
		msg = s.linkMessage(args.Lang, addr, args.ID, args.Category, l)
		return nil
	})
	if errors.Is(err, errLimited) {
		return OutcomeLimited, nil
	}
	if err != nil {
		return "", fmt.Errorf("contact %s: %w", args.ID, err)
	}
	err = m.Send(ctx, msg)
	var se *mail.SendError
	switch {
	case err == nil:
		return OutcomeMailed, nil
	case errors.As(err, &se) && !se.Retryable():
		return OutcomeRefused, nil
	}
	return "", fmt.Errorf("contact %s: %w", args.ID, err)
}

func lang(l kakunin.Locale) kakunin.Locale {
	cat := catalogue.Default()
	if !slices.Contains(cat.Languages(), l) {
		return cat.Languages()[0]
	}
	return l
}

// threadMailID is the stable Message-ID (left part) of a thread's first
// mail: every later mail of the thread answers it.
func threadMailID(threadID string) string { return "inquiry." + threadID }

// linkMessage is the mail that carries a thread's private link.
func (s *Service) linkMessage(l kakunin.Locale, to, threadID, category string, link Link) mail.Message {
	l = lang(l)
	cat := catalogue.Default()
	var b strings.Builder
	line := func(id string, pairs ...any) { b.WriteString(cat.Text(l, catalogue.M(id, pairs...)) + "\n") }
	line("desk.mail.received")
	line("desk.mail.category", "Category", cat.Text(l, catalogue.M("desk.category."+category)))
	b.WriteString("\n" + link.URL + "\n\n")
	line("desk.mail.link")
	line("desk.mail.no_email_replies")
	line("desk.mail.not_you")
	b.WriteString("\n-- \n")
	line("desk.mail.footer")
	return mail.Message{To: []string{to}, Subject: cat.Text(l, catalogue.M("desk.mail.subject")), Text: b.String(),
		ID: threadMailID(threadID), Headers: map[string]string{"Auto-Submitted": "auto-generated"}}
}

// HandoffLink opens a thread for the member the host knows as externalID
// (a signed-in member who asked to contact the desk) and returns its
// private link; the member writes their message there.
func (s *Service) HandoffLink(ctx context.Context, externalID string) (Link, error) {
	rec, err := s.DB.MemberByExternalID(ctx, externalID)
	if err != nil {
		return Link{}, err
	}
	if rec.DeletedAt != nil {
		return Link{}, kakunin.Errorf(kakunin.ECONFLICT, "this member has left; register them again first")
	}
	addr, err := verification.OpenEmail(s.Keys, rec.EmailSealed)
	if err != nil {
		return Link{}, fmt.Errorf("inquiry hand-off: %w", err)
	}
	var l Link
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		id := kakunin.NewID("inq")
		if _, err := s.openThread(ctx, tx, id, CategoryOther, rec.Locale, addr, rec.ID, audit.ActorFrom(ctx), nil, s.now()); err != nil {
			return err
		}
		l, err = s.issueLink(ctx, tx, id, audit.ActorFrom(ctx))
		return err
	})
	if err != nil {
		return Link{}, fmt.Errorf("inquiry hand-off: %w", err)
	}
	return l, nil
}

// Message is one message as shown.
type Message struct {
	ID     string
	Kind   string // person | reply | note
	Author string
	Body   string
	At     time.Time
}

// View is a thread as its page shows it.
type View struct {
	ID           string
	Category     string
	Status       string
	Locale       kakunin.Locale
	CreatedAt    time.Time
	Messages     []Message
	AnswerBy     *time.Time // the next promised answer (first response or next update), none while waiting
	SolutionBy   *time.Time
	Assignee     string
	MergedInto   string
	MemberID     string
	SLAState     string // ok | warning | breached | paused | closed
	FirstReplyAt *time.Time
}

// ErrNotFound is every thread that cannot be shown: unknown, another's,
// revoked or expired link, erased, alike.
func errNotFound() error { return kakunin.Errorf(kakunin.ENOTFOUND, "no such inquiry") }

// threadOfLink returns the thread a link opens.
func (s *Service) threadOfLink(ctx context.Context, q store.Queries, token string) (*store.InquiryThread, error) {
	if len(token) != auth.TokenLen {
		return nil, errNotFound()
	}
	id, err := q.InquiryByLink(ctx, auth.HashToken(token), s.now())
	if err != nil {
		return nil, err
	}
	th, err := q.Inquiry(ctx, id)
	if err != nil {
		return nil, err
	}
	// A merged thread's link shows the thread it went into.
	for range 10 {
		if th.MergedInto == "" {
			break
		}
		if th, err = q.Inquiry(ctx, th.MergedInto); err != nil {
			return nil, err
		}
	}
	return th, nil
}

// view builds th's view; notes only for staff.
func (s *Service) view(ctx context.Context, q store.Queries, th *store.InquiryThread, notes bool) (*View, error) {
	msgs, err := q.InquiryMessages(ctx, th.ID, notes)
	if err != nil {
		return nil, err
	}
	v := &View{ID: th.ID, Category: th.Category, Status: th.Status, Locale: th.Locale, CreatedAt: th.CreatedAt,
		SolutionBy: th.DueSolution, Assignee: th.Assignee, MergedInto: th.MergedInto, MemberID: th.MemberID,
		SLAState: s.State(th, s.now()), FirstReplyAt: th.FirstReplyAt}
	if th.Status == StatusOpen {
		if th.DueFirst != nil {
			v.AnswerBy = th.DueFirst
		} else {
			v.AnswerBy = th.DueNext
		}
	}
	for _, m := range msgs {
		b, err := s.Keys.OpenField(vault.PurposeInquiryBody, m.BodySealed)
		if err != nil {
			return nil, fmt.Errorf("inquiry %s: %w", th.ID, err)
		}
		v.Messages = append(v.Messages, Message{ID: m.ID, Kind: m.Kind, Author: m.Author, Body: string(b), At: m.CreatedAt})
	}
	return v, nil
}

// Open returns the thread a private link opens, as the person sees it
// (never the internal notes). Any link that opens nothing is ENOTFOUND.
func (s *Service) Open(ctx context.Context, token string) (*View, error) {
	th, err := s.threadOfLink(ctx, s.DB.Queries, token)
	if err != nil {
		return nil, err
	}
	return s.view(ctx, s.DB.Queries, th, false)
}

// PersonReply adds the person's message to the thread their link opens.
// It reopens a thread that was waiting or closed and restarts its clock.
func (s *Service) PersonReply(ctx context.Context, token, message string) error {
	body, err := CleanMessage(message)
	if err != nil {
		return err
	}
	sealed, err := s.Keys.SealField(vault.PurposeInquiryBody, []byte(body))
	if err != nil {
		return fmt.Errorf("inquiry reply: %w", err)
	}
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		th, err := s.threadOfLink(ctx, tx.Queries, token)
		if err != nil {
			return err
		}
		now := s.now()
		if err := tx.InsertInquiryMessage(ctx, &store.InquiryMessage{ID: kakunin.NewID("msg"), ThreadID: th.ID, Kind: KindPerson,
			Author: KindPerson, BodySealed: sealed, CreatedAt: now}); err != nil {
			return err
		}
		s.personWrote(th, now)
		if err := tx.UpdateInquiry(ctx, th); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{Action: audit.InquiryPersonReplied, Actor: "person", Subject: th.ID,
			Origin: audit.OriginFrom(ctx)})
	})
}

// personWrote moves th's clock for a new message of the person at now:
// the clock resumes, and the desk owes an answer (a first response when it
// never replied, else a next update).
func (s *Service) personWrote(th *store.InquiryThread, now time.Time) {
	sla, p := s.sla(), s.sla().Policy(th.Category)
	s.resume(th, now)
	if th.DueSolution == nil {
		d := sla.Add(now, p.Solution)
		th.DueSolution = &d
	}
	if th.FirstReplyAt == nil {
		if th.DueFirst == nil {
			d := sla.Add(now, p.FirstResponse)
			th.DueFirst = &d
		}
	} else if th.DueNext == nil {
		d := sla.Add(now, p.NextUpdate)
		th.DueNext = &d
		// A new next-update target is warned of and escalated anew.
		th.Warned, th.Escalated = unmark(th.Warned, TargetNext), unmark(th.Escalated, TargetNext)
	}
	th.Status, th.ClosedAt, th.UpdatedAt = StatusOpen, nil, now
}

// resume restarts a paused clock: the targets move by the business time
// the clock stood still.
func (s *Service) resume(th *store.InquiryThread, now time.Time) {
	if th.PausedAt == nil {
		return
	}
	for _, due := range []**time.Time{&th.DueFirst, &th.DueNext, &th.DueSolution} {
		if *due != nil {
			left := s.sla().Between(*th.PausedAt, **due)
			d := s.sla().Add(now, left)
			*due = &d
		}
	}
	th.PausedAt = nil
}

// pause stops th's clock at now (the desk waits for the person).
func (s *Service) pause(th *store.InquiryThread, now time.Time) {
	if th.PausedAt == nil {
		th.PausedAt = &now
	}
}

// State is th's SLA state at now: closed, paused (waiting for the
// person), breached (a target passed), warning (one within WarnBefore),
// or ok.
func (s *Service) State(th *store.InquiryThread, now time.Time) string {
	switch {
	case th.Status == StatusClosed:
		return "closed"
	case th.PausedAt != nil:
		return "paused"
	}
	state := "ok"
	for _, d := range []*time.Time{th.DueFirst, th.DueNext, th.DueSolution} {
		if d == nil {
			continue
		}
		if !now.Before(*d) {
			return "breached"
		}
		if d.Sub(now) <= s.sla().WarnBefore {
			state = "warning"
		}
	}
	return state
}

// EraseMember destroys every thread of a member, with its messages, notes
// and links: those the member was matched to and those written from their
// registered address (address, "" for none). The erasure of a member
// calls it in the transaction that erases the rest of their data.
func (s *Service) EraseMember(ctx context.Context, tx *store.Tx, memberID, address string) (int64, error) {
	var index []byte
	if address != "" {
		index = AddressIndex(s.Keys, address)
	}
	n, err := tx.DeleteInquiriesOfMember(ctx, memberID, index)
	if err != nil || n == 0 {
		return n, err
	}
	return n, s.Audit.AppendTx(ctx, tx, audit.Event{Action: audit.InquiryErased, Actor: audit.ActorFrom(ctx), Subject: memberID,
		Origin: audit.OriginFrom(ctx), Detail: map[string]string{"threads": fmt.Sprint(n)}})
}
