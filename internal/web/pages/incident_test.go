package pages

import (
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
)

func init() { moreRepresentativePages = append(moreRepresentativePages, incidentPages) }

// incidentPages adds the incident desk's pages, empty and filled, as a
// responder (who may change things) and as an auditor (who only reads),
// and the notice pages' new states. Sample text is ASCII so an English
// page holds no Japanese by accident.
func incidentPages(add func(string, func(Base) any)) {
	form := IncidentForm{Title: "Bucket listed", Summary: "Found by a researcher.", DiscoveredAt: "2026-11-24T18:00",
		MaxTitle: 200, MaxSummary: 10000, MaxUpdate: 4000, MaxItem: 1000}
	for _, code := range []string{"", "invalid"} {
		add("console_incidents", func(b Base) any {
			return ConsoleIncidents{Base: staffAs(b, kakunin.RoleResponder), CanEdit: true, Form: form, ErrorCode: code}
		})
	}
	// Every field wrong at once: each marked with its own message.
	wrong := form
	wrong.Errors = map[string]string{"title": "incident.field_error.title", "summary": "incident.field_error.summary",
		"discovered_at": "incident.field_error.future", "window_from": "incident.field_error.time", "window_to": "incident.field_error.window_order"}
	add("console_incidents", func(b Base) any {
		return ConsoleIncidents{Base: staffAs(b, kakunin.RoleResponder), CanEdit: true, Form: wrong, ErrorCode: "invalid"}
	})
	for _, id := range []string{"incident.field_error.discovered", "incident.field_error.window_both"} {
		one := form
		one.Errors = map[string]string{"discovered_at": id}
		add("console_incidents", func(b Base) any {
			return ConsoleIncidents{Base: staffAs(b, kakunin.RoleResponder), CanEdit: true, Form: one, ErrorCode: "invalid"}
		})
	}
	due := received.Add(72 * time.Hour)
	rows := []IncidentRow{
		{ID: "inc_1", Title: "Bucket listed", Status: kakunin.IncidentInvestigating, DiscoveredAt: received, Required: true, Overdue: 2, Stale: true},
		{ID: "inc_2", Title: "Laptop lost", Status: kakunin.IncidentNotifying, DiscoveredAt: received, Required: true, NextDue: &due, LastPublic: &received},
		{ID: "inc_3", Title: "Backup copied", Status: kakunin.IncidentClosed, DiscoveredAt: received},
		{ID: "inc_4", Title: "All done", Status: kakunin.IncidentMonitoring, DiscoveredAt: received, Required: true},
	}
	for _, role := range []kakunin.Role{kakunin.RoleResponder, kakunin.RoleAuditor} {
		add("console_incidents", func(b Base) any {
			return ConsoleIncidents{Base: staffAs(b, role), CanEdit: role == kakunin.RoleResponder, Form: form, Incidents: rows}
		})
	}

	from, to, done := received.Add(-48*time.Hour), received.Add(-time.Hour), received.Add(time.Hour)
	record := IncidentRecord{ID: "inc_1", Title: "Bucket listed", Summary: "Line one.\nLine two.", Status: kakunin.IncidentIdentified,
		DiscoveredAt: received, WindowFrom: &from, WindowTo: &to, Held: kakunin.IncidentHeld{Database: true, Blobs: true, Keys: true, StaffAccount: true},
		Malicious: true, PreliminaryAt: &done, IndividualsAt: &done, CreatedAt: received, UpdatedAt: received}
	deadlines := Deadlines{Required: true, Verdict: "A report is required", Reasons: []string{"Reason one.", "Reason two."}, Overdue: 1,
		Obligations: []ObligationRow{
			{Key: "ppc_preliminary", Kind: "ppc_preliminary", DueAt: due, DoneAt: &done, Status: "done", Reason: "Promptly."},
			{Key: "ppc_final", Kind: "ppc_final", DueAt: due, Status: "due", Reason: "60 days."},
			{Key: "individuals", Kind: "individuals", DueAt: due, Status: "overdue", Reason: "Promptly."},
			{Key: "certifier:cit_1", Kind: "certifier", Text: "Publish a policy", DueAt: due, Status: "not_required", Reason: "Set by the certifier."},
		}}
	scope := &IncidentScope{People: 1710, PeopleReadable: 1200, Documents: 2000, Readable: 1500, StaffReads: 3, URL: "/console/incident/scope?from=x",
		ByType: []ScopeType{{Type: kakunin.DocPassport, Existed: 2000, Readable: 1500}}}
	items := []CertifierRow{{ID: "cit_1", Text: "Publish a policy", DueAt: due, Overdue: true}, {ID: "cit_2", Text: "Train staff", DueAt: due},
		{ID: "cit_3", Text: "Audit", DueAt: due, DoneAt: &done}}
	notices := []IncidentNoticeRow{{ID: "ntc_1", TitleJA: "Title ja", TitleEN: "Title en", PublishedAt: &received, UpdatedAt: received},
		{ID: "ntc_2", TitleJA: "Draft ja", TitleEN: "Draft en", UpdatedAt: received}}
	timeline := []TimelineRow{{At: received, Actor: "staff:stf_1", Status: kakunin.IncidentIdentified, Text: "Window known."},
		{At: received, Actor: "staff:stf_1", Status: kakunin.IncidentInvestigating, Text: "Incident opened."}}
	for _, code := range []string{"", "invalid", "window_required", "status_order", "done_already", "not_found"} {
		for _, notice := range []string{"", "notice.incident_created", "notice.incident_saved", "notice.incident_status",
			"notice.incident_noted", "notice.incident_reported", "notice.incident_item"} {
			add("console_incident", func(b Base) any {
				b = staffAs(b, kakunin.RoleResponder)
				b.Notice = notice
				return ConsoleIncident{Base: b, Record: record, CanEdit: true, ErrorCode: code, Form: form, Deadlines: deadlines, Scope: scope,
					NextStatuses: []kakunin.IncidentStatus{kakunin.IncidentNotifying, kakunin.IncidentMonitoring, kakunin.IncidentClosed},
					LastPublic:   &received, Stale: true, StaleReason: "No public update for 72 hours.", Notices: notices, Timeline: timeline,
					Items: items, Now: "2026-11-25T14:05", NotifyURL: "/console/incidents/inc_1/notification",
					ReportURL: "/console/incidents/inc_1/report", NewNoticeURL: "/console/notices?incident=inc_1"}
			})
		}
	}
	bare := IncidentRecord{ID: "inc_2", Title: "Unknown yet", Status: kakunin.IncidentInvestigating, DiscoveredAt: received}
	for _, role := range []kakunin.Role{kakunin.RoleResponder, kakunin.RoleAuditor} {
		add("console_incident", func(b Base) any {
			return ConsoleIncident{Base: staffAs(b, role), Record: bare, CanEdit: role == kakunin.RoleResponder, Form: form,
				Deadlines:    Deadlines{Verdict: "Probably not required", Reasons: []string{"Encrypted."}},
				NextStatuses: []kakunin.IncidentStatus{kakunin.IncidentIdentified}, StaleReason: "Still investigating.",
				ReportURL: "/console/incidents/inc_2/report", NotifyURL: "/console/incidents/inc_2/notification", NewNoticeURL: "/console/notices?incident=inc_2"}
		})
	}
	closed := record
	closed.Status = kakunin.IncidentClosed
	add("console_incident", func(b Base) any {
		return ConsoleIncident{Base: staffAs(b, kakunin.RoleResponder), Record: closed, CanEdit: true, Form: form, Deadlines: deadlines,
			ReportURL: "/console/incidents/inc_1/report", NotifyURL: "/console/incidents/inc_1/notification", NewNoticeURL: "/console/notices?incident=inc_1"}
	})

	add("incident_report", func(b Base) any {
		return IncidentReport{Base: staffAs(b, kakunin.RoleAuditor), Record: record, Deadlines: deadlines, Scope: scope, Cause: "Unauthorised access.",
			Held: []string{"The database", "The keys"}, Published: []PublishedRow{{ID: "ntc_1", Title: "Notice", PublishedAt: received, UpdatedAt: received}},
			Timeline: timeline, ComputedAt: received, PageURL: "/console/incidents/inc_1"}
	})
	add("incident_report", func(b Base) any {
		return IncidentReport{Base: staffAs(b, kakunin.RoleResponder), Record: bare, Deadlines: Deadlines{Verdict: "Treated as reportable"},
			Cause: "An accident.", Held: []string{"Not recorded yet"}, ComputedAt: received, PageURL: "/console/incidents/inc_2"}
	})

	// The notice pages with an incident to choose, and their new states.
	choices := []IncidentChoice{{ID: "inc_1", Title: "Bucket listed"}, {ID: "inc_2", Title: "Laptop lost"}}
	nform := NoticeForm{TitleJA: "Title ja", TitleEN: "Title en", BodyJA: "Body ja", BodyEN: "Body en", MaxTitle: 200, MaxBody: 20000,
		IncidentID: "inc_2", Incidents: choices}
	view := func(lang kakunin.Locale) NoticeView {
		return NoticeView{ID: "ntc_1", Lang: lang, Title: "Title", Paragraphs: [][]string{{"Line."}}, PublishedAt: received, UpdatedAt: received, URL: "/notices/ntc_1"}
	}
	for _, code := range []string{"", "invalid", "incident"} {
		add("console_notices", func(b Base) any {
			b = staffAs(b, kakunin.RoleResponder)
			b.Notice = "notice.notice_deleted"
			return ConsoleNotices{Base: b, Form: nform, ErrorCode: code}
		})
	}
	for _, published := range []*time.Time{nil, &received} {
		for _, code := range []string{"", "published", "incident"} {
			add("console_notice_edit", func(b Base) any {
				b = staffAs(b, kakunin.RoleResponder)
				b.Notice = "notice.notice_unpublished"
				return ConsoleNoticeEdit{Base: b, ID: "ntc_1", Form: nform, PublishedAt: published, UpdatedAt: received,
					PreviewJA: view(kakunin.LocaleJA), PreviewEN: view(kakunin.LocaleEN), ErrorCode: code}
			})
		}
	}
}

