package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/inquiry"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// maxIncidentForm bounds an incident form: a summary of at most 10,000
// characters, each up to 4 bytes and percent-encoded, and a few fields.
const maxIncidentForm = 256 << 10

// canEditIncidents: responders change incidents; auditors only read them.
func canEditIncidents(r *http.Request) bool {
	st := staffFrom(r.Context())
	return st != nil && st.Role == kakunin.RoleResponder
}

func emptyIncidentForm() pages.IncidentForm {
	return pages.IncidentForm{MaxTitle: incident.MaxTitle, MaxSummary: incident.MaxSummary, MaxUpdate: incident.MaxUpdate, MaxItem: incident.MaxItem}
}

// incidentLocal writes t as a datetime-local value in JST ("" for zero).
func incidentLocal(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(kakunin.JST).Format(localLayout)
}

func incidentFormOf(in *kakunin.Incident) pages.IncidentForm {
	f := emptyIncidentForm()
	f.Title, f.Summary = in.Title, in.Summary
	f.DiscoveredAt, f.WindowFrom, f.WindowTo = incidentLocal(in.DiscoveredAt), incidentLocal(in.WindowFrom), incidentLocal(in.WindowTo)
	f.Database, f.Blobs, f.Keys, f.StaffAccount, f.Malicious = in.Held.Database, in.Held.Blobs, in.Held.Keys, in.Held.StaffAccount, in.Malicious
	return f
}

// incidentRecordForm reads the record form. ok is false when a time does
// not parse; the form comes back as typed either way.
func incidentRecordForm(r *http.Request, now time.Time) (incident.Record, pages.IncidentForm, bool) {
	f := emptyIncidentForm()
	f.Title, f.Summary = r.PostFormValue("title"), r.PostFormValue("summary")
	f.DiscoveredAt, f.WindowFrom, f.WindowTo = r.PostFormValue("discovered_at"), r.PostFormValue("window_from"), r.PostFormValue("window_to")
	on := func(name string) bool { return r.PostFormValue(name) == "1" }
	f.Database, f.Blobs, f.Keys, f.StaffAccount, f.Malicious = on("held_database"), on("held_blobs"), on("held_keys"), on("held_staff_account"), on("malicious")
	rec := incident.Record{Title: f.Title, Summary: f.Summary, Malicious: f.Malicious,
		Held: kakunin.IncidentHeld{Database: f.Database, Blobs: f.Blobs, Keys: f.Keys, StaffAccount: f.StaffAccount}}
	var e1, e2, e3 error
	rec.DiscoveredAt, e1 = parseLocal(f.DiscoveredAt)
	rec.WindowFrom, e2 = parseLocal(f.WindowFrom)
	rec.WindowTo, e3 = parseLocal(f.WindowTo)
	f.Errors = incidentFieldErrors(rec, f, e1, e2, e3, now)
	return rec, f, e1 == nil && e2 == nil && e3 == nil
}

