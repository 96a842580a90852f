package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func init() {
	addAuthz(map[string]string{
		"GET /console/incidents":                             "responder,auditor",
		"POST /console/incidents":                            "responder",
		"GET /console/incidents/{id}":                        "responder,auditor",
		"POST /console/incidents/{id}":                       "responder",
		"POST /console/incidents/{id}/status":                "responder",
		"POST /console/incidents/{id}/updates":               "responder",
		"POST /console/incidents/{id}/reported":              "responder",
		"POST /console/incidents/{id}/certifier":             "responder",
		"POST /console/incidents/{id}/certifier/{item}/done": "responder",
		"GET /console/incidents/{id}/report":                 "responder,auditor",
		"POST /console/notices/{id}/unpublish":               "responder",
		"POST /console/notices/{id}/delete":                  "responder",
	})
}

// newTestIncidents is the test console's incident desk, on its clock.
func newTestIncidents(c *testConsole) *incident.Service {
	return &incident.Service{DB: c.env.DB, Audit: c.env.Audit, Queue: c.env.Jobs, Now: func() time.Time { return c.now }}
}

// openIncident creates an incident through the console and returns its ID.
func (c *testConsole) openIncident(token string, form url.Values) string {
	c.t.Helper()
	rec := c.post(token, "/console/incidents", form.Encode())
	loc := rec.Header().Get("Location")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/incidents/inc_") {
		c.t.Fatalf("open incident: %d %s\n%s", rec.Code, loc, rec.Body.String())
	}
	path, _, _ := strings.Cut(loc, "?")
	return strings.TrimPrefix(path, "/console/incidents/")
}

