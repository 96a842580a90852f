package web

import (
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/web/pages"
)

const localLayout = "2006-01-02T15:04"

// parseLocal reads a datetime-local value as a JST time; "" is the zero time.
func parseLocal(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.ParseInLocation(localLayout, v, kakunin.JST); err == nil {
		return t, nil
	}
	return time.ParseInLocation(localLayout+":05", v, kakunin.JST)
}

const auditPageSize = 50

// auditFilter reads the auditor's filter form.
func (s *Server) auditFilter(r *http.Request) (pages.AuditFilter, audit.Filter, bool) {
	q := r.URL.Query()
	pf := pages.AuditFilter{From: q.Get("from"), To: q.Get("to"), Action: q.Get("action"),
		Actor: strings.TrimSpace(q.Get("actor")), Subject: strings.TrimSpace(q.Get("subject")), IP: strings.TrimSpace(q.Get("ip"))}
	f := audit.Filter{Action: pf.Action, Actor: pf.Actor, Subject: pf.Subject, Limit: auditPageSize}
	var err1, err2 error
	f.From, err1 = parseLocal(pf.From)
	f.To, err2 = parseLocal(pf.To)
	ok := err1 == nil && err2 == nil && (pf.Action == "" || slices.Contains(audit.Actions, pf.Action)) &&
		len(pf.Actor) <= 200 && len(pf.Subject) <= 200 && len(pf.IP) <= 64
	if pf.IP != "" && s.OriginOf != nil {
		f.Origin = s.OriginOf(pf.IP)
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		ok = ok && err == nil && n > 0
		f.BeforeSeq = n
	}
	return pf, f, ok
}

// auditLog shows the auditor the newest events matching a filter.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) error {
	pf, f, ok := s.auditFilter(r)
	base := s.staffBase(w, r)
	data := pages.AuditLog{Base: base, Filter: pf}
	for _, a := range audit.Actions {
		data.Actions = append(data.Actions, pages.AuditAction{Code: a, Label: s.actionLabel(base.Lang, a)})
	}
	ctx := r.Context()
	sum, err := s.Audit.Summary(ctx)
	if err != nil {
		return err
	}
	data.TotalEvents = sum.Events
	if cp := sum.Checkpoint; cp != nil {
		at := cp.At
		data.CheckpointSize, data.CheckpointAt = cp.Size, &at
	}
	if !ok {
		data.ErrorCode = "invalid"
		s.render(w, r, http.StatusBadRequest, "audit_log", data)
		return nil
	}
	events, err := s.Audit.List(ctx, f)
	if err != nil {
		if kakunin.ErrorCode(err) == kakunin.EINVALID {
			data.ErrorCode = "invalid"
			s.render(w, r, http.StatusBadRequest, "audit_log", data)
			return nil
		}
		return err
	}
	for _, ev := range events {
		row := pages.AuditRow{Seq: ev.Seq, At: ev.At, Action: ev.Action, ActionLabel: s.actionLabel(base.Lang, ev.Action),
			Actor: ev.Actor, Subject: ev.Subject, Origin: ev.Origin}
		if len(ev.Hash) > 0 {
			row.Hash = hex.EncodeToString(ev.Hash)[:16]
		}
		for _, k := range slices.Sorted(maps.Keys(ev.Detail)) {
			row.Detail = append(row.Detail, pages.KV{Key: k, Value: ev.Detail[k]})
		}
		data.Events = append(data.Events, row)
	}
	q := r.URL.Query()
	if len(events) == auditPageSize {
		older := url.Values{}
		for k, v := range q {
			older[k] = v
		}
		older.Set("before", strconv.FormatInt(events[len(events)-1].Seq, 10))
		data.OlderURL = "/console/audit?" + older.Encode()
	}
	exp := url.Values{"from": {pf.From}, "to": {pf.To}}
	data.ExportURL = "/console/audit/export?" + exp.Encode()
	s.render(w, r, http.StatusOK, "audit_log", data)
	return nil
}

// actionLabel names an audit action in lang ("audit.action.<code>"); an
// action the catalogue does not name (one no longer written) has none, and
// the page shows its code alone.
func (s *Server) actionLabel(lang kakunin.Locale, action string) string {
	m := catalogue.M("audit.action." + action)
	if label := s.Pages.Localize(lang, m); label != m.ID {
		return label
	}
	return ""
}