// incidentFieldErrors says, field by field, what the record form got
// wrong, so each wrong field is marked with its own message and the right
// ones are not. The incident service still decides; this only points.
func incidentFieldErrors(rec incident.Record, f pages.IncidentForm, discovered, from, to error, now time.Time) map[string]string {
	errs := map[string]string{}
	if n := utf8.RuneCountInString(strings.TrimSpace(f.Title)); n == 0 || n > incident.MaxTitle {
		errs["title"] = "incident.field_error.title"
	}
	if utf8.RuneCountInString(f.Summary) > incident.MaxSummary {
		errs["summary"] = "incident.field_error.summary"
	}
	switch {
	case discovered != nil || rec.DiscoveredAt.IsZero():
		errs["discovered_at"] = "incident.field_error.discovered"
	case rec.DiscoveredAt.After(now.Add(10 * time.Minute)):
		errs["discovered_at"] = "incident.field_error.future"
	}
	switch {
	case from != nil:
		errs["window_from"] = "incident.field_error.time"
	case to != nil:
		errs["window_to"] = "incident.field_error.time"
	case rec.WindowFrom.IsZero() && !rec.WindowTo.IsZero():
		errs["window_from"] = "incident.field_error.window_both"
	case !rec.WindowFrom.IsZero() && rec.WindowTo.IsZero():
		errs["window_to"] = "incident.field_error.window_both"
	case !rec.WindowFrom.IsZero() && !rec.WindowFrom.Before(rec.WindowTo):
		errs["window_to"] = "incident.field_error.window_order"
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

func (s *Server) consoleIncidents(w http.ResponseWriter, r *http.Request) error {
	f := emptyIncidentForm()
	f.DiscoveredAt = incidentLocal(s.incidentNow())
	return s.renderIncidents(w, r, http.StatusOK, f, "")
}

func (s *Server) incidentNow() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Server) renderIncidents(w http.ResponseWriter, r *http.Request, status int, form pages.IncidentForm, errCode string) error {
	rows, err := s.Incidents.Desk(r.Context())
	if err != nil {
		return err
	}
	data := pages.ConsoleIncidents{Base: s.staffBase(w, r), CanEdit: canEditIncidents(r), Form: form, ErrorCode: errCode}
	for _, row := range rows {
		in := row.Incident
		data.Incidents = append(data.Incidents, pages.IncidentRow{ID: in.ID, Title: in.Title, Status: in.Status, DiscoveredAt: in.DiscoveredAt,
			Required: row.Required, Overdue: row.Overdue, NextDue: row.NextDue, LastPublic: row.Public.Last, Stale: row.Public.Stale})
	}
	s.render(w, r, status, "console_incidents", data)
	return nil
}

func (s *Server) createIncident(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxIncidentForm)
	rec, form, ok := incidentRecordForm(r, s.incidentNow())
	if !ok {
		return s.renderIncidents(w, r, http.StatusBadRequest, form, "invalid")
	}
	in, err := s.Incidents.Create(r.Context(), rec)
	if kakunin.ErrorCode(err) == kakunin.EINVALID {
		return s.renderIncidents(w, r, http.StatusBadRequest, form, "invalid")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/incidents/"+in.ID+"?done=created", http.StatusSeeOther)
	return nil
}

var incidentDone = map[string]string{
	"created": "notice.incident_created", "saved": "notice.incident_saved", "status": "notice.incident_status",
	"noted": "notice.incident_noted", "reported": "notice.incident_reported", "item": "notice.incident_item",
}

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderIncident(w, r, http.StatusOK, r.PathValue("id"), nil, "")
}

// renderIncident shows an incident; form, when not nil, is the edit form
// as typed (after an error).
func (s *Server) renderIncident(w http.ResponseWriter, r *http.Request, status int, id string, form *pages.IncidentForm, errCode string) error {
	v, err := s.Incidents.View(r.Context(), id)
	if err != nil {
		return err
	}
	in := v.Incident
	base := s.staffBase(w, r)
	lang := base.Lang
	data := pages.ConsoleIncident{Base: base, Record: incidentRecord(in), CanEdit: canEditIncidents(r), ErrorCode: errCode,
		Deadlines: s.deadlinesView(v.Assessment, lang), Scope: scopeView(v.Scope),
		LastPublic: v.Public.Last, Stale: v.Public.Stale, StaleReason: s.Pages.Localize(lang, v.Public.Reason),
		Now: incidentLocal(v.At), ReportURL: "/console/incidents/" + id + "/report", NextStatuses: v.NextStatuses,
		NotifyURL: "/console/incidents/" + id + "/notification", NewNoticeURL: "/console/notices?incident=" + url.QueryEscape(id)}
	if msg, ok := incidentDone[r.URL.Query().Get("done")]; ok && errCode == "" {
		data.Notice = msg
	}
	if form != nil {
		data.Form = *form
	} else {
		data.Form = incidentFormOf(in)
	}
	for _, u := range v.Timeline {
		data.Timeline = append(data.Timeline, pages.TimelineRow{At: u.At, Actor: u.Actor, Status: u.Status, Text: s.timelineText(lang, u)})
	}
	for _, it := range v.Items {
		data.Items = append(data.Items, pages.CertifierRow{ID: it.ID, Text: it.Text, DueAt: it.DueAt, DoneAt: it.DoneAt, Overdue: it.Overdue})
	}
	for _, n := range v.Notices {
		data.Notices = append(data.Notices, pages.IncidentNoticeRow{ID: n.ID, TitleJA: n.TitleJA, TitleEN: n.TitleEN,
			PublishedAt: n.PublishedAt, UpdatedAt: n.UpdatedAt})
	}
	if s.Desk != nil {
		drawn, overdue, err := s.Desk.DB.InquiryCounts(r.Context(), inquiry.CategoryIncident, in.DiscoveredAt, s.incidentNow())
		if err != nil {
			return err
		}
		data.Inquiries = &pages.IncidentInquiries{Drawn: drawn, Overdue: overdue}
	}
	s.render(w, r, status, "console_incident", data)
	return nil
}

