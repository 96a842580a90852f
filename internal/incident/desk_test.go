package incident_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/publicnotice"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// publish publishes a notice about an incident at the desk's clock.
func (d *desk) publish(t *testing.T, incidentID string) {
	t.Helper()
	n, err := d.notices.Create(d.ctx, publicnotice.Text{TitleJA: "お知らせ", TitleEN: "Notice", BodyJA: "本文", BodyEN: "Body", IncidentID: incidentID})
	must(t, err)
	_, err = d.notices.Publish(d.ctx, n.ID)
	must(t, err)
}

func TestTheDeskListsEveryIncidentWithItsItemsAndPublicStateAsThePerIncidentQueriesDid(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		d := newDesk(t, dsn)
		if rows, err := d.s.Desk(d.ctx); err != nil || len(rows) != 0 {
			t.Fatalf("no incidents: %d rows, %v", len(rows), err)
		}
		// Three incidents discovered a day apart: the oldest with two
		// certifier items, the middle one with a published notice, the
		// newest with an item already done and only a draft notice.
		var ids []string
		for i, held := range []kakunin.IncidentHeld{{Database: true, Blobs: true, Keys: true}, {Database: true}, {}} {
			r := record(d)
			r.Title, r.Held, r.Malicious = "Incident "+string(rune('A'+i)), held, false
			r.DiscoveredAt = d.now.Add(-time.Duration(3-i) * 24 * time.Hour)
			in, err := d.s.Create(d.ctx, r)
			must(t, err)
			ids = append(ids, in.ID)
		}
		_, err := d.s.AddCertifierItem(d.ctx, ids[0], "Rotate the keys", d.now.Add(48*time.Hour))
		must(t, err)
		_, err = d.s.AddCertifierItem(d.ctx, ids[0], "Publish the erasure policy", d.now.Add(24*time.Hour))
		must(t, err)
		done, err := d.s.AddCertifierItem(d.ctx, ids[2], "Tell the certifier", d.now.Add(24*time.Hour))
		must(t, err)
		must(t, d.s.CertifierItemDone(d.ctx, ids[2], done.ID))
		d.publish(t, ids[1])
		_, err = d.notices.Create(d.ctx, publicnotice.Text{TitleJA: "下書き", TitleEN: "Draft", BodyJA: "本文", BodyEN: "Body", IncidentID: ids[2]})
		must(t, err)
		// Three days on, the oldest's items are overdue and every notice
		// is stale.
		d.now = d.now.Add(3*24*time.Hour + time.Hour)

		rows, err := d.s.Desk(d.ctx)
		must(t, err)
		var got []string
		for _, row := range rows {
			got = append(got, row.Incident.ID)
		}
		if want := []string{ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
			t.Fatalf("desk order %v, want the most recently discovered first %v", got, want)
		}
		for _, row := range rows {
			in := row.Incident
			items, err := d.s.CertifierItems(d.ctx, in.ID)
			must(t, err)
			a := incident.Assess(in, items, incident.Facts{}, d.now)
			pub, err := d.s.Public(d.ctx, in)
			must(t, err)
			if row.Required != a.Required || row.Overdue != len(a.Overdue()) || !reflect.DeepEqual(row.Public, pub) {
				t.Errorf("%s: required %v overdue %d public %+v; one incident at a time says %v, %d, %+v",
					in.Title, row.Required, row.Overdue, row.Public, a.Required, len(a.Overdue()), pub)
			}
		}
		if rows[2].Overdue != 4 {
			t.Errorf("the oldest incident has %d overdue obligations, want 4: the preliminary report, the notification and its 2 certifier items", rows[2].Overdue)
		}
		if rows[0].Overdue != 0 || rows[1].Overdue != 0 {
			t.Errorf("overdue %d and %d: the other two need no report and have no open item", rows[0].Overdue, rows[1].Overdue)
		}
		if rows[1].Public.Last == nil || rows[0].Public.Last != nil || rows[2].Public.Last != nil {
			t.Errorf("last public updates %v %v %v: want only the middle incident's, a draft does not count",
				rows[0].Public.Last, rows[1].Public.Last, rows[2].Public.Last)
		}
		if rows[2].NextDue == nil || !rows[2].NextDue.Equal(rows[2].Incident.DiscoveredAt.Add(incident.FinalWithin)) {
			t.Errorf("the oldest incident's next due %v, want its final report", rows[2].NextDue)
		}
	})
}

