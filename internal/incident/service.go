package incident

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
)

// Limits on what an incident record holds, in characters.
const (
	MaxTitle   = 200
	MaxSummary = 10000
	MaxUpdate  = 4000
	MaxItem    = 1000
)

// Record is what a responder types about an incident: everything but its
// status and the dates things were done.
type Record struct {
	Title        string
	Summary      string
	DiscoveredAt time.Time
	WindowFrom   time.Time // zero while not known; both ends or neither
	WindowTo     time.Time
	Held         kakunin.IncidentHeld
	Malicious    bool
}

// Milestone names a date the desk records as done.
type Milestone string

const (
	MilestonePreliminary Milestone = "preliminary" // preliminary report to the PPC
	MilestoneFinal       Milestone = "final"       // final report to the PPC
	MilestoneIndividuals Milestone = "individuals" // the people affected were notified
)

// Service keeps incident records: the record itself, its status (forward
// only), its timeline, the dates reports were made and the certifier's
// corrective items. Every change is audited in its own transaction, and
// holds no personal data: the affected members are computed from the
// window (Scope).
type Service struct {
	DB    *store.DB
	Audit *audit.Log
	// Queue enqueues the alerts Watch raises; nil when nothing watches
	// (the console alone).
	Queue alert.Enqueuer
	Now   func() time.Time
	// StaleAfter is how long an open incident may go without a public
	// update (--notice-stale-after); 0 means DefaultStaleAfter.
	StaleAfter time.Duration
}

// staleAfter is StaleAfter or its default.
func (s *Service) staleAfter() time.Duration {
	if s.StaleAfter > 0 {
		return s.StaleAfter
	}
	return DefaultStaleAfter
}

// Public says what the public last heard of an incident, and whether that
// is too long ago.
func (s *Service) Public(ctx context.Context, in *kakunin.Incident) (Staleness, error) {
	last, err := s.DB.LastPublicUpdates(ctx)
	if err != nil {
		return Staleness{}, err
	}
	var lp *time.Time
	if t, ok := last[in.ID]; ok {
		lp = &t
	}
	return PublicStatus(in, lp, s.staleAfter(), s.now()), nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Microsecond)
	}
	return time.Now().UTC().Truncate(time.Microsecond)
}

// checkText refuses text that is empty (when required), too long, not
// UTF-8 or holds control characters (newlines and tabs allowed when
// multiline).
func checkText(name, v string, max int, required, multiline bool) error {
	if !utf8.ValidString(v) {
		return kakunin.Errorf(kakunin.EINVALID, "%s is not valid UTF-8", name)
	}
	if n := utf8.RuneCountInString(v); (required && strings.TrimSpace(v) == "") || n > max {
		if required {
			return kakunin.Errorf(kakunin.EINVALID, "%s must be 1 to %d characters", name, max)
		}
		return kakunin.Errorf(kakunin.EINVALID, "%s must be at most %d characters", name, max)
	}
	for _, r := range v {
		if multiline && (r == '\n' || r == '\t' || r == '\r') {
			continue
		}
		if unicode.IsControl(r) {
			return kakunin.Errorf(kakunin.EINVALID, "%s holds a control character", name)
		}
	}
	return nil
}

// clock allows for a browser clock a little ahead of the server's.
const clockSlack = 10 * time.Minute

// normalize trims r, checks it and returns it at microsecond precision in
// UTC, the precision times are stored at.
func (r Record) normalize(now time.Time) (Record, error) {
	nl := strings.NewReplacer("\r\n", "\n", "\r", "\n")
	r.Title, r.Summary = strings.TrimSpace(r.Title), nl.Replace(strings.TrimSpace(r.Summary))
	if err := checkText("title", r.Title, MaxTitle, true, false); err != nil {
		return r, err
	}
	if err := checkText("summary", r.Summary, MaxSummary, false, true); err != nil {
		return r, err
	}
	if r.DiscoveredAt.IsZero() {
		return r, kakunin.Errorf(kakunin.EINVALID, "give the time the breach was discovered")
	}
	if r.DiscoveredAt.After(now.Add(clockSlack)) {
		return r, kakunin.Errorf(kakunin.EINVALID, "the discovery time is in the future")
	}
	if r.WindowFrom.IsZero() != r.WindowTo.IsZero() {
		return r, kakunin.Errorf(kakunin.EINVALID, "give both ends of the window, or neither while it is not known")
	}
	if !r.WindowFrom.IsZero() && !r.WindowFrom.Before(r.WindowTo) {
		return r, kakunin.Errorf(kakunin.EINVALID, "the window must start before it ends")
	}
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return t
		}
		return t.UTC().Truncate(time.Microsecond)
	}
	r.DiscoveredAt, r.WindowFrom, r.WindowTo = utc(r.DiscoveredAt), utc(r.WindowFrom), utc(r.WindowTo)
	return r, nil
}

