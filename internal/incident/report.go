package incident

import (
	"context"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/store"
)

// Draft is what the report to the PPC can be filled from: the record, the
// assessment, the scope of the window (nil while it is not known), the
// published notices and the timeline. The report form asks for overview,
// data items, number of people, cause, secondary damage, actions for
// individuals, publication, prevention and anything else of note; the
// items the desk cannot know (secondary damage, prevention) are left for
// the responder to fill in.
type Draft struct {
	Incident   *kakunin.Incident
	Assessment Assessment
	Scope      *Report // nil while the window is not known
	Published  []*store.Notice
	Timeline   []kakunin.IncidentUpdate
	Cause      Reason   // what the record says of the cause
	Held       []Reason // what the intruder may have held, one line each
	ComputedAt time.Time
}

// Draft gathers an incident's report draft.
func (s *Service) Draft(ctx context.Context, id string) (*Draft, error) {
	in, err := s.DB.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	items, err := s.DB.CertifierItems(ctx, id)
	if err != nil {
		return nil, err
	}
	facts, rep, err := s.Count(ctx, in)
	if err != nil {
		return nil, err
	}
	notices, err := s.DB.IncidentNotices(ctx, id)
	if err != nil {
		return nil, err
	}
	timeline, err := s.DB.IncidentUpdates(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	d := &Draft{Incident: in, Assessment: Assess(in, items, facts, now), Scope: rep, Timeline: timeline,
		Cause: Cause(in), Held: HeldLines(in.Held), ComputedAt: now}
	for _, n := range notices {
		if n.PublishedAt != nil {
			d.Published = append(d.Published, n)
		}
	}
	return d, nil
}

// Cause is what the record says of the cause.
func Cause(in *kakunin.Incident) Reason {
	if in.Malicious {
		return catalogue.M("deadline.cause.malicious")
	}
	return catalogue.M("deadline.cause.accident")
}

// HeldLines says what the intruder may have held, one line per part.
func HeldLines(h kakunin.IncidentHeld) []Reason {
	var out []Reason
	for _, part := range []struct {
		held bool
		id   string
	}{
		{h.Database, "deadline.held.database"},
		{h.Blobs, "deadline.held.blobs"},
		{h.Keys, "deadline.held.keys"},
		{h.StaffAccount, "deadline.held.staff_account"},
	} {
		if part.held {
			out = append(out, catalogue.M(part.id))
		}
	}
	if len(out) == 0 {
		out = append(out, catalogue.M("deadline.held.none"))
	}
	return out
}
