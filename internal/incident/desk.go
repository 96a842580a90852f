package incident

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
)

// The console's desk asks for each of its pages in one call, and gets the
// decisions made here, where they are tested: which statuses come next,
// what is overdue, whether the public has been told enough.

// DeskRow is one incident of the desk's list.
type DeskRow struct {
	Incident *kakunin.Incident
	// Required, Overdue and NextDue come from the record and the
	// certifier's items alone: the list does not scope every window (the
	// people count matters only on the incident's own page, where the
	// reasons are shown).
	Required bool
	Overdue  int        // obligations past due and not done
	NextDue  *time.Time // the soonest obligation due and not yet overdue; nil: none
	Public   Staleness
}

// Desk returns every incident, the most recently discovered first, with
// where it stands, from one query however many incidents there are.
func (s *Service) Desk(ctx context.Context) ([]DeskRow, error) {
	all, err := s.DB.IncidentListings(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	rows := make([]DeskRow, 0, len(all))
	for _, l := range all {
		a := Assess(l.Incident, l.Items, Facts{}, now)
		row := DeskRow{Incident: l.Incident, Required: a.Required, Overdue: len(a.Overdue()),
			Public: PublicStatus(l.Incident, l.LastPublic, s.staleAfter(), now)}
		for _, o := range a.Obligations {
			if o.Status == StatusDue && (row.NextDue == nil || o.DueAt.Before(*row.NextDue)) {
				due := o.DueAt
				row.NextDue = &due
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// View is everything an incident's page shows, decided.
type View struct {
	Incident   *kakunin.Incident
	Assessment Assessment // with the facts counted from the window, when known
	Scope      *Report    // the window's scope; nil while the window is not known
	Public     Staleness
	// NextStatuses are the statuses the incident may move to: those after
	// its own (a status only moves forward).
	NextStatuses []kakunin.IncidentStatus
	Timeline     []kakunin.IncidentUpdate // newest first
	Items        []Item                   // the certifier's items, soonest due first
	Notices      []*store.Notice          // about it, drafts included, the most recently updated first
	At           time.Time                // the time it was assessed at
}

// Item is a certifier's corrective item and whether it is overdue.
type Item struct {
	kakunin.CertifierItem
	Overdue bool // not done, and its due time has passed
}

// View gathers an incident's page: the record, its deadlines with the
// window counted, what the public last heard, the statuses it may move to,
// its timeline, the certifier's items and its notices.
func (s *Service) View(ctx context.Context, id string) (*View, error) {
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
	pub, err := s.Public(ctx, in)
	if err != nil {
		return nil, err
	}
	timeline, err := s.DB.IncidentUpdates(ctx, id)
	if err != nil {
		return nil, err
	}
	notices, err := s.DB.IncidentNotices(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	v := &View{Incident: in, Assessment: Assess(in, items, facts, now), Scope: rep, Public: pub,
		NextStatuses: NextStatuses(in.Status), Timeline: timeline, Notices: notices, At: now}
	for _, it := range items {
		v.Items = append(v.Items, Item{CertifierItem: it, Overdue: it.DoneAt == nil && now.After(it.DueAt)})
	}
	return v, nil
}

// NextStatuses are the statuses an incident at st may move to, in order.
func NextStatuses(st kakunin.IncidentStatus) []kakunin.IncidentStatus {
	var out []kakunin.IncidentStatus
	for _, next := range kakunin.IncidentStatuses {
		if next.Rank() > st.Rank() {
			out = append(out, next)
		}
	}
	return out
}

// ScopeRecorded scopes q for the staff member the context names and
// records that in the audit log (via: where it was asked, e.g. "console")
// before returning anything: a scope names members and staff, and nobody
// reads one the audit log does not know of. With newest > 0 it returns up
// to that many of the window's reads too, newest first.
func (s *Service) ScopeRecorded(ctx context.Context, q Query, via string, newest int) (*Report, []Read, error) {
	rep, err := Scope(ctx, s.DB, q)
	if err != nil {
		return nil, nil, err
	}
	err = s.Audit.Append(ctx, audit.Event{Action: audit.IncidentScoped, Actor: audit.ActorFrom(ctx), Subject: "scope",
		Origin: audit.OriginFrom(ctx), Detail: map[string]string{
			"from": q.From.UTC().Format(time.RFC3339), "to": q.To.UTC().Format(time.RFC3339),
			"keys_exposed": strconv.FormatBool(q.KeysExposed), "documents": strconv.FormatInt(rep.Documents.Existing, 10), "via": via}})
	if err != nil {
		return nil, nil, fmt.Errorf("record the scope in the audit log: %w", err)
	}
	if newest <= 0 {
		return rep, nil, nil
	}
	var reads []Read
	err = NewestReads(ctx, s.DB, q, newest, func(rd Read) error {
		reads = append(reads, rd)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return rep, reads, nil
}