// timelineText is an entry in the reader's language: the desk's own in
// lang, a person's as typed.
func (s *Server) timelineText(lang kakunin.Locale, u kakunin.IncidentUpdate) string {
	if m, ok := incident.UpdateMessage(u); ok {
		return s.Pages.Localize(lang, m)
	}
	return u.Text
}

func incidentRecord(in *kakunin.Incident) pages.IncidentRecord {
	rec := pages.IncidentRecord{ID: in.ID, Title: in.Title, Summary: in.Summary, Status: in.Status, DiscoveredAt: in.DiscoveredAt,
		Held: in.Held, Malicious: in.Malicious, PreliminaryAt: in.PreliminaryReportedAt, FinalAt: in.FinalReportedAt,
		IndividualsAt: in.IndividualsNotifiedAt, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt}
	if !in.WindowFrom.IsZero() {
		from, to := in.WindowFrom, in.WindowTo
		rec.WindowFrom, rec.WindowTo = &from, &to
	}
	return rec
}

func (s *Server) deadlinesView(a incident.Assessment, lang kakunin.Locale) pages.Deadlines {
	d := pages.Deadlines{Required: a.Required, Verdict: s.Pages.Localize(lang, a.Verdict), Overdue: len(a.Overdue())}
	for _, r := range a.Reasons {
		d.Reasons = append(d.Reasons, s.Pages.Localize(lang, r))
	}
	for _, o := range a.Obligations {
		d.Obligations = append(d.Obligations, pages.ObligationRow{Key: o.Key, Kind: o.Kind, Text: o.Text, DueAt: o.DueAt,
			DoneAt: o.DoneAt, Status: string(o.Status), Reason: s.Pages.Localize(lang, o.Reason)})
	}
	return d
}

func scopeView(rep *incident.Report) *pages.IncidentScope {
	if rep == nil {
		return nil
	}
	q := url.Values{"from": {incidentLocal(rep.Query.From)}, "to": {incidentLocal(rep.Query.To)}}
	if rep.Query.KeysExposed {
		q.Set("keys_exposed", "1")
	}
	sc := &pages.IncidentScope{People: rep.Members.Total, PeopleReadable: rep.ReadableMembers.Total, Documents: rep.Documents.Existing,
		Readable: rep.Documents.Readable, StaffReads: rep.ReadsTotal, URL: "/console/incident/scope?" + q.Encode()}
	for _, t := range rep.Documents.ByType {
		sc.ByType = append(sc.ByType, pages.ScopeType{Type: t.Type, Existed: t.Existing, Readable: t.Readable})
	}
	return sc
}

func (s *Server) updateIncident(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxIncidentForm)
	id := r.PathValue("id")
	rec, form, ok := incidentRecordForm(r, s.incidentNow())
	if ok {
		_, err := s.Incidents.Update(r.Context(), id, rec)
		if err == nil {
			http.Redirect(w, r, "/console/incidents/"+id+"?done=saved", http.StatusSeeOther)
			return nil
		}
		if kakunin.ErrorCode(err) != kakunin.EINVALID {
			return err
		}
	}
	return s.renderIncident(w, r, http.StatusBadRequest, id, &form, "invalid")
}

func (s *Server) advanceIncident(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	id := r.PathValue("id")
	to := kakunin.IncidentStatus(r.PostFormValue("status"))
	if !slices.Contains(kakunin.IncidentStatuses, to) {
		return s.renderIncident(w, r, http.StatusBadRequest, id, nil, "invalid")
	}
	_, err := s.Incidents.Advance(r.Context(), id, to, r.PostFormValue("text"))
	switch kakunin.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/console/incidents/"+id+"?done=status", http.StatusSeeOther)
		return nil
	case kakunin.EINVALID:
		return s.renderIncident(w, r, http.StatusBadRequest, id, nil, "invalid")
	case kakunin.ECONFLICT:
		code := "status_order"
		if in, gerr := s.Incidents.Get(r.Context(), id); gerr == nil && to.Rank() > in.Status.Rank() {
			code = "window_required"
		}
		return s.renderIncident(w, r, http.StatusConflict, id, nil, code)
	}
	return err
}

