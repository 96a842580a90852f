package massmail

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
)

// Service is what the console does with campaigns: write, preview, start,
// pause and resume them, and watch their progress. Every change is audited
// in the transaction that makes it.
type Service struct {
	DB    *store.DB
	Audit *audit.Log
	Log   *slog.Logger // required
	Now   func() time.Time
	// PublicURL is where members find the notices ({{.NoticesURL}} is
	// PublicURL + "/notices"); Contact fills {{.Contact}}.
	PublicURL string
	Contact   string
	// Brand signs each letter (internal/brand); the preview shows it.
	Brand brand.Brand
	// OnStart, when set, is told that an incident's campaign started
	// (serve moves the incident to "notifying"). An error is logged: the
	// start was committed and the campaign runs regardless.
	OnStart func(ctx context.Context, incidentID string) error
	// MailOff: no mail server is configured (serve without --smtp-url).
	// Start and Resume refuse: a campaign that cannot send must not
	// look as if it were sending.
	MailOff bool
}

// errMailOff is Start's and Resume's answer while no mail server is
// configured.
func errMailOff() error {
	return kakunin.Errorf(kakunin.ECONFLICT, "no mail server is configured (--smtp-url): nothing can be sent")
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// NoticesURL is the public notices page the letters point to.
func (s *Service) NoticesURL() string { return strings.TrimRight(s.PublicURL, "/") + "/notices" }

// Campaign returns the incident and its campaign; the campaign is nil
// while the incident has none.
func (s *Service) Campaign(ctx context.Context, incidentID string) (*kakunin.Incident, *store.Campaign, error) {
	inc, err := s.DB.Incident(ctx, incidentID)
	if err != nil {
		return nil, nil, err
	}
	c, err := s.DB.CampaignOfIncident(ctx, incidentID)
	if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		return inc, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return inc, c, nil
}

// TextOf returns a campaign's templates.
func TextOf(c *store.Campaign) Text {
	return Text{SubjectJA: c.SubjectJA, BodyJA: c.BodyJA, SubjectEN: c.SubjectEN, BodyEN: c.BodyEN}
}

// normalize keeps line ends as "\n" only, whatever the browser sent.
func normalize(t Text) Text {
	nl := strings.NewReplacer("\r\n", "\n", "\r", "\n")
	return Text{SubjectJA: strings.TrimSpace(t.SubjectJA), BodyJA: nl.Replace(t.BodyJA),
		SubjectEN: strings.TrimSpace(t.SubjectEN), BodyEN: nl.Replace(t.BodyEN)}
}

// Validate checks a campaign's templates (see parse) without saving them.
func Validate(t Text) error {
	_, err := parse(normalize(t))
	return err
}

// Save writes the incident's campaign templates, creating the campaign as a
// draft the first time. Invalid templates are refused (EINVALID) and
// nothing changes; a campaign that has started keeps its text (ECONFLICT).
func (s *Service) Save(ctx context.Context, incidentID string, t Text) (*store.Campaign, error) {
	t = normalize(t)
	if _, err := parse(t); err != nil {
		return nil, err
	}
	now := s.now()
	var c *store.Campaign
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Incident(ctx, incidentID); err != nil {
			return err
		}
		old, err := tx.CampaignOfIncident(ctx, incidentID)
		action := audit.NotificationUpdated
		switch kakunin.ErrorCode(err) {
		case "":
			c = old
			c.SubjectJA, c.BodyJA, c.SubjectEN, c.BodyEN, c.UpdatedAt = t.SubjectJA, t.BodyJA, t.SubjectEN, t.BodyEN, now
			err = tx.UpdateCampaignText(ctx, c)
		case kakunin.ENOTFOUND:
			action = audit.NotificationCreated
			c = &store.Campaign{ID: kakunin.NewID("ncp"), IncidentID: incidentID, SubjectJA: t.SubjectJA, BodyJA: t.BodyJA,
				SubjectEN: t.SubjectEN, BodyEN: t.BodyEN, State: store.CampaignDraft, CreatedBy: audit.ActorFrom(ctx),
				CreatedAt: now, UpdatedAt: now}
			err = tx.InsertCampaign(ctx, c)
		}
		if err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, action, c, now, nil))
	})
	if err != nil {
		return nil, fmt.Errorf("save notification campaign of %s: %w", incidentID, err)
	}
	return c, nil
}

// Rendered is a letter written out in one language.
type Rendered struct {
	Lang    kakunin.Locale
	Subject string
	Body    string
}

// Preview is a campaign's letter written for one affected member in both
// languages, without the member's address.
type Preview struct {
	JA, EN Rendered
	// Sample says a real affected member's documents fill it; false: none
	// is affected (or none who has not left), and example documents do.
	Sample    bool
	Documents int // the sample member's documents in the letter
}