func (s *Service) event(ctx context.Context, action, subject string, at time.Time, detail map[string]string) audit.Event {
	return audit.Event{At: at, Action: action, Actor: audit.ActorFrom(ctx), Subject: subject, Origin: audit.OriginFrom(ctx), Detail: detail}
}

// Create stores a new incident, investigating, with its first timeline
// entry.
func (s *Service) Create(ctx context.Context, r Record) (*kakunin.Incident, error) {
	now := s.now()
	r, err := r.normalize(now)
	if err != nil {
		return nil, err
	}
	actor := audit.ActorFrom(ctx)
	in := &kakunin.Incident{ID: kakunin.NewID("inc"), Title: r.Title, Summary: r.Summary, DiscoveredAt: r.DiscoveredAt,
		WindowFrom: r.WindowFrom, WindowTo: r.WindowTo, Held: r.Held, Malicious: r.Malicious,
		Status: kakunin.IncidentInvestigating, CreatedBy: actor, CreatedAt: now, UpdatedAt: now}
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertIncident(ctx, in); err != nil {
			return err
		}
		u := &kakunin.IncidentUpdate{ID: kakunin.NewID("iup"), IncidentID: in.ID, At: now, Actor: actor,
			Status: in.Status, Code: TimelineOpened}
		if err := tx.InsertIncidentUpdate(ctx, u); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.IncidentCreated, in.ID, now, heldDetail(in)))
	})
	if err != nil {
		return nil, fmt.Errorf("create incident: %w", err)
	}
	return in, nil
}

// heldDetail is what the audit log keeps of a record: flags, no text.
func heldDetail(in *kakunin.Incident) map[string]string {
	b := func(v bool) string {
		if v {
			return "true"
		}
		return "false"
	}
	d := map[string]string{"database": b(in.Held.Database), "blobs": b(in.Held.Blobs), "keys": b(in.Held.Keys),
		"staff_account": b(in.Held.StaffAccount), "malicious": b(in.Malicious), "window_known": b(!in.WindowFrom.IsZero())}
	return d
}

// Update replaces an incident's record (title, summary, times, what was
// held). Once identified, the window can be corrected but not removed.
func (s *Service) Update(ctx context.Context, id string, r Record) (*kakunin.Incident, error) {
	now := s.now()
	r, err := r.normalize(now)
	if err != nil {
		return nil, err
	}
	var in *kakunin.Incident
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		if in, err = tx.Incident(ctx, id); err != nil {
			return err
		}
		if in.Status.Scoped() && r.WindowFrom.IsZero() {
			return kakunin.Errorf(kakunin.EINVALID, "the incident is %s: its window is known and cannot be removed", in.Status)
		}
		in.Title, in.Summary, in.DiscoveredAt = r.Title, r.Summary, r.DiscoveredAt
		in.WindowFrom, in.WindowTo, in.Held, in.Malicious, in.UpdatedAt = r.WindowFrom, r.WindowTo, r.Held, r.Malicious, now
		if err := tx.UpdateIncident(ctx, in); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.IncidentUpdated, id, now, heldDetail(in)))
	})
	if err != nil {
		return nil, fmt.Errorf("update incident %s: %w", id, err)
	}
	return in, nil
}