func (s *Server) noteIncident(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	id := r.PathValue("id")
	_, err := s.Incidents.Note(r.Context(), id, r.PostFormValue("text"))
	return s.afterIncidentChange(w, r, id, "noted", err)
}

// afterIncidentChange redirects to the incident after a change, or shows
// it again with the error.
func (s *Server) afterIncidentChange(w http.ResponseWriter, r *http.Request, id, done string, err error) error {
	switch kakunin.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/console/incidents/"+id+"?done="+done, http.StatusSeeOther)
		return nil
	case kakunin.EINVALID:
		return s.renderIncident(w, r, http.StatusBadRequest, id, nil, "invalid")
	case kakunin.ECONFLICT:
		return s.renderIncident(w, r, http.StatusConflict, id, nil, "done_already")
	}
	return err
}

func (s *Server) reportedIncident(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	id := r.PathValue("id")
	m := incident.Milestone(r.PostFormValue("milestone"))
	at, err := parseLocal(r.PostFormValue("at"))
	if err != nil || at.IsZero() || !slices.Contains([]incident.Milestone{incident.MilestonePreliminary, incident.MilestoneFinal, incident.MilestoneIndividuals}, m) {
		return s.renderIncident(w, r, http.StatusBadRequest, id, nil, "invalid")
	}
	_, err = s.Incidents.RecordDone(r.Context(), id, m, at)
	return s.afterIncidentChange(w, r, id, "reported", err)
}

func (s *Server) addCertifierItem(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	id := r.PathValue("id")
	// A due date is a day: the item is due by the end of it, in Japan.
	due, err := time.ParseInLocation("2006-01-02", r.PostFormValue("due"), kakunin.JST)
	if err != nil {
		return s.renderIncident(w, r, http.StatusBadRequest, id, nil, "invalid")
	}
	_, err = s.Incidents.AddCertifierItem(r.Context(), id, r.PostFormValue("text"), due.Add(24*time.Hour-time.Second))
	return s.afterIncidentChange(w, r, id, "item", err)
}

func (s *Server) certifierItemDone(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := s.Incidents.CertifierItemDone(r.Context(), id, r.PathValue("item"))
	if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		if _, gerr := s.Incidents.Get(r.Context(), id); gerr == nil {
			return s.renderIncident(w, r, http.StatusNotFound, id, nil, "not_found")
		}
	}
	return s.afterIncidentChange(w, r, id, "item", err)
}

// incidentReport is the printable draft of the report to the PPC, in the
// language asked for (?lang=ja|en). Asking for the draft in a language
// writes that draft only: the console stays in the reader's own language
// (no cookie is set here), so opening the English draft to send abroad
// does not turn every later page English.
func (s *Server) incidentReport(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	d, err := s.Incidents.Draft(ctx, id)
	if err != nil {
		return err
	}
	lang, ok := kakunin.ParseLocale(r.URL.Query().Get("lang"))
	if !ok {
		lang = s.pageLang(w, r, "")
	}
	base := s.base(r, lang)
	if st := staffFrom(ctx); st != nil {
		base.Staff, base.MailOff = nav(st), s.MailOff
	}
	data := pages.IncidentReport{Base: base, Record: incidentRecord(d.Incident), Deadlines: s.deadlinesView(d.Assessment, lang),
		Scope: scopeView(d.Scope), Cause: s.Pages.Localize(lang, d.Cause), ComputedAt: d.ComputedAt, PageURL: "/console/incidents/" + id}
	for _, h := range d.Held {
		data.Held = append(data.Held, s.Pages.Localize(lang, h))
	}
	for _, n := range d.Published {
		title := n.TitleJA
		if lang == kakunin.LocaleEN {
			title = n.TitleEN
		}
		data.Published = append(data.Published, pages.PublishedRow{ID: n.ID, Title: title, PublishedAt: *n.PublishedAt, UpdatedAt: n.UpdatedAt})
	}
	for _, u := range d.Timeline {
		data.Timeline = append(data.Timeline, pages.TimelineRow{At: u.At, Actor: u.Actor, Status: u.Status, Text: s.timelineText(lang, u)})
	}
	s.render(w, r, http.StatusOK, "incident_report", data)
	return nil
}
