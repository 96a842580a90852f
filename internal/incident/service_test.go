package incident_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/publicnotice"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// desk is an incident service over a real database, with a clock the test
// moves and an insert-only job queue whose river_job table shows the
// alerts raised.
type desk struct {
	db      *store.DB
	s       *incident.Service
	notices *publicnotice.Service
	now     time.Time
	ctx     context.Context
}

func newDesk(t *testing.T, dsn string) *desk {
	t.Helper()
	d := &desk{db: openDB(t, dsn), now: time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)}
	quiet := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := jobs.Migrate(t.Context(), d.db.SQL(), d.db.Dialect(), quiet); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.New(t.Context(), d.db.SQL(), d.db.Dialect(), nil, jobs.Config{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return d.now }
	log := &audit.Log{DB: d.db, Now: clock}
	d.s = &incident.Service{DB: d.db, Audit: log, Queue: q, Now: clock, StaleAfter: 72 * time.Hour}
	d.notices = &publicnotice.Service{DB: d.db, Audit: log, Now: clock}
	d.ctx = audit.WithActor(t.Context(), audit.StaffActor("stf_resp"))
	return d
}

func (d *desk) events(t *testing.T, action string) []audit.Event {
	t.Helper()
	evs, err := d.s.Audit.List(d.ctx, audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func record(d *desk) incident.Record {
	return incident.Record{Title: "Blob bucket listed publicly", Summary: "Found by a researcher.", DiscoveredAt: d.now.Add(-time.Hour),
		Held: kakunin.IncidentHeld{Database: true, Blobs: true}, Malicious: true}
}

func TestAnIncidentMovesForwardOnlyAndEveryChangeIsAudited(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		d := newDesk(t, dsn)
		in, err := d.s.Create(d.ctx, record(d))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(in.ID, "inc_") || in.Status != kakunin.IncidentInvestigating || in.CreatedBy != "staff:stf_resp" {
			t.Fatalf("created %+v", in)
		}

		// Identified needs the window.
		if _, err := d.s.Advance(d.ctx, in.ID, kakunin.IncidentIdentified, ""); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("identified without a window: %v", err)
		}
		rec := record(d)
		rec.WindowFrom, rec.WindowTo = d.now.Add(-72*time.Hour), d.now.Add(-2*time.Hour)
		d.now = d.now.Add(time.Minute)
		if _, err := d.s.Update(d.ctx, in.ID, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := d.s.Advance(d.ctx, in.ID, kakunin.IncidentIdentified, "Window known from the access logs."); err != nil {
			t.Fatal(err)
		}
		// Skipping forward is allowed; going back, or standing still, is not.
		d.now = d.now.Add(time.Minute)
		if _, err := d.s.Advance(d.ctx, in.ID, kakunin.IncidentMonitoring, ""); err != nil {
			t.Fatal(err)
		}
		for _, back := range []kakunin.IncidentStatus{kakunin.IncidentNotifying, kakunin.IncidentMonitoring, kakunin.IncidentInvestigating} {
			if _, err := d.s.Advance(d.ctx, in.ID, back, ""); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
				t.Errorf("back to %s: %v", back, err)
			}
		}
		if _, err := d.s.Advance(d.ctx, in.ID, "resolved", ""); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("unknown status: %v", err)
		}
		// Once identified, the window stays.
		if _, err := d.s.Update(d.ctx, in.ID, record(d)); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("removing the window: %v", err)
		}
		got, err := d.s.Get(d.ctx, in.ID)
		if err != nil || got.Status != kakunin.IncidentMonitoring || got.WindowFrom.IsZero() {
			t.Fatalf("after the refusals: %+v %v", got, err)
		}

		d.now = d.now.Add(time.Minute)
		if _, err := d.s.Note(d.ctx, in.ID, "Told the certifier."); err != nil {
			t.Fatal(err)
		}
		if _, err := d.s.Note(d.ctx, in.ID, "  "); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("empty note: %v", err)
		}
		timeline, err := d.s.Timeline(d.ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, u := range timeline {
			texts = append(texts, string(u.Status)+": "+incident.UpdateText(kakunin.LocaleEN, u))
		}
		want := "monitoring: Told the certifier.|monitoring: Status: identified → monitoring.|identified: Window known from the access logs.|investigating: Incident opened."
		if strings.Join(texts, "|") != want {
			t.Errorf("timeline:\n%s\nwant\n%s", strings.Join(texts, "|"), want)
		}

		for action, n := range map[string]int{audit.IncidentCreated: 1, audit.IncidentUpdated: 1, audit.IncidentStatusChanged: 2, audit.IncidentNoted: 1} {
			evs := d.events(t, action)
			if len(evs) != n {
				t.Errorf("%s: %d events, want %d", action, len(evs), n)
				continue
			}
			if evs[0].Subject != in.ID || evs[0].Actor != "staff:stf_resp" {
				t.Errorf("%s: %+v", action, evs[0])
			}
		}
		if evs := d.events(t, audit.IncidentStatusChanged); evs[0].Detail["from"] != "identified" || evs[0].Detail["to"] != "monitoring" {
			t.Errorf("status event detail %v", evs[0].Detail)
		}
	})
}