// Preview writes the campaign's letter for a sample affected member in
// both languages and records that it was previewed: only a previewed text
// can be started.
func (s *Service) Preview(ctx context.Context, incidentID string) (*Preview, error) {
	inc, c, err := s.Campaign(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "save the letter before previewing it")
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
	p := &Preview{}
	memberID, err := s.DB.ScopeSampleMember(ctx, q.From, q.To)
	if err != nil {
		return nil, err
	}
	var ex *incident.Exposure
	if memberID != "" {
		if ex, err = incident.MemberExposure(ctx, s.DB, inc, memberID); err != nil {
			return nil, err
		}
		p.Sample, p.Documents = true, len(ex.Documents)
	}
	for _, lang := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
		l := letterFor(lang, inc, facts, ex, s.NoticesURL(), s.Contact)
		if !p.Sample {
			l.Documents, l.AnyReadable = sampleLetters(lang)[1].Documents, true
		}
		subject, body, err := ts.render(lang, l)
		if err != nil {
			return nil, kakunin.Errorf(kakunin.EINVALID, "the letter cannot be written: %s", templateError(err))
		}
		r := Rendered{Lang: lang, Subject: subject, Body: s.Brand.SignText(body, lang)}
		if lang == kakunin.LocaleEN {
			p.EN = r
		} else {
			p.JA = r
		}
	}
	now := s.now()
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.MarkCampaignPreviewed(ctx, c.ID, now); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.NotificationPreviewed, c, now, nil))
	})
	if err != nil {
		return nil, fmt.Errorf("preview notification campaign %s: %w", c.ID, err)
	}
	return p, nil
}

// Start begins sending: the campaign must be a draft whose current text
// was previewed, of an incident whose window is known. Its rows are
// enqueued by a Sender right after; a second start is a conflict and
// enqueues nothing twice.
func (s *Service) Start(ctx context.Context, incidentID string) (*store.Campaign, error) {
	if s.MailOff {
		return nil, errMailOff()
	}
	inc, c, err := s.Campaign(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "write and preview the letter before starting")
	}
	if _, err := incident.QueryOf(inc); err != nil {
		return nil, err
	}
	if c.State != store.CampaignDraft {
		return nil, kakunin.Errorf(kakunin.ECONFLICT, "the campaign has already started")
	}
	if left, err := s.placeholderLeft(ctx, inc, TextOf(c)); err != nil || left {
		if err != nil {
			return nil, err
		}
		return nil, kakunin.Errorf(kakunin.ECONFLICT, "the letter still holds a placeholder: write what it asks for, or record the fact it waits for")
	}
	if c.PreviewedAt == nil || c.PreviewedAt.Before(c.UpdatedAt) {
		return nil, kakunin.Errorf(kakunin.ECONFLICT, "preview the letter as it now stands before starting")
	}
	now := s.now()
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.StartCampaign(ctx, c.ID, now); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.NotificationStarted, c, now, nil))
	})
	if err != nil {
		return nil, fmt.Errorf("start notification campaign %s: %w", c.ID, err)
	}
	c.State, c.StartedAt = store.CampaignSending, &now
	if s.OnStart != nil {
		if err := s.OnStart(ctx, incidentID); err != nil {
			s.Log.ErrorContext(ctx, "notification: recording the start on the incident", "campaign", c.ID, "err", err)
		}
	}
	return c, nil
}

// Pause stops sending a campaign until Resume; messages being sent finish.
func (s *Service) Pause(ctx context.Context, incidentID string) error {
	return s.setPaused(ctx, incidentID, true)
}

// Resume sends a paused campaign again.
func (s *Service) Resume(ctx context.Context, incidentID string) error {
	return s.setPaused(ctx, incidentID, false)
}

func (s *Service) setPaused(ctx context.Context, incidentID string, paused bool) error {
	if !paused && s.MailOff {
		return errMailOff()
	}
	_, c, err := s.Campaign(ctx, incidentID)
	if err != nil {
		return err
	}
	if c == nil {
		return kakunin.Errorf(kakunin.ENOTFOUND, "the incident has no notification campaign")
	}
	action := audit.NotificationPaused
	if !paused {
		action = audit.NotificationResumed
	}
	now := s.now()
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.SetCampaignPaused(ctx, c.ID, paused); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, action, c, now, nil))
	})
	if err != nil {
		return fmt.Errorf("%s notification campaign %s: %w", action, c.ID, err)
	}
	return nil
}

func (s *Service) event(ctx context.Context, action string, c *store.Campaign, at time.Time, detail map[string]string) audit.Event {
	d := map[string]string{"incident": c.IncidentID}
	for k, v := range detail {
		d[k] = v
	}
	return audit.Event{At: at, Action: action, Actor: audit.ActorFrom(ctx), Subject: c.ID, Origin: audit.OriginFrom(ctx), Detail: d}
}