// Advance moves an incident's status forward to `to` (skipping steps is
// allowed, going back is not) and writes the timeline entry saying so,
// with text when given. Identified and later need the window.
func (s *Service) Advance(ctx context.Context, id string, to kakunin.IncidentStatus, text string) (*kakunin.Incident, error) {
	text = strings.TrimSpace(text)
	if to.Rank() < 0 {
		return nil, kakunin.Errorf(kakunin.EINVALID, "no such status %q", to)
	}
	if err := checkText("text", text, MaxUpdate, false, true); err != nil {
		return nil, err
	}
	now := s.now()
	var in *kakunin.Incident
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		if in, err = tx.Incident(ctx, id); err != nil {
			return err
		}
		from := in.Status
		if to.Rank() <= from.Rank() {
			return kakunin.Errorf(kakunin.ECONFLICT, "the incident is %s: its status only moves forward", from)
		}
		if to.Scoped() && (in.WindowFrom.IsZero() || in.WindowTo.IsZero()) {
			return kakunin.Errorf(kakunin.ECONFLICT, "record the window before moving the incident to %s", to)
		}
		in.Status, in.UpdatedAt = to, now
		if err := tx.UpdateIncident(ctx, in); err != nil {
			return err
		}
		u := &kakunin.IncidentUpdate{ID: kakunin.NewID("iup"), IncidentID: id, At: now, Actor: audit.ActorFrom(ctx), Status: to, Text: text}
		if text == "" {
			u.Code, u.Args = TimelineStatus, map[string]string{"From": string(from), "To": string(to)}
		}
		if err := tx.InsertIncidentUpdate(ctx, u); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.IncidentStatusChanged, id, now,
			map[string]string{"from": string(from), "to": string(to), "update": u.ID}))
	})
	if err != nil {
		return nil, fmt.Errorf("advance incident %s: %w", id, err)
	}
	return in, nil
}

// Note adds an entry to an incident's timeline; the status stays.
func (s *Service) Note(ctx context.Context, id, text string) (*kakunin.IncidentUpdate, error) {
	text = strings.TrimSpace(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(text))
	if err := checkText("text", text, MaxUpdate, true, true); err != nil {
		return nil, err
	}
	now := s.now()
	var u *kakunin.IncidentUpdate
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		in, err := tx.Incident(ctx, id)
		if err != nil {
			return err
		}
		u = &kakunin.IncidentUpdate{ID: kakunin.NewID("iup"), IncidentID: id, At: now, Actor: audit.ActorFrom(ctx), Status: in.Status, Text: text}
		if err := tx.InsertIncidentUpdate(ctx, u); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.IncidentNoted, id, now, map[string]string{"update": u.ID}))
	})
	if err != nil {
		return nil, fmt.Errorf("note on incident %s: %w", id, err)
	}
	return u, nil
}

// RecordDone records when a report or the notification of individuals
// was done (a correction replaces the earlier date), with a timeline entry.
func (s *Service) RecordDone(ctx context.Context, id string, m Milestone, at time.Time) (*kakunin.Incident, error) {
	now := s.now()
	if at.IsZero() {
		return nil, kakunin.Errorf(kakunin.EINVALID, "give the date it was done")
	}
	if at.After(now.Add(clockSlack)) {
		return nil, kakunin.Errorf(kakunin.EINVALID, "the date it was done is in the future")
	}
	at = at.UTC().Truncate(time.Microsecond)
	var in *kakunin.Incident
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		if in, err = tx.Incident(ctx, id); err != nil {
			return err
		}
		var code string
		switch m {
		case MilestonePreliminary:
			in.PreliminaryReportedAt, code = &at, TimelinePreliminaryReported
		case MilestoneFinal:
			in.FinalReportedAt, code = &at, TimelineFinalReported
		case MilestoneIndividuals:
			in.IndividualsNotifiedAt, code = &at, TimelineIndividualsNotified
		default:
			return kakunin.Errorf(kakunin.EINVALID, "no such milestone %q", m)
		}
		in.UpdatedAt = now
		if err := tx.UpdateIncident(ctx, in); err != nil {
			return err
		}
		u := &kakunin.IncidentUpdate{ID: kakunin.NewID("iup"), IncidentID: id, At: now, Actor: audit.ActorFrom(ctx), Status: in.Status,
			Code: code, Args: map[string]string{"At": at.Format(time.RFC3339)}}
		if err := tx.InsertIncidentUpdate(ctx, u); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.IncidentReported, id, now,
			map[string]string{"milestone": string(m), "at": at.Format(time.RFC3339)}))
	})
	if err != nil {
		return nil, fmt.Errorf("record %s for incident %s: %w", m, id, err)
	}
	return in, nil
}