func TestBadRecordsAreRefusedAndChangeNothing(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		d := newDesk(t, dsn)
		for name, mutate := range map[string]func(r *incident.Record){
			"no title":        func(r *incident.Record) { r.Title = " " },
			"control char":    func(r *incident.Record) { r.Title = "a\x00b" },
			"long title":      func(r *incident.Record) { r.Title = strings.Repeat("x", incident.MaxTitle+1) },
			"no discovery":    func(r *incident.Record) { r.DiscoveredAt = time.Time{} },
			"future":          func(r *incident.Record) { r.DiscoveredAt = d.now.Add(24 * time.Hour) },
			"half a window":   func(r *incident.Record) { r.WindowFrom = d.now.Add(-time.Hour) },
			"window reversed": func(r *incident.Record) { r.WindowFrom, r.WindowTo = d.now, d.now.Add(-time.Hour) },
		} {
			r := record(d)
			mutate(&r)
			if _, err := d.s.Create(d.ctx, r); kakunin.ErrorCode(err) != kakunin.EINVALID {
				t.Errorf("%s: %v", name, err)
			}
		}
		if all, err := d.s.List(d.ctx); err != nil || len(all) != 0 {
			t.Fatalf("refused records were stored: %d %v", len(all), err)
		}
		if evs := d.events(t, audit.IncidentCreated); len(evs) != 0 {
			t.Errorf("refusals were audited as creations: %d", len(evs))
		}
		if _, err := d.s.Advance(d.ctx, "inc_nope", kakunin.IncidentClosed, ""); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("unknown incident: %v", err)
		}
	})
}

func TestReportsAndCertifierItemsAreRecorded(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		d := newDesk(t, dsn)
		in, err := d.s.Create(d.ctx, record(d))
		if err != nil {
			t.Fatal(err)
		}
		at := d.now.Add(-10 * time.Minute)
		got, err := d.s.RecordDone(d.ctx, in.ID, incident.MilestonePreliminary, at)
		if err != nil || got.PreliminaryReportedAt == nil || !got.PreliminaryReportedAt.Equal(at) {
			t.Fatalf("preliminary: %+v %v", got, err)
		}
		if _, err := d.s.RecordDone(d.ctx, in.ID, "rumour", at); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("unknown milestone: %v", err)
		}
		if _, err := d.s.RecordDone(d.ctx, in.ID, incident.MilestoneFinal, d.now.Add(48*time.Hour)); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("future date: %v", err)
		}
		stored, _ := d.s.Get(d.ctx, in.ID)
		if stored.FinalReportedAt != nil || !stored.PreliminaryReportedAt.Equal(at) {
			t.Fatalf("stored %+v", stored)
		}

		item, err := d.s.AddCertifierItem(d.ctx, in.ID, "Publish the erasure policy", d.now.Add(14*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.s.AddCertifierItem(d.ctx, in.ID, "", d.now); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("empty item: %v", err)
		}
		if _, err := d.s.AddCertifierItem(d.ctx, "inc_nope", "x", d.now); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("item of an unknown incident: %v", err)
		}
		if err := d.s.CertifierItemDone(d.ctx, in.ID, item.ID); err != nil {
			t.Fatal(err)
		}
		if err := d.s.CertifierItemDone(d.ctx, in.ID, item.ID); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Errorf("done twice: %v", err)
		}
		if err := d.s.CertifierItemDone(d.ctx, in.ID, "cit_nope"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("unknown item: %v", err)
		}
		items, err := d.s.CertifierItems(d.ctx, in.ID)
		if err != nil || len(items) != 1 || items[0].DoneAt == nil || !items[0].DoneAt.Equal(d.now) || items[0].Text != "Publish the erasure policy" {
			t.Fatalf("items %+v %v", items, err)
		}
		for action, n := range map[string]int{audit.IncidentReported: 1, audit.CertifierItemAdded: 1, audit.CertifierItemDone: 1} {
			if evs := d.events(t, action); len(evs) != n {
				t.Errorf("%s: %d events, want %d", action, len(evs), n)
			}
		}
	})
}

