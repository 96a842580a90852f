package massmail

import (
	"context"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
)

// Confirmation is what a responder is shown before an irreversible send
// (a start, or a resume): the incident, exactly whom it mails by letter
// language, and the subject lines they will read.
type Confirmation struct {
	Incident   *kakunin.Incident
	Resume     bool // resuming a paused campaign: the counts are what is still to send
	Recipients store.Recipients
	SubjectJA  string
	SubjectEN  string
}

// Confirm returns the confirmation of starting (resume false) or resuming
// the incident's campaign. It changes nothing; Start and Resume still
// decide whether they may.
func (s *Service) Confirm(ctx context.Context, incidentID string, resume bool) (*Confirmation, error) {
	inc, c, err := s.Campaign(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "the incident has no notification campaign")
	}
	q, err := incident.QueryOf(inc)
	if err != nil {
		return nil, err
	}
	ts, err := parse(TextOf(c))
	if err != nil {
		return nil, err
	}
	facts, err := FactsOf(ctx, s.Audit, inc)
	if err != nil {
		return nil, err
	}
	cf := &Confirmation{Incident: inc, Resume: resume}
	if resume {
		cf.Recipients, err = s.DB.PendingRecipients(ctx, c.ID)
	} else {
		cf.Recipients, err = s.DB.ScopeRecipients(ctx, q.From, q.To)
	}
	if err != nil {
		return nil, err
	}
	for _, lang := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
		subject, _, err := ts.render(lang, letterFor(lang, inc, facts, nil, s.NoticesURL(), s.Contact))
		if err != nil {
			return nil, kakunin.Errorf(kakunin.EINVALID, "the letter cannot be written: %s", templateError(err))
		}
		if lang == kakunin.LocaleEN {
			cf.SubjectEN = subject
		} else {
			cf.SubjectJA = subject
		}
	}
	return cf, nil
}
