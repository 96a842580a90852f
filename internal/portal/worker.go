package portal

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// Outcome says what Deliver did, for tests. It is never shown to the
// person who asked, nor logged (Deliver).
type Outcome string

const (
	OutcomeMailed  Outcome = "mailed"  // a member got a sign-in link
	OutcomeNothing Outcome = "nothing" // no account uses the address: nothing is sent
	OutcomeLimited Outcome = "limited" // the address had its share of links
	OutcomeRefused Outcome = "refused" // the mail server refused the address for good
)

// Deliver answers one sign-in request: it finds the active members
// registered under the typed address and mails each a new one-time link
// at the address they registered, in their language. It logs the same line
// whatever the outcome, so the logs are no membership oracle either.
func (s *Service) Deliver(ctx context.Context, m mail.Mailer, args SigninArgs) (Outcome, error) {
	out, err := s.deliver(ctx, m, args)
	if err != nil {
		return "", err
	}
	s.Log.InfoContext(ctx, "sign-in request handled", "request", args.ID)
	return out, nil
}

func (s *Service) deliver(ctx context.Context, m mail.Mailer, args SigninArgs) (Outcome, error) {
	b, err := s.Keys.OpenField(vault.PurposePortalSigninAddress, args.Address)
	if err != nil {
		return "", fmt.Errorf("sign-in %s: %w", args.ID, err)
	}
	index := verification.EmailIndex(s.Keys, string(b))
	members, err := s.DB.ActiveMembersByEmailIndex(ctx, index)
	if err != nil {
		return "", fmt.Errorf("sign-in %s: %w", args.ID, err)
	}
	if len(members) == 0 {
		return OutcomeNothing, nil
	}
	lim := s.Limits.withDefaults()
	var msgs []mail.Message
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		ok, err := tx.TakeRateHit(ctx, ScopeAddress, index, lim.Address, lim.AddressWindow, args.ID, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return errLimited
		}
		// A retried job issues new links (revoking the ones it made
		// before): only the newest mail works, as the member expects.
		for _, rec := range members {
			to, err := verification.OpenEmail(s.Keys, rec.EmailSealed)
			if err != nil {
				return fmt.Errorf("member %s: %w", rec.ID, err)
			}
			l, err := s.issue(ctx, tx, rec.ID, ViaMail, "public")
			if err != nil {
				return err
			}
			msgs = append(msgs, linkMessage(s.Brand, rec.Locale, to, l, args.ID+"."+rec.ID))
		}
		return nil
	})
	if errors.Is(err, errLimited) {
		return OutcomeLimited, nil
	}
	if err != nil {
		return "", fmt.Errorf("sign-in %s: %w", args.ID, err)
	}
	err = m.Send(ctx, msgs...)
	var se *mail.SendError
	switch {
	case err == nil:
		return OutcomeMailed, nil
	case errors.As(err, &se) && !se.Retryable():
		return OutcomeRefused, nil
	}
	return "", fmt.Errorf("sign-in %s: %w", args.ID, err)
}

// linkMessage is the sign-in mail of one member.
func linkMessage(br brand.Brand, lang kakunin.Locale, to string, l Link, id string) mail.Message {
	cat := catalogue.Default()
	if !slices.Contains(cat.Languages(), lang) {
		lang = cat.Languages()[0]
	}
	var b strings.Builder
	line := func(id string, pairs ...any) { b.WriteString(cat.Text(lang, catalogue.M(id, pairs...)) + "\n") }
	line("portal.mail.intro")
	b.WriteString("\n" + l.URL + "\n\n")
	line("portal.mail.expires", "Expires", l.ExpiresAt)
	line("portal.mail.once")
	line("portal.mail.not_you")
	b.WriteString("\n-- \n")
	line("portal.mail.footer")
	return br.Sign(mail.Message{To: []string{to}, Subject: cat.Text(lang, catalogue.M("portal.mail.subject")), Text: b.String(), ID: id,
		Headers: map[string]string{"Auto-Submitted": "auto-generated"}}, lang)
}

// Prune deletes links expired a day ago and sessions past their age.
func (s *Service) Prune(ctx context.Context) error {
	if _, err := s.DB.PruneSigninLinks(ctx, s.now().Add(-24*time.Hour)); err != nil {
		return err
	}
	return nil
}

// PruneArgs is the periodic job that deletes old sign-in links.
type PruneArgs struct{}

// Kind implements river.JobArgs. Stored jobs refer to it: never change it.
func (PruneArgs) Kind() string { return "portal_prune" }

// PruneJob runs Prune every interval, and once at start.
func PruneJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return PruneArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: interval}}
		},
		&river.PeriodicJobOpts{RunOnStart: true})
}

// Register adds the sign-in and prune workers. A nil mailer is taken as
// mail disabled.
func Register(workers *river.Workers, s *Service, m mail.Mailer) {
	if m == nil {
		m = mail.Disabled(s.Log)
	}
	river.AddWorker(workers, &signinWorker{s: s, mailer: m})
	river.AddWorker(workers, &pruneWorker{s: s})
}

type signinWorker struct {
	river.WorkerDefaults[SigninArgs]
	s      *Service
	mailer mail.Mailer
}

// Timeout leaves room for a slow mail server.
func (w *signinWorker) Timeout(*river.Job[SigninArgs]) time.Duration { return 3 * mail.DefaultTimeout }

func (w *signinWorker) Work(ctx context.Context, job *river.Job[SigninArgs]) error {
	_, err := w.s.Deliver(ctx, w.mailer, job.Args)
	return err
}

type pruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	s *Service
}

func (w *pruneWorker) Timeout(*river.Job[PruneArgs]) time.Duration { return jobs.DefaultJobTimeout }

func (w *pruneWorker) Work(ctx context.Context, job *river.Job[PruneArgs]) error {
	return w.s.Prune(ctx)
}
