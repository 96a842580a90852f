package exposure

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// Outcome says what Deliver did with a check, for tests and logs. It is
// never shown to the person who checked.
type Outcome string

const (
	OutcomeAnswered  Outcome = "answered"   // a member's answer was mailed
	OutcomeNoAccount Outcome = "no_account" // the "no account" mail was sent
	OutcomeNothing   Outcome = "nothing"    // no account, and the operator sends nothing
	OutcomeLimited   Outcome = "limited"    // the address had its share of mail: nothing sent
	OutcomeRefused   Outcome = "refused"    // the mail server refused the address for good
)

// Deliver answers one check: it finds the members registered under the
// typed address and mails each the answer at the address they registered,
// in their language; or, with no member and NoAccountMail, mails the typed
// address that no account uses it. Both count against the address's
// limits, silently. A temporary mail failure is returned for River to
// retry; the limits count a retried check once.
//
// It logs one line per check, the same whatever the outcome: a line that
// only a member's check could write (an answer sent, a limit reached, a
// refusal by the member's mail server) would make the service's logs the
// membership oracle the public answer is not (invariant 6). The outcome
// goes to the caller, for tests, and nowhere else.
func (s *Service) Deliver(ctx context.Context, m mail.Mailer, args CheckArgs) (Outcome, error) {
	out, err := s.deliver(ctx, m, args)
	if err != nil {
		return "", err
	}
	s.Log.InfoContext(ctx, "exposure check handled", "check", args.ID)
	return out, nil
}

func (s *Service) deliver(ctx context.Context, m mail.Mailer, args CheckArgs) (Outcome, error) {
	b, err := s.Keys.OpenField(vault.PurposeExposureCheckAddress, args.Address)
	if err != nil {
		return "", fmt.Errorf("check %s: %w", args.ID, err)
	}
	typed := string(b)
	index := verification.EmailIndex(s.Keys, typed)
	members, err := s.DB.ActiveMembersByEmailIndex(ctx, index)
	if err != nil {
		return "", fmt.Errorf("check %s: %w", args.ID, err)
	}
	lim := s.Limits.withDefaults()
	if len(members) == 0 {
		if !s.NoAccountMail {
			return OutcomeNothing, nil
		}
		ok, err := s.take(ctx, args.ID, index, limit{ScopeNoAccount, 1, NoAccountWindow}, limit{ScopeAddress, lim.Address, lim.AddressWindow})
		if err != nil {
			return "", err
		}
		if !ok {
			return OutcomeLimited, nil
		}
		lang, _ := kakunin.ParseLocale(string(args.Lang))
		msg := noAccountMessage(s.Brand, lang, typed, s.PublicURL, args.ID)
		return s.send(ctx, m, args.ID, OutcomeNoAccount, msg)
	}
	ok, err := s.take(ctx, args.ID, index, limit{ScopeAddress, lim.Address, lim.AddressWindow})
	if err != nil {
		return "", err
	}
	if !ok {
		return OutcomeLimited, nil
	}
	msgs := make([]mail.Message, 0, len(members))
	for _, rec := range members {
		to, err := verification.OpenEmail(s.Keys, rec.EmailSealed)
		if err != nil {
			return "", fmt.Errorf("check %s: member %s: %w", args.ID, rec.ID, err)
		}
		answers, err := s.Answers(ctx, rec.ID)
		if err != nil {
			return "", fmt.Errorf("check %s: %w", args.ID, err)
		}
		msgs = append(msgs, answerMessage(s.Brand, rec.Locale, to, answers, s.link(rec.ID, ViaMail, MailLinkTTL), s.PublicURL, args.ID+"."+rec.ID))
	}
	return s.send(ctx, m, args.ID, OutcomeAnswered, msgs...)
}

type limit struct {
	scope  string
	max    int
	window time.Duration
}

// take admits the check under every limit, or under none: a refused limit
// rolls the others' hits back.
func (s *Service) take(ctx context.Context, checkID string, key []byte, limits ...limit) (bool, error) {
	now := s.now()
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		for _, l := range limits {
			ok, err := tx.TakeRateHit(ctx, l.scope, key, l.max, l.window, checkID, now)
			if err != nil {
				return err
			}
			if !ok {
				return errLimited
			}
		}
		return nil
	})
	if errors.Is(err, errLimited) {
		return false, nil // not logged: only some outcomes could write it (Deliver)
	}
	if err != nil {
		return false, fmt.Errorf("check %s: %w", checkID, err)
	}
	return true, nil
}

// send mails msgs. A permanent refusal completes the check (retrying
// cannot help), unlogged (Deliver); anything else is returned.
func (s *Service) send(ctx context.Context, m mail.Mailer, checkID string, done Outcome, msgs ...mail.Message) (Outcome, error) {
	err := m.Send(ctx, msgs...)
	var se *mail.SendError
	switch {
	case err == nil:
		return done, nil
	case errors.As(err, &se) && !se.Retryable():
		return OutcomeRefused, nil
	}
	return "", fmt.Errorf("check %s: %w", checkID, err)
}

// Prune deletes the rate-limit hits no window reaches any more.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	return s.DB.PruneRateHits(ctx, s.now().Add(-s.Limits.longestWindow()))
}

// PruneArgs is the periodic job that prunes old rate-limit hits.
type PruneArgs struct{}

// Kind implements river.JobArgs. Stored jobs refer to it: never change it.
func (PruneArgs) Kind() string { return "exposure_prune" }

// PruneJob runs Prune every interval, and once at start.
func PruneJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return PruneArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true})
}

// Register adds the check and prune workers to workers. A nil mailer is
// taken as mail disabled.
func Register(workers *river.Workers, s *Service, m mail.Mailer) {
	if m == nil {
		m = mail.Disabled(s.Log)
	}
	river.AddWorker(workers, &checkWorker{s: s, mailer: m})
	river.AddWorker(workers, &pruneWorker{s: s})
}

type checkWorker struct {
	river.WorkerDefaults[CheckArgs]
	s      *Service
	mailer mail.Mailer
}

// Timeout leaves room for a slow mail server (see notify's mail worker).
func (w *checkWorker) Timeout(*river.Job[CheckArgs]) time.Duration { return 3 * mail.DefaultTimeout }

func (w *checkWorker) Work(ctx context.Context, job *river.Job[CheckArgs]) error {
	_, err := w.s.Deliver(ctx, w.mailer, job.Args)
	return err
}

type pruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	s *Service
}

// Timeout is the queue's default: one DELETE.
func (w *pruneWorker) Timeout(*river.Job[PruneArgs]) time.Duration { return jobs.DefaultJobTimeout }

func (w *pruneWorker) Work(ctx context.Context, job *river.Job[PruneArgs]) error {
	n, err := w.s.Prune(ctx)
	if err == nil && n > 0 {
		w.s.Log.InfoContext(ctx, "exposure rate limits pruned", "hits", n)
	}
	return err
}