func TestRespondersRunAnIncidentFromTheConsole(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		resp := c.signIn(kakunin.RoleResponder)

		status, page := c.get(resp.token, "/console")
		if status != http.StatusOK || strings.Index(page, `href="/console/incidents"`) < 0 ||
			strings.Index(page, `href="/console/incidents"`) > strings.Index(page, `href="/console/notices"`) {
			t.Fatalf("the responder's start page does not lead with incidents: %d", status)
		}
		if status, page := c.get(resp.token, "/console/incidents?lang=en"); status != http.StatusOK || !strings.Contains(page, "There are no incidents.") {
			t.Fatalf("empty list: %d", status)
		}

		// Bad input: a clear 400, nothing stored.
		bad := url.Values{"title": {"Bucket listed"}, "discovered_at": {"yesterday"}}
		if rec := c.post(resp.token, "/console/incidents", bad.Encode()); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Bucket listed") {
			t.Fatalf("bad discovery time: %d", rec.Code)
		}
		bad = url.Values{"title": {"Bucket listed"}, "discovered_at": {"2026-11-24T17:00"}, "window_from": {"2026-11-20T00:00"}}
		if rec := c.post(resp.token, "/console/incidents", bad.Encode()); rec.Code != http.StatusBadRequest {
			t.Fatalf("half a window: %d", rec.Code)
		}
		if all, _ := c.srv.Incidents.List(t.Context()); len(all) != 0 {
			t.Fatalf("refused forms stored %d incidents", len(all))
		}

		// The clock starts 24 Nov 2026 18:00 JST; discovered an hour before.
		id := c.openIncident(resp.token, url.Values{"title": {"Bucket listed"}, "summary": {"Found by a researcher."},
			"discovered_at": {"2026-11-24T17:00"}, "held_database": {"1"}, "held_blobs": {"1"}, "held_keys": {"1"}, "malicious": {"1"}})
		status, page = c.get(resp.token, "/console/incidents/"+id+"?lang=en")
		if status != http.StatusOK {
			t.Fatalf("incident page: %d", status)
		}
		for _, want := range []string{"Bucket listed", "A report to the PPC and notification of the people affected are required",
			"Preliminary report to the PPC", "within 60 days", "29 Nov 2026, 17:00 JST", // discovered + 5 days
			`href="/console/incidents/` + id + `/notification"`, `href="/console/incidents/` + id + `/report?lang=ja"`,
			`href="/console/notices?incident=` + id + `"`, "The scope is counted once the window is recorded.",
			`action="/console/incidents/` + id + `/status"`} {
			if !strings.Contains(page, want) {
				t.Errorf("incident page lacks %q", want)
			}
		}

		// Identified needs the window: refused with a clear message.
		rec := c.post(resp.token, "/console/incidents/"+id+"/status", url.Values{"status": {"identified"}}.Encode())
		if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "window") {
			t.Fatalf("identified without a window: %d", rec.Code)
		}
		edit := url.Values{"title": {"Bucket listed"}, "summary": {"Found by a researcher."}, "discovered_at": {"2026-11-24T17:00"},
			"window_from": {"2026-11-20T00:00"}, "window_to": {"2026-11-24T12:00"}, "held_database": {"1"}, "held_blobs": {"1"},
			"held_keys": {"1"}, "malicious": {"1"}}
		if rec := c.post(resp.token, "/console/incidents/"+id, edit.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("edit: %d %s", rec.Code, rec.Body.String())
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/status", url.Values{"status": {"identified"}, "text": {"Window from the logs."}}.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("identified: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/status", url.Values{"status": {"investigating"}}.Encode()); rec.Code != http.StatusConflict {
			t.Fatalf("backwards: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/status", url.Values{"status": {"nonsense"}}.Encode()); rec.Code != http.StatusBadRequest {
			t.Fatalf("unknown status: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/updates", url.Values{"text": {"Called the certifier."}}.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("note: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/reported", url.Values{"milestone": {"preliminary"}, "at": {"2026-11-24T18:00"}}.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("reported: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/reported", url.Values{"milestone": {"preliminary"}, "at": {""}}.Encode()); rec.Code != http.StatusBadRequest {
			t.Fatalf("reported without a date: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/certifier", url.Values{"text": {"Publish an erasure policy"}, "due": {"2026-11-30"}}.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("certifier item: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/certifier", url.Values{"text": {"x"}, "due": {"soon"}}.Encode()); rec.Code != http.StatusBadRequest {
			t.Fatalf("certifier item without a date: %d", rec.Code)
		}
		items, _ := c.srv.Incidents.CertifierItems(t.Context(), id)
		if len(items) != 1 {
			t.Fatalf("%d items", len(items))
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/certifier/"+items[0].ID+"/done", ""); rec.Code != http.StatusSeeOther {
			t.Fatalf("item done: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/incidents/"+id+"/certifier/"+items[0].ID+"/done", ""); rec.Code != http.StatusConflict {
			t.Fatalf("item done twice: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/incidents/inc_nope/updates", url.Values{"text": {"x"}}.Encode()); rec.Code != http.StatusNotFound {
			t.Fatalf("unknown incident: %d", rec.Code)
		}

		// Eight days on, the notification of individuals is overdue and flagged.
		c.now = c.now.Add(8 * 24 * time.Hour)
		resp = c.signIn(kakunin.RoleResponder) // the session has long ended
		status, page = c.get(resp.token, "/console/incidents/"+id+"?lang=en")
		for _, want := range []string{"Window from the logs.", "Called the certifier.", "Publish an erasure policy", `class="row--overdue"`,
			"Public update overdue", "/console/incident/scope?from=2026-11-20T00%3A00", "Identified"} {
			if !strings.Contains(page, want) {
				t.Errorf("incident page (day 8) lacks %q", want)
			}
		}
		if _, page := c.get(resp.token, "/console/incidents?lang=en"); !strings.Contains(page, "1 overdue") || !strings.Contains(page, "Public update overdue") {
			t.Errorf("the list does not flag the overdue item and the stale notice")
		}

		// The report draft for the PPC is in one language throughout: the
		// desk's own timeline entries too, the responders' notes as typed.
		_, ja := c.get(resp.token, "/console/incidents/"+id+"/report?lang=ja")
		for _, want := range []string{"インシデントを登録しました。", "2026年11月24日 18:00に個人情報保護委員会へ速報を提出しました。", "Called the certifier.",
			"個人情報保護委員会への報告と本人への通知が必要です", "データベース（暗号化された項目と、暗号化されたデータ鍵）"} {
			if !strings.Contains(ja, want) {
				t.Errorf("the Japanese report draft lacks %q", want)
			}
		}
		for _, english := range []string{"Incident opened", "report to the PPC made", "A report to the PPC", "The database (sealed"} {
			if strings.Contains(ja, english) {
				t.Errorf("the Japanese report draft holds English %q", english)
			}
		}
		_, en := c.get(resp.token, "/console/incidents/"+id+"/report?lang=en")
		for _, want := range []string{"Incident opened.", "Preliminary report to the PPC made on 2026-11-24 18:00 JST.", "Called the certifier."} {
			if !strings.Contains(en, want) {
				t.Errorf("the English report draft lacks %q", want)
			}
		}

		for action, n := range map[string]int{audit.IncidentCreated: 1, audit.IncidentUpdated: 1, audit.IncidentStatusChanged: 1,
			audit.IncidentNoted: 1, audit.IncidentReported: 1, audit.CertifierItemAdded: 1, audit.CertifierItemDone: 1} {
			evs, err := c.env.Audit.List(t.Context(), audit.Filter{Action: action})
			if err != nil || len(evs) != n || !strings.HasPrefix(evs[0].Actor, "staff:") || evs[0].Subject != id {
				t.Errorf("%s: %d events (%v)", action, len(evs), err)
			}
		}
	})
}

func TestAuditorsReadIncidentsAndTheReportButChangeNothing(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		resp, aud := c.signIn(kakunin.RoleResponder), c.signIn(kakunin.RoleAuditor)
		id := c.openIncident(resp.token, url.Values{"title": {"Bucket listed"}, "discovered_at": {"2026-11-24T17:00"},
			"window_from": {"2026-11-20T00:00"}, "window_to": {"2026-11-24T12:00"}, "held_database": {"1"}, "held_blobs": {"1"}})

		status, page := c.get(aud.token, "/console/incidents/"+id+"?lang=en")
		if status != http.StatusOK || !strings.Contains(page, "Report probably not required") || !strings.Contains(page, "3-5-3-1") {
			t.Fatalf("auditor's incident page: %d", status)
		}
		if strings.Contains(page, `method="post" action="/console/incidents`) {
			t.Error("the auditor is offered a form that changes the incident")
		}
		if status, page := c.get(aud.token, "/console/incidents"); status != http.StatusOK || !strings.Contains(page, id) {
			t.Fatalf("auditor's list: %d", status)
		}
		for _, tc := range []struct {
			lang     string
			headings []string
		}{
			{"ja", []string{"概要", "漏えい等が発生し、又は発生したおそれがある個人データの項目", "本人の数", "原因", "二次被害又はそのおそれの有無及びその内容",
				"本人への対応の実施状況", "公表の実施状況", "再発防止のための措置", "その他参考となる事項"}},
			{"en", []string{"Overview", "Items of personal data", "Number of people", "Cause", "Secondary damage",
				"Actions for the people affected", "Publication", "Measures to prevent a recurrence", "Other matters of note"}},
		} {
			rec := c.do(aud.token, http.MethodGet, "/console/incidents/"+id+"/report?lang="+tc.lang, nil)
			if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store, private" {
				t.Fatalf("report %s: %d %q", tc.lang, rec.Code, rec.Header().Get("Cache-Control"))
			}
			for _, h := range tc.headings {
				if !strings.Contains(rec.Body.String(), "<h2") || !strings.Contains(rec.Body.String(), h) {
					t.Errorf("%s report lacks %q", tc.lang, h)
				}
			}
		}
		// Every change is forbidden to the auditor.
		for _, path := range []string{"/console/incidents", "/console/incidents/" + id, "/console/incidents/" + id + "/status",
			"/console/incidents/" + id + "/updates", "/console/incidents/" + id + "/reported", "/console/incidents/" + id + "/certifier"} {
			if rec := c.post(aud.token, path, url.Values{"status": {"identified"}, "text": {"x"}}.Encode()); rec.Code != http.StatusForbidden {
				t.Errorf("POST %s as auditor: %d", path, rec.Code)
			}
		}
		if got, _ := c.srv.Incidents.Get(t.Context(), id); got.Status != kakunin.IncidentInvestigating {
			t.Errorf("the auditor changed the status to %s", got.Status)
		}
	})
}

func TestNoticesAboutAnIncidentCanBeUnpublishedAndDraftsDeleted(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		resp := c.signIn(kakunin.RoleResponder)
		id := c.openIncident(resp.token, url.Values{"title": {"Bucket listed"}, "discovered_at": {"2026-11-24T17:00"}})

		// "Write a notice for this incident" preselects it.
		if _, page := c.get(resp.token, "/console/notices?incident="+id); !strings.Contains(page, `<option value="`+id+`" selected>`) {
			t.Fatal("the incident is not preselected")
		}
		form := url.Values{"title_ja": {"お知らせ"}, "title_en": {"Notice"}, "body_ja": {"本文"}, "body_en": {"Body"}, "incident_id": {"inc_nope"}}
		if rec := c.post(resp.token, "/console/notices", form.Encode()); rec.Code != http.StatusBadRequest {
			t.Fatalf("unknown incident: %d", rec.Code)
		}
		form.Set("incident_id", id)
		rec := c.post(resp.token, "/console/notices", form.Encode())
		loc, _, _ := strings.Cut(rec.Header().Get("Location"), "?")
		nid := strings.TrimPrefix(loc, "/console/notices/")
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(nid, "ntc_") {
			t.Fatalf("create: %d", rec.Code)
		}
		if rec := c.post(resp.token, "/console/notices/"+nid+"/publish", ""); rec.Code != http.StatusSeeOther {
			t.Fatalf("publish: %d", rec.Code)
		}
		_, page := c.get(resp.token, "/console/incidents/"+id+"?lang=en")
		if !strings.Contains(page, `href="/console/notices/`+nid+`"`) || !strings.Contains(page, "24 Nov 2026, 18:00 JST") {
			t.Error("the incident page does not show its notice and last public update")
		}

		// A published notice is not deleted: 409, and it stays public.
		if rec := c.post(resp.token, "/console/notices/"+nid+"/delete", ""); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "role=\"alert\"") {
			t.Fatalf("delete a published notice: %d", rec.Code)
		}
		if rec := c.do("", http.MethodGet, "/notices/"+nid, nil); rec.Code != http.StatusOK {
			t.Fatalf("the refused delete unpublished it: %d", rec.Code)
		}

		if rec := c.post(resp.token, "/console/notices/"+nid+"/unpublish", ""); rec.Code != http.StatusSeeOther {
			t.Fatalf("unpublish: %d", rec.Code)
		}
		// Gone from the public pages exactly like an unknown ID.
		gone := c.do("", http.MethodGet, "/notices/"+nid, nil)
		unknown := c.do("", http.MethodGet, "/notices/ntc_nope", nil)
		if gone.Code != http.StatusNotFound || strings.ReplaceAll(gone.Body.String(), nid, "ntc_nope") != unknown.Body.String() {
			t.Fatalf("unpublished %d differs from unknown %d", gone.Code, unknown.Code)
		}
		if f := c.feed("en"); len(f.Entries) != 0 {
			t.Fatal("the feed still lists the unpublished notice")
		}
		if _, page := c.get("", "/notices?lang=en"); strings.Contains(page, nid) {
			t.Fatal("the public list still shows the unpublished notice")
		}

		if rec := c.post(resp.token, "/console/notices/"+nid+"/delete", ""); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/notices?done=deleted" {
			t.Fatalf("delete the draft: %d %s", rec.Code, rec.Header().Get("Location"))
		}
		if status, _ := c.get(resp.token, "/console/notices/"+nid); status != http.StatusNotFound {
			t.Fatalf("the deleted draft answers %d", status)
		}
		for _, action := range []string{audit.NoticeUnpublished, audit.NoticeDeleted} {
			evs, err := c.env.Audit.List(t.Context(), audit.Filter{Action: action})
			if err != nil || len(evs) != 1 || evs[0].Subject != nid {
				t.Errorf("%s: %d events (%v)", action, len(evs), err)
			}
		}
	})
}

func TestThePublicHomePageLinksToTheNotices(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		if status, page := c.get("", "/"); status != http.StatusOK || !strings.Contains(page, `href="/notices"`) {
			t.Fatalf("home: %d, no link to /notices", status)
		}
	})
}