func TestNextStatusesAreThoseAfterTheCurrentOne(t *testing.T) {
	for _, tc := range []struct {
		at   kakunin.IncidentStatus
		want []kakunin.IncidentStatus
	}{
		{kakunin.IncidentInvestigating, kakunin.IncidentStatuses[1:]},
		{kakunin.IncidentIdentified, kakunin.IncidentStatuses[2:]},
		{kakunin.IncidentClosed, nil},
	} {
		if got := incident.NextStatuses(tc.at); !slices.Equal(got, tc.want) {
			t.Errorf("after %s: %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestAnIncidentsViewHoldsItsDecisions(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		d := newDesk(t, dsn)
		fixture(t, d.db)
		r := record(d)
		r.WindowFrom, r.WindowTo = from, to
		in, err := d.s.Create(d.ctx, r)
		must(t, err)
		d.now = d.now.Add(time.Minute)
		in, err = d.s.Advance(d.ctx, in.ID, kakunin.IncidentIdentified, "Window known.")
		must(t, err)
		soon, err := d.s.AddCertifierItem(d.ctx, in.ID, "Rotate the keys", d.now.Add(24*time.Hour))
		must(t, err)
		later, err := d.s.AddCertifierItem(d.ctx, in.ID, "Publish the erasure policy", d.now.Add(10*24*time.Hour))
		must(t, err)
		d.now = d.now.Add(2 * 24 * time.Hour)

		v, err := d.s.View(d.ctx, in.ID)
		must(t, err)
		if v.Incident.ID != in.ID || !v.At.Equal(d.now) {
			t.Errorf("view of %s at %v, want %s at %v", v.Incident.ID, v.At, in.ID, d.now)
		}
		if want := kakunin.IncidentStatuses[2:]; !slices.Equal(v.NextStatuses, want) {
			t.Errorf("next statuses %v, want %v", v.NextStatuses, want)
		}
		if len(v.Items) != 2 || v.Items[0].ID != soon.ID || !v.Items[0].Overdue || v.Items[1].ID != later.ID || v.Items[1].Overdue {
			t.Errorf("items %+v: want the first overdue, the second not", v.Items)
		}
		// The window is scoped: the fixture's four members, counted into
		// the deadlines.
		if v.Scope == nil || v.Scope.Members.Total != 4 {
			t.Fatalf("scope %+v, want the fixture's window counted", v.Scope)
		}
		want := incident.Assess(v.Incident, []kakunin.CertifierItem{v.Items[0].CertifierItem, v.Items[1].CertifierItem},
			incident.Facts{Counted: true, People: v.Scope.Members.Total, StaffReads: v.Scope.ReadsTotal}, d.now)
		if !reflect.DeepEqual(v.Assessment, want) {
			t.Errorf("assessment %+v\nwant %+v", v.Assessment, want)
		}
		// Identified with no published notice: stale.
		if !v.Public.Stale || v.Public.Last != nil {
			t.Errorf("public %+v, want stale with nothing published", v.Public)
		}
		if len(v.Timeline) != 2 || v.Timeline[0].Status != kakunin.IncidentIdentified {
			t.Errorf("timeline %+v, want the status change first, then the opening", v.Timeline)
		}

		d.publish(t, in.ID)
		v, err = d.s.View(d.ctx, in.ID)
		must(t, err)
		if v.Public.Stale || len(v.Notices) != 1 {
			t.Errorf("after publishing: public %+v, %d notices", v.Public, len(v.Notices))
		}

		if _, err := d.s.View(d.ctx, "inc_nope"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("view of an unknown incident: %v", err)
		}
	})
}

func TestAScopeIsRecordedBeforeItIsReturned(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		d := newDesk(t, dsn)
		fixture(t, d.db)
		q := incident.Query{From: from, To: to, KeysExposed: true, MaxReads: 1}
		rep, reads, err := d.s.ScopeRecorded(d.ctx, q, "console", 2)
		must(t, err)
		if rep.Documents.Existing == 0 || len(reads) != 2 || !reads[0].At.Equal(to) || !reads[0].At.After(reads[1].At) {
			t.Fatalf("scope of %d documents, reads %+v: want the newest two reads, newest first", rep.Documents.Existing, reads)
		}
		evs := d.events(t, audit.IncidentScoped)
		if len(evs) != 1 {
			t.Fatalf("%d scope events, want 1", len(evs))
		}
		wantDetail := map[string]string{"from": "2026-11-11T00:00:00Z", "to": "2026-11-21T00:00:00Z", "keys_exposed": "true",
			"documents": "8", "via": "console"}
		if ev := evs[0]; ev.Actor != "staff:stf_resp" || ev.Subject != "scope" || !reflect.DeepEqual(ev.Detail, wantDetail) {
			t.Errorf("scope event %+v, want detail %v", ev, wantDetail)
		}
		if _, reads, err := d.s.ScopeRecorded(d.ctx, q, "console", 0); err != nil || reads != nil {
			t.Errorf("without reads asked for: %d reads, %v", len(reads), err)
		}

		// A scope that cannot be computed is not recorded.
		if _, _, err := d.s.ScopeRecorded(d.ctx, incident.Query{From: to, To: from}, "console", 0); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("a reversed window: %v", err)
		}
		if evs := d.events(t, audit.IncidentScoped); len(evs) != 2 {
			t.Errorf("%d scope events after a refused one, want 2", len(evs))
		}
	})
}