// AddCertifierItem records a certifier's corrective item and its due date.
func (s *Service) AddCertifierItem(ctx context.Context, id, text string, due time.Time) (*kakunin.CertifierItem, error) {
	text = strings.TrimSpace(strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(text))
	if err := checkText("text", text, MaxItem, true, true); err != nil {
		return nil, err
	}
	if due.IsZero() {
		return nil, kakunin.Errorf(kakunin.EINVALID, "give the date the item is due")
	}
	now := s.now()
	c := &kakunin.CertifierItem{ID: kakunin.NewID("cit"), IncidentID: id, Text: text, DueAt: due.UTC().Truncate(time.Microsecond), CreatedAt: now}
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Incident(ctx, id); err != nil {
			return err
		}
		if err := tx.InsertCertifierItem(ctx, c); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.CertifierItemAdded, id, now,
			map[string]string{"item": c.ID, "due": c.DueAt.Format(time.RFC3339)}))
	})
	if err != nil {
		return nil, fmt.Errorf("add certifier item to incident %s: %w", id, err)
	}
	return c, nil
}

// CertifierItemDone marks an item done now. An item done already is a
// conflict: its first date stays.
func (s *Service) CertifierItemDone(ctx context.Context, id, itemID string) error {
	now := s.now()
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Incident(ctx, id); err != nil {
			return err
		}
		items, err := tx.CertifierItems(ctx, id)
		if err != nil {
			return err
		}
		found := false
		for _, it := range items {
			if it.ID == itemID {
				found = true
				if it.DoneAt != nil {
					return kakunin.Errorf(kakunin.ECONFLICT, "item %s is done already", itemID)
				}
			}
		}
		if !found {
			return kakunin.Errorf(kakunin.ENOTFOUND, "no such certifier item")
		}
		if _, err := tx.CertifierItemDone(ctx, id, itemID, now); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.CertifierItemDone, id, now, map[string]string{"item": itemID}))
	})
	if err != nil {
		return fmt.Errorf("certifier item %s done: %w", itemID, err)
	}
	return nil
}

// Get returns one incident.
func (s *Service) Get(ctx context.Context, id string) (*kakunin.Incident, error) {
	return s.DB.Incident(ctx, id)
}

// List returns every incident, the most recently discovered first.
func (s *Service) List(ctx context.Context) ([]*kakunin.Incident, error) {
	return s.DB.ListIncidents(ctx)
}

// Timeline returns an incident's updates, newest first.
func (s *Service) Timeline(ctx context.Context, id string) ([]kakunin.IncidentUpdate, error) {
	return s.DB.IncidentUpdates(ctx, id)
}

// CertifierItems returns an incident's corrective items, soonest due first.
func (s *Service) CertifierItems(ctx context.Context, id string) ([]kakunin.CertifierItem, error) {
	return s.DB.CertifierItems(ctx, id)
}

// Count scopes the incident's window, when known, for the facts the
// deadlines need (how many people, whether staff opened images). It
// returns zero Facts and a nil report while the window is not known.
func (s *Service) Count(ctx context.Context, in *kakunin.Incident) (Facts, *Report, error) {
	q, err := QueryOf(in)
	if err != nil {
		return Facts{}, nil, nil
	}
	q.MaxReads = 1
	rep, err := Scope(ctx, s.DB, q)
	if err != nil {
		return Facts{}, nil, fmt.Errorf("count incident %s: %w", in.ID, err)
	}
	return Facts{Counted: true, People: rep.Members.Total, StaffReads: rep.ReadsTotal}, rep, nil
}
