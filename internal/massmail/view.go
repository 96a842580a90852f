package massmail

import (
	"context"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
)

// View is an incident's campaign as the notification page shows it, with
// what the page decides from.
type View struct {
	Incident *kakunin.Incident
	Campaign *store.Campaign // nil while the incident has none
	Text     Text            // the saved letter; DefaultText while none is
	// WindowKnown: the incident's window is known, so the letter can be
	// previewed for an affected member and the campaign started.
	WindowKnown bool
	Previewed   bool      // the letter as it now stands was previewed
	Progress    *Progress // nil until the campaign started
	// Live: mail is going out, or the affected members' rows are still
	// being written; the page reloads itself while it is.
	Live bool
	// MailOff: no mail server is configured, so nothing can be sent: the
	// campaign cannot start and a started one sends nothing.
	MailOff bool
	// Placeholder: the letter, written for the incident as recorded,
	// still holds a placeholder (【要記入】, [to fill in]); it cannot start.
	Placeholder bool
}

// View returns an incident's campaign, its progress once started, and
// where it stands.
func (s *Service) View(ctx context.Context, incidentID string) (*View, error) {
	inc, c, err := s.Campaign(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	_, werr := incident.QueryOf(inc)
	v := &View{Incident: inc, Campaign: c, Text: DefaultText(), WindowKnown: werr == nil, MailOff: s.MailOff}
	if c != nil {
		v.Text = TextOf(c)
	}
	if v.Placeholder, err = s.placeholderLeft(ctx, inc, v.Text); err != nil && kakunin.ErrorCode(err) != kakunin.EINVALID {
		return nil, err
	}
	if c == nil {
		return v, nil
	}
	v.Previewed = c.PreviewedAt != nil && !c.PreviewedAt.Before(c.UpdatedAt)
	if c.StartedAt == nil {
		return v, nil
	}
	if v.Progress, err = s.progress(ctx, c); err != nil {
		return nil, err
	}
	v.Live = !s.MailOff && (c.State == store.CampaignSending || v.Progress.Enqueuing)
	return v, nil
}

// Refusal is why a campaign cannot start.
type Refusal string

const (
	RefusedNoMail       Refusal = "no_mail"       // no mail server is configured: nothing could be sent
	RefusedNoWindow     Refusal = "no_window"     // the incident's window is not known
	RefusedStarted      Refusal = "started"       // it started already
	RefusedNotPreviewed Refusal = "not_previewed" // no letter yet, or not previewed as it now stands
	RefusedPlaceholder  Refusal = "placeholder"   // the letter still holds a placeholder
)

// StartRefusal says why Start would refuse the campaign as viewed, the
// most basic reason first; "" when it may start.
func (v *View) StartRefusal() Refusal {
	switch {
	case v.MailOff:
		return RefusedNoMail
	case !v.WindowKnown:
		return RefusedNoWindow
	case v.Campaign != nil && v.Campaign.State != store.CampaignDraft:
		return RefusedStarted
	case v.Placeholder:
		return RefusedPlaceholder
	case v.Campaign == nil || !v.Previewed:
		return RefusedNotPreviewed
	}
	return ""
}