func TestTheReportDraftHasEveryItemThePPCFormAsksFor(t *testing.T) {
	want := map[kakunin.Locale][]string{
		kakunin.LocaleJA: {"概要", "漏えい等が発生し、又は発生したおそれがある個人データの項目", "本人の数", "原因", "二次被害又はそのおそれの有無及びその内容",
			"本人への対応の実施状況", "公表の実施状況", "再発防止のための措置", "その他参考となる事項", "【要記入】"},
		kakunin.LocaleEN: {"Overview", "Items of personal data", "Number of people", "Cause", "Secondary damage", "Actions for the people affected",
			"Publication", "Measures to prevent a recurrence", "Other matters of note", "[To fill in]"},
	}
	for lang, headings := range want {
		body := renderOne(t, "incident_report", IncidentReport{Base: staffAs(Base{Lang: lang}, kakunin.RoleResponder),
			Record: IncidentRecord{ID: "inc_1", Title: "T", Status: kakunin.IncidentInvestigating, DiscoveredAt: received}, ComputedAt: received, PageURL: "/console/incidents/inc_1"})
		for _, h := range headings {
			if !strings.Contains(body, h) {
				t.Errorf("%s report lacks %q", lang, h)
			}
		}
	}
}

func TestAuditorsSeeNoFormsOnTheIncidentPages(t *testing.T) {
	b := staffAs(Base{Lang: kakunin.LocaleEN}, kakunin.RoleAuditor)
	for name, data := range map[string]any{
		"console_incidents": ConsoleIncidents{Base: b, Form: IncidentForm{MaxTitle: 200}},
		"console_incident": ConsoleIncident{Base: b, Record: IncidentRecord{ID: "inc_1", Title: "T", Status: kakunin.IncidentInvestigating, DiscoveredAt: received},
			NextStatuses: []kakunin.IncidentStatus{kakunin.IncidentIdentified}, Items: []CertifierRow{{ID: "cit_1", Text: "x", DueAt: received}},
			ReportURL: "/console/incidents/inc_1/report", NotifyURL: "/n", NewNoticeURL: "/w"},
	} {
		body := renderOne(t, name, data)
		if strings.Contains(body, `method="post" action="/console/incidents`) {
			t.Errorf("%s offers an auditor a form that changes the incident", name)
		}
	}
}