// alertJobs returns the role and detail of every alert fan-out job queued.
func alertJobs(t *testing.T, db *store.DB) []alert.FanoutArgs {
	t.Helper()
	q := `SELECT CAST(args AS TEXT) FROM river_job WHERE kind = 'alert_fanout' ORDER BY id`
	if db.Dialect() == store.SQLite {
		q = `SELECT json(args) FROM river_job WHERE kind = 'alert_fanout' ORDER BY id`
	}
	rows, err := db.SQL().QueryContext(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []alert.FanoutArgs
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var a alert.FanoutArgs
		if err := json.Unmarshal([]byte(raw), &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func TestTheWatchAlertsRespondersOncePerOverdueItemPerDay(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		d := newDesk(t, dsn)
		r := record(d)
		r.Held.Keys = true // readable: the report is required
		in, err := d.s.Create(d.ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.s.AddCertifierItem(d.ctx, in.ID, "Publish the erasure policy", d.now.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		watch := func() int {
			t.Helper()
			n, err := d.s.Watch(d.ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := watch(); n != 0 {
			t.Fatalf("%d alerts before anything is due", n)
		}

		// Six days on: the preliminary report and the notification of
		// individuals (due on day 5) and the certifier item (day 1) are
		// overdue; investigating, so no notice is expected yet.
		d.now = d.now.Add(6 * 24 * time.Hour)
		if n := watch(); n != 3 {
			t.Fatalf("%d alerts, want 3", n)
		}
		// Every hour after that, nothing new…
		for range 5 {
			d.now = d.now.Add(time.Hour)
			if n := watch(); n != 0 {
				t.Fatalf("%d alerts an hour later", n)
			}
		}
		// …until a day has passed since the alerts, unless done meanwhile.
		if _, err := d.s.RecordDone(d.ctx, in.ID, incident.MilestonePreliminary, d.now); err != nil {
			t.Fatal(err)
		}
		d.now = d.now.Add(19 * time.Hour)
		if n := watch(); n != 2 {
			t.Fatalf("%d alerts a day later, want 2 (the preliminary report is done)", n)
		}

		jobs := alertJobs(t, d.db)
		if len(jobs) != 5 {
			t.Fatalf("%d alert jobs, want 5", len(jobs))
		}
		seen := map[string]int{}
		for _, j := range jobs {
			if j.Alert.Role != kakunin.RoleResponder || j.Alert.Kind != alert.KindIncidentOverdue || j.Alert.Detail["incident"] != in.ID {
				t.Errorf("alert %+v", j.Alert)
			}
			seen[j.Alert.Detail["obligation"]]++
		}
		if seen["ppc_preliminary"] != 1 || seen["individuals"] != 2 || len(seen) != 3 {
			t.Errorf("alerts per obligation: %v", seen)
		}
		if evs := d.events(t, audit.IncidentAlerted); len(evs) != 5 || evs[0].Actor != "system" {
			t.Errorf("%d alert events", len(evs))
		}

		// A closed incident is not watched.
		if _, err := d.s.Advance(d.ctx, in.ID, kakunin.IncidentClosed, ""); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("closing without a window: %v", err)
		}
	})
}

func TestTheWatchAlertsWhenAnIdentifiedIncidentHasNoFreshPublicNotice(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		d := newDesk(t, dsn)
		r := record(d)
		r.Held = kakunin.IncidentHeld{Database: true} // not reportable: only the stale rule applies
		r.WindowFrom, r.WindowTo = d.now.Add(-48*time.Hour), d.now.Add(-2*time.Hour)
		in, err := d.s.Create(d.ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := d.s.Watch(d.ctx); err != nil || n != 0 {
			t.Fatalf("investigating without a notice: %d alerts (%v)", n, err)
		}
		if in, err = d.s.Advance(d.ctx, in.ID, kakunin.IncidentIdentified, ""); err != nil {
			t.Fatal(err)
		}
		if n, err := d.s.Watch(d.ctx); err != nil || n != 1 {
			t.Fatalf("identified without a notice: %d alerts (%v)", n, err)
		}

		// A published notice about it makes it fresh…
		n, err := d.notices.Create(d.ctx, publicnotice.Text{TitleJA: "お知らせ", TitleEN: "Notice", BodyJA: "本文", BodyEN: "Body", IncidentID: in.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.notices.Publish(d.ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		st, err := d.s.Public(d.ctx, in)
		if err != nil || st.Stale || st.Last == nil || !st.Last.Equal(d.now) {
			t.Fatalf("after publishing: %+v %v", st, err)
		}
		// …for 72 hours.
		d.now = d.now.Add(72*time.Hour + time.Minute)
		if n, err := d.s.Watch(d.ctx); err != nil || n != 1 {
			t.Fatalf("72 hours later: %d alerts (%v)", n, err)
		}
		jobs := alertJobs(t, d.db)
		last := jobs[len(jobs)-1].Alert
		if last.Kind != alert.KindIncidentNoticeStale || last.Role != kakunin.RoleResponder || last.Detail["last_public_update"] == "none" {
			t.Errorf("stale alert %+v", last)
		}
		// Unpublished, the notice no longer counts.
		if _, err := d.notices.Unpublish(d.ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		if st, _ := d.s.Public(d.ctx, in); st.Last != nil || !st.Stale {
			t.Errorf("after unpublishing: %+v", st)
		}
	})
}
