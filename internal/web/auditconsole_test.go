package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/samplecard"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestAuditorsFilterAndExportTheLogAndRespondersScopeAWindow(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		ctx := t.Context()

		// A member uploads; a reviewer opens the image from 192.0.2.1
		// (httptest's client address).
		img, err := samplecard.Render(samplecard.Card{Type: kakunin.DocDriversLicence, Name: "SAMPLE", BirthDate: time.Date(1990, 1, 2, 0, 0, 0, 0, time.UTC), Issuer: "SAMPLE", Number: "1", Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.env.Verifications.UpsertMember(ctx, "m-1", "m1@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		v, _, err := c.env.Verifications.Create(ctx, "m-1")
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.env.Documents.Store(ctx, v, bytes.NewReader(img))
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.env.Documents.Commit(ctx, p, v, kakunin.DocDriversLicence)
		if err != nil {
			t.Fatal(err)
		}
		windowFrom := c.now.Add(-time.Minute)
		rev := c.signIn(kakunin.RoleReviewer)
		if rec := c.post(rev.token, "/console/tasks/next", ""); rec.Header().Get("Location") != "/console/tasks/"+d.ID {
			t.Fatalf("next: %d %s", rec.Code, rec.Header().Get("Location"))
		}
		if status, _ := c.get(rev.token, c.imageURL(rev.token, d.ID)); status != http.StatusOK {
			t.Fatalf("image: %d", status)
		}

		aud := c.signIn(kakunin.RoleAuditor)
		status, page := c.get(aud.token, "/console/audit")
		if status != http.StatusOK || !strings.Contains(page, audit.DocumentRead) || !strings.Contains(page, d.ID) {
			t.Fatalf("audit page %d lacks the read", status)
		}
		// Actions are named in the auditor's language, in the filter and the
		// listing; the code stays beside the name in the listing.
		for _, want := range []string{`<option value="document.read">書類画像の閲覧</option>`, "書類画像の閲覧<br><code>document.read</code>",
			`<option value="notification.finished">一斉通知の完了</option>`} {
			if !strings.Contains(page, want) {
				t.Errorf("the Japanese audit page lacks %q", want)
			}
		}
		if _, en := c.get(aud.token, "/console/audit?lang=en"); !strings.Contains(en, `<option value="staff.login_failed">Staff sign-in failed</option>`) {
			t.Error("the English filter does not name the actions")
		}
		_, page = c.get(aud.token, "/console/audit?action=document.read&ip=192.0.2.1")
		if !strings.Contains(page, d.ID) || !strings.Contains(page, "origin-of-192.0.2.1") {
			t.Fatal("the read is not found by its client address")
		}
		_, page = c.get(aud.token, "/console/audit?action=document.read&ip=198.51.100.7")
		if strings.Contains(page, d.ID) {
			t.Fatal("a filter on another address shows the read")
		}
		if status, _ := c.get(aud.token, "/console/audit?action=no.such.action"); status != http.StatusBadRequest {
			t.Fatalf("an unknown action: %d", status)
		}

		// Export asks for the second factor again once the window passed;
		// a wrong code is refused, a fresh one lets it through, and the
		// export itself is audited.
		c.now = c.now.Add(c.staff.ReauthAfter + time.Minute)
		c.env.Clock.Set(c.now)
		exportPath := "/console/audit/export?" + url.Values{"from": {windowFrom.In(kakunin.JST).Format(localLayout)}, "to": {c.now.Add(time.Hour).In(kakunin.JST).Format(localLayout)}}.Encode()
		status, loc := c.get(aud.token, exportPath)
		if status != http.StatusSeeOther || loc != "/console/reauth?next="+url.QueryEscape(exportPath) {
			t.Fatalf("stale export: %d %s", status, loc)
		}
		if rec := c.post(aud.token, "/console/reauth", url.Values{"next": {exportPath}, "code": {"000000"}}.Encode()); rec.Code != http.StatusBadRequest {
			t.Fatalf("wrong code: %d", rec.Code)
		}
		code, _ := auth.CurrentTOTP(aud.secret, c.now)
		rec := c.post(aud.token, "/console/reauth", url.Values{"next": {exportPath}, "code": {code}}.Encode())
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != exportPath {
			t.Fatalf("reauth: %d %s", rec.Code, rec.Header().Get("Location"))
		}
		rec = c.do(aud.token, http.MethodGet, exportPath, nil)
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/x-ndjson") {
			t.Fatalf("export: %d %s", rec.Code, rec.Header().Get("Content-Type"))
		}
		actions := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(rec.Body.String()), "\n") {
			var ev struct{ Action string }
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("export line %q: %v", line, err)
			}
			actions[ev.Action]++
		}
		if actions[audit.DocumentRead] != 1 || actions[audit.StaffReauth] != 1 || actions[audit.StaffLoginFailed] != 1 {
			t.Fatalf("exported actions %v", actions)
		}
		if evs, _ := c.env.Audit.List(ctx, audit.Filter{Action: audit.AuditExported}); len(evs) != 1 || evs[0].Actor != audit.StaffActor(aud.staffID) {
			t.Fatalf("the export was not audited: %+v", evs)
		}

		// A responder scopes the window: one document, its member, and the
		// reviewer's read.
		resp := c.signIn(kakunin.RoleResponder)
		q := url.Values{"from": {windowFrom.In(kakunin.JST).Format(localLayout)}, "to": {c.now.In(kakunin.JST).Format(localLayout)}}
		status, page = c.get(resp.token, "/console/incident/scope?"+q.Encode())
		if status != http.StatusOK || !strings.Contains(page, rev.email) {
			t.Fatalf("scope page %d lacks the reviewer's read", status)
		}
		q.Set("format", "json")
		q.Set("keys_exposed", "1")
		rec = c.do(resp.token, http.MethodGet, "/console/incident/scope?"+q.Encode(), nil)
		var rep struct {
			Documents  struct{ Existing, Readable int64 }
			Members    struct{ Total int64 }
			ReadsTotal int64 `json:"reads_total"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("scope JSON %d: %v", rec.Code, err)
		}
		if rep.Documents.Existing != 1 || rep.Documents.Readable != 1 || rep.Members.Total != 1 || rep.ReadsTotal != 1 {
			t.Fatalf("scope %+v", rep)
		}
		if status, _ := c.get(resp.token, "/console/incident/scope?from=2026-11-25T10:00&to=2026-11-25T09:00"); status != http.StatusBadRequest {
			t.Fatalf("a backwards window: %d", status)
		}
		if evs, _ := c.env.Audit.List(ctx, audit.Filter{Action: audit.IncidentScoped}); len(evs) != 2 {
			t.Fatalf("scopes audited: %d, want 2", len(evs))
		}
	})
}