// auditExport downloads the events of a period as JSON lines. The export
// is itself audited, before any event leaves.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	from, err1 := parseLocal(q.Get("from"))
	to, err2 := parseLocal(q.Get("to"))
	if to.IsZero() {
		to = s.Now().Add(time.Minute)
	}
	if err1 != nil || err2 != nil || !to.After(from) {
		return kakunin.Errorf(kakunin.EINVALID, "the period to export does not parse, or ends before it starts")
	}
	ctx := r.Context()
	err := s.Audit.Append(ctx, audit.Event{Action: audit.AuditExported, Actor: audit.ActorFrom(ctx), Subject: "audit",
		Origin: audit.OriginFrom(ctx), Detail: map[string]string{"from": from.UTC().Format(time.RFC3339), "to": to.UTC().Format(time.RFC3339), "via": "console"}})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="kakunin-audit-%s-%s.jsonl"`,
		from.UTC().Format("20060102T1504Z"), to.UTC().Format("20060102T1504Z")))
	if _, err := s.Audit.Export(ctx, from, to, w); err != nil {
		// Headers are gone; the log says why the download is short.
		s.logInternal(r, err)
	}
	return nil
}

// readsShown bounds the reads listed on the scope page; the JSON has all.
const readsShown = 200

// incidentScope answers "what was exposed between From and To" for a
// responder or auditor; with format=json, as a download. Every scope is
// audited.
func (s *Server) incidentScope(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	data := pages.Scope{Base: s.staffBase(w, r), From: q.Get("from"), To: q.Get("to"), KeysExposed: q.Get("keys_exposed") == "1"}
	if data.From == "" && data.To == "" {
		s.render(w, r, http.StatusOK, "scope", data)
		return nil
	}
	from, err1 := parseLocal(data.From)
	to, err2 := parseLocal(data.To)
	if err1 != nil || err2 != nil || from.IsZero() || to.IsZero() {
		data.ErrorCode = "invalid"
		s.render(w, r, http.StatusBadRequest, "scope", data)
		return nil
	}
	if !from.Before(to) {
		data.ErrorCode = "range"
		s.render(w, r, http.StatusBadRequest, "scope", data)
		return nil
	}
	ctx := r.Context()
	asJSON := q.Get("format") == "json"
	iq := incident.Query{From: from, To: to, KeysExposed: data.KeysExposed}
	if !asJSON {
		iq.MaxReads = 1 // the page lists the newest reads itself, below
	}
	newest := readsShown
	if asJSON {
		newest = 0 // the download has every read in the report
	}
	rep, reads, err := s.Incidents.ScopeRecorded(ctx, iq, "console", newest)
	if err != nil {
		return err
	}
	if asJSON {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="kakunin-scope-%s-%s.json"`,
			from.UTC().Format("20060102T1504Z"), to.UTC().Format("20060102T1504Z")))
		writeJSON(w, http.StatusOK, rep)
		return nil
	}
	data.Report = scopePage(rep, reads)
	jq := url.Values{"from": {data.From}, "to": {data.To}, "format": {"json"}}
	if data.KeysExposed {
		jq.Set("keys_exposed", "1")
	}
	data.Report.JSONURL = "/console/incident/scope?" + jq.Encode()
	s.render(w, r, http.StatusOK, "scope", data)
	return nil
}

func scopePage(rep *incident.Report, reads []incident.Read) *pages.ScopeReport {
	p := &pages.ScopeReport{From: rep.Query.From, To: rep.Query.To, KeysExposed: rep.Query.KeysExposed,
		ComputedAt: rep.ComputedAt, Elapsed: time.Duration(rep.TookMS) * time.Millisecond,
		Existed: rep.Documents.Existing, Readable: rep.Documents.Readable, Members: rep.Members.Total,
		MembersLeftBefore: rep.Members.LeftBeforeEnd, MembersLeftSince: rep.Members.LeftSince, ReadsTotal: rep.ReadsTotal}
	for _, tc := range rep.Documents.ByType {
		p.ByType = append(p.ByType, pages.ScopeType{Type: tc.Type, Existed: tc.Existing, Readable: tc.Readable})
	}
	for _, st := range rep.Staff {
		p.ReadsByStaff = append(p.ReadsByStaff, pages.ScopeStaff{StaffEmail: st.Email, Role: st.Role, Reads: st.Reads})
	}
	for _, rd := range reads {
		p.Reads = append(p.Reads, pages.ScopeRead{StaffEmail: rd.Email, Role: rd.Role, DocumentID: rd.DocumentID,
			DocumentType: rd.DocumentType, At: rd.At, Origin: rd.Origin})
	}
	return p
}