// Progress is how far a campaign has come.
type Progress struct {
	Campaign *store.Campaign
	Pending  int64
	// Enqueuing: the affected members' rows are still being written;
	// Campaign.Enqueued of Campaign.Target so far.
	Enqueuing bool
	// PerMinute is the messages sent per minute over the last RateWindow
	// (or since the start, if shorter); Remaining estimates the time left
	// at that rate, 0 when unknown.
	PerMinute float64
	Remaining time.Duration
	// Buckets is the sent-per-minute chart: consecutive spans of
	// BucketMinutes minutes from the first minute anything happened to
	// the current one (or the last), at most MaxBuckets.
	Buckets       []Bucket
	BucketMinutes int
}

// Bucket is one bar of the chart: what happened in BucketMinutes minutes
// from Start, per minute on average for Sent.
type Bucket struct {
	Start time.Time
	store.OutcomeCounts
}

// Chart and rate settings.
const (
	MaxBuckets = 60
	RateWindow = 5 * time.Minute
)

// Progress returns the incident's campaign progress; ENOTFOUND when it has
// no campaign.
func (s *Service) Progress(ctx context.Context, incidentID string) (*Progress, error) {
	_, c, err := s.Campaign(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "the incident has no notification campaign")
	}
	return s.progress(ctx, c)
}

// progress is Progress of a campaign already read.
func (s *Service) progress(ctx context.Context, c *store.Campaign) (*Progress, error) {
	p := &Progress{Campaign: c, Pending: c.Pending(), Enqueuing: c.StartedAt != nil && c.EnqueuedAt == nil, BucketMinutes: 1}
	if c.StartedAt == nil {
		return p, nil
	}
	if p.Enqueuing && c.Target > c.Enqueued {
		p.Pending = c.Target - c.Sent - c.Failed - c.Bounced - c.Skipped
	}
	now := s.now()
	minutes, err := s.DB.CampaignMinutes(ctx, c.ID, c.StartedAt.Truncate(time.Minute))
	if err != nil {
		return nil, err
	}
	end := now
	if c.FinishedAt != nil {
		end = *c.FinishedAt
	}
	// The rate over the last RateWindow, or since the start.
	window := min(RateWindow, max(end.Sub(*c.StartedAt), time.Minute))
	var recent int64
	for _, m := range minutes {
		if !m.Minute.Before(end.Add(-window).Truncate(time.Minute)) {
			recent += m.Sent
		}
	}
	p.PerMinute = float64(recent) / window.Minutes()
	if p.PerMinute > 0 && p.Pending > 0 && c.State == store.CampaignSending {
		p.Remaining = time.Duration(float64(p.Pending) / p.PerMinute * float64(time.Minute)).Round(time.Minute)
	}
	p.Buckets, p.BucketMinutes = buckets(minutes, c.StartedAt.Truncate(time.Minute), end.Truncate(time.Minute))
	return p, nil
}

// buckets spreads the minutes from first to last (both included) over at
// most MaxBuckets bars of whole minutes each.
func buckets(minutes []store.MinuteCount, first, last time.Time) ([]Bucket, int) {
	if len(minutes) > 0 && minutes[0].Minute.Before(first) {
		first = minutes[0].Minute
	}
	if len(minutes) > 0 && minutes[len(minutes)-1].Minute.After(last) {
		last = minutes[len(minutes)-1].Minute
	}
	span := int(last.Sub(first)/time.Minute) + 1
	per := (span + MaxBuckets - 1) / MaxBuckets
	out := make([]Bucket, (span+per-1)/per)
	for i := range out {
		out[i].Start = first.Add(time.Duration(i*per) * time.Minute)
	}
	for _, m := range minutes {
		i := int(m.Minute.Sub(first)/time.Minute) / per
		if i < 0 || i >= len(out) {
			continue
		}
		out[i].Sent += m.Sent
		out[i].Failed += m.Failed
		out[i].Bounced += m.Bounced
		out[i].Skipped += m.Skipped
	}
	return out, per
}

// placeholderLeft reports whether t, written for inc in either language
// (with and without documents), still holds a placeholder: text the
// responders must write, or a fact the record does not hold yet.
func (s *Service) placeholderLeft(ctx context.Context, inc *kakunin.Incident, t Text) (bool, error) {
	ts, err := parse(t)
	if err != nil {
		return false, err
	}
	facts, err := FactsOf(ctx, s.Audit, inc)
	if err != nil {
		return false, err
	}
	for _, lang := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
		l := letterFor(lang, inc, facts, nil, s.NoticesURL(), s.Contact)
		withDocs := l
		withDocs.Documents, withDocs.AnyReadable = sampleLetters(lang)[1].Documents, true
		for _, l := range []Letter{l, withDocs} {
			subject, body, err := ts.render(lang, l)
			if err != nil {
				return false, kakunin.Errorf(kakunin.EINVALID, "the letter cannot be written: %s", templateError(err))
			}
			if HasPlaceholder(subject) || HasPlaceholder(body) {
				return true, nil
			}
		}
	}
	return false, nil
}
