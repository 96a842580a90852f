package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/massmail/massmailtest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func init() {
	addAuthz(map[string]string{
		"GET /console/incidents/{id}/notification":         "responder,auditor",
		"POST /console/incidents/{id}/notification":        "responder",
		"GET /console/incidents/{id}/notification/preview": "responder",
		"GET /console/incidents/{id}/notification/confirm": "responder",
		"POST /console/incidents/{id}/notification/start":  "responder",
		"POST /console/incidents/{id}/notification/pause":  "responder",
		"POST /console/incidents/{id}/notification/resume": "responder",
	})
}

func newTestMassMail(c *testConsole) *massmail.Service {
	return &massmail.Service{DB: c.env.DB, Audit: c.env.Audit, Log: c.srv.Log, Now: func() time.Time { return c.now },
		PublicURL: "https://kakunin.example.jp", Contact: "support@example.jp"}
}

// recordingMailer accepts every message and keeps it.
type recordingMailer struct {
	mu   sync.Mutex
	msgs []mail.Message
}

func (m *recordingMailer) Send(ctx context.Context, msgs ...mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msgs...)
	return nil
}

func TestRespondersPreviewStartAndFollowTheNotificationOfAffectedMembers(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		ctx := t.Context()
		inc, _ := massmailtest.Setup(t, c.env, []massmailtest.Member{
			{ExternalID: "m1", Email: "m1-secret@example.jp"},
			{ExternalID: "m2", Email: "m2-secret@example.jp", Locale: kakunin.LocaleEN},
			{ExternalID: "m3", Email: "m3-secret@example.jp", Left: true},
		})
		page := "/console/incidents/" + inc.ID + "/notification"
		resp := c.signIn(kakunin.RoleResponder)
		aud := c.signIn(kakunin.RoleAuditor)

		// A new campaign's form comes with the default letter.
		status, body := c.get(resp.token, page)
		if status != http.StatusOK || !strings.Contains(body, "本人確認書類の情報への不正アクセスについて") ||
			!strings.Contains(body, `action="`+page+`"`) || strings.Contains(body, "/notification/start") {
			t.Fatalf("new campaign page: %d", status)
		}
		if rec := c.do(resp.token, http.MethodGet, page, nil); rec.Header().Get("Cache-Control") != "no-store, private" {
			t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
		}

		// An invalid template is refused, shown, and saves nothing.
		d := massmailtest.Letter()
		form := url.Values{"subject_ja": {d.SubjectJA}, "body_ja": {d.BodyJA + "{{.Email}}"}, "subject_en": {d.SubjectEN}, "body_en": {d.BodyEN}}
		rec := c.post(resp.token, page, form.Encode())
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "body_ja") ||
			!strings.Contains(rec.Body.String(), "{{.Email}}") || !strings.Contains(rec.Body.String(), `role="alert"`) {
			t.Fatalf("invalid template: %d", rec.Code)
		}
		// What is wrong is said in the responder's language, the field by
		// its label; text/template's detail (line, field) follows as is.
		if body := rec.Body.String(); !strings.Contains(body, "本文（日本語）を書き出せません: body_ja:") || strings.Contains(body, "cannot be written") {
			t.Errorf("the template error is not in Japanese:\n%s", body)
		}
		if _, camp, _ := c.srv.MassMail.Campaign(ctx, inc.ID); camp != nil {
			t.Fatal("an invalid template created a campaign")
		}

		// Saving leads to the preview, in both languages, for a sample
		// member, without their address.
		form.Set("body_ja", d.BodyJA)
		rec = c.post(resp.token, page, form.Encode())
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != page+"/preview" {
			t.Fatalf("save: %d %s", rec.Code, rec.Header().Get("Location"))
		}
		status, body = c.get(resp.token, page+"/preview")
		if status != http.StatusOK {
			t.Fatalf("preview: %d", status)
		}
		for _, want := range []string{"運転免許証（2026年11月に提出）", "licence (submitted November 2026)",
			"https://kakunin.example.jp/notices", `action="` + page + `/confirm"`, `lang="en"`} {
			if !strings.Contains(body, want) {
				t.Errorf("preview lacks %q", want)
			}
		}
		if strings.Contains(body, "-secret@") {
			t.Error("the preview shows a member's address")
		}
		// Auditors read, but neither preview nor act.
		if status, _ := c.get(aud.token, page+"/preview"); status != http.StatusForbidden {
			t.Errorf("auditor preview: %d", status)
		}
		if status, body := c.get(aud.token, page); status != http.StatusOK || strings.Contains(body, "<form class=\"card form\"") {
			t.Errorf("auditor page: %d", status)
		}

		// Starting goes through a confirmation: the incident, the exact
		// recipients per language (the member who left gets nothing), the
		// subject lines, and a form for the count and the code.
		status, body = c.get(resp.token, page+"/confirm?action=start&lang=en")
		if status != http.StatusOK {
			t.Fatalf("confirmation: %d", status)
		}
		for _, want := range []string{inc.Title, `<dd id="recipients-ja">1</dd>`, `<dd id="recipients-en">1</dd>`,
			`<dd id="recipients-total"><strong>2</strong></dd>`, `lang="ja">【重要】本人確認書類の情報への不正アクセスについて`,
			`action="` + page + `/start"`, `name="count"`, `name="code"`, `autocomplete="one-time-code"`} {
			if !strings.Contains(body, want) {
				t.Errorf("confirmation lacks %q", want)
			}
		}
		stillDraft := func(what string) {
			t.Helper()
			if _, camp, _ := c.srv.MassMail.Campaign(ctx, inc.ID); camp.State != store.CampaignDraft {
				t.Fatalf("%s started the campaign", what)
			}
		}
		// A fresh re-authentication does not stand in for the code: it is
		// asked every time.
		code := c.nextTOTP(resp)
		if rec := c.post(resp.token, "/console/reauth", url.Values{"code": {code}, "next": {page}}.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("reauth: %d", rec.Code)
		}
		rec = c.post(resp.token, page+"/start", url.Values{"count": {"2"}}.Encode())
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `id="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" required aria-describedby="code-hint confirm-error" aria-invalid="true"`) {
			t.Fatalf("start without a code inside the window: %d", rec.Code)
		}
		stillDraft("no code")
		// A wrong count is refused, the count field marked, and the code
		// is not spent.
		code = c.nextTOTP(resp)
		rec = c.post(resp.token, page+"/start", url.Values{"count": {"3"}, "code": {code}}.Encode())
		if b := rec.Body.String(); rec.Code != http.StatusBadRequest || !strings.Contains(b, `aria-describedby="count-hint confirm-error" aria-invalid="true"`) ||
			strings.Contains(b, `aria-describedby="code-hint confirm-error"`) || !strings.Contains(b, "入力した人数が送信先の合計と一致しません") {
			t.Fatalf("wrong count: %d", rec.Code)
		}
		stillDraft("a wrong count")
		rec = c.post(resp.token, page+"/start", url.Values{"count": {"2"}, "code": {"000000"}}.Encode())
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "確認コードが正しくありません") {
			t.Fatalf("wrong code: %d", rec.Code)
		}
		stillDraft("a wrong code")
		rec = c.post(resp.token, page+"/start", url.Values{"count": {"2"}, "code": {code}}.Encode())
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != page+"?done=started" {
			t.Fatalf("start: %d %s", rec.Code, rec.Header().Get("Location"))
		}
		if rec := c.post(resp.token, page+"/start", url.Values{"count": {"2"}, "code": {c.nextTOTP(resp)}}.Encode()); rec.Code != http.StatusConflict {
			t.Errorf("second start: %d", rec.Code)
		}

		// A sender enqueues and sends; the page counts and charts it.
		mailer := &recordingMailer{}
		sender := &massmail.Sender{DB: c.env.DB, Keys: c.env.Vault, Mailer: mailer, Now: func() time.Time { return c.now },
			PublicURL: "https://kakunin.example.jp", Log: c.srv.Log}
		if _, err := sender.EnqueueOnce(ctx); err != nil {
			t.Fatal(err)
		}
		// While sending: no meta refresh (it takes the page from its
		// reader), a Refresh link, and the script that updates the figures
		// into a polite live region, allowed by this response's CSP.
		rec = c.do(aud.token, http.MethodGet, page, nil)
		body = rec.Body.String()
		if rec.Code != http.StatusOK || strings.Contains(body, `http-equiv="refresh"`) ||
			!strings.Contains(body, `aria-live="polite" data-interval="30"`) || !strings.Contains(body, `<script src="/static/notification.js?v=`) ||
			!strings.Contains(body, `<a class="button button--quiet" href="`+page+`">`) ||
			!strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'self'") {
			t.Fatalf("progress while sending: %d %q\n%s", rec.Code, rec.Header().Get("Content-Security-Policy"), body)
		}
		if _, err := sender.SendOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if len(mailer.msgs) != 2 {
			t.Fatalf("%d messages sent, want 2 (one member left)", len(mailer.msgs))
		}
		c.now = c.now.Add(time.Minute)
		if _, err := sender.SendOnce(ctx); err != nil { // nothing left: done
			t.Fatal(err)
		}
		status, body = c.get(resp.token, page+"?lang=en")
		if status != http.StatusOK {
			t.Fatalf("progress: %d", status)
		}
		for _, want := range []string{`<svg class="chart__svg" role="img" aria-labelledby="chart-title chart-desc"`, "<rect class=\"chart__bar\"",
			"<dt>Sent</dt><dd>2</dd>", "<dt>Skipped (left)</dt><dd>1</dd>", "<dt>Pending</dt><dd>0</dd>", "2 messages sent in all", "<table>", "done"} {
			if !strings.Contains(body, want) {
				t.Errorf("progress page lacks %q", want)
			}
		}
		if strings.Contains(body, `http-equiv="refresh"`) || strings.Contains(body, "notification.js") || strings.Contains(body, "aria-live") {
			t.Error("a finished campaign's page still updates itself")
		}
		if rec := c.post(resp.token, page+"/pause", ""); rec.Code != http.StatusConflict {
			t.Errorf("pause a finished campaign: %d", rec.Code)
		}

		for _, action := range []string{audit.NotificationCreated, audit.NotificationPreviewed, audit.NotificationStarted} {
			evs, err := c.env.Audit.List(ctx, audit.Filter{Action: action})
			if err != nil || len(evs) != 1 || evs[0].Actor != audit.StaffActor(resp.staffID) {
				t.Errorf("%s: %+v %v", action, evs, err)
			}
		}
	})
}

func TestPausingAndResumingFromTheConsole(t *testing.T) {
	c := newTestConsole(t, storetest.SQLiteDSN(t))
	inc, _ := massmailtest.Setup(t, c.env, []massmailtest.Member{{ExternalID: "m1", Email: "m1@example.jp"}})
	page := "/console/incidents/" + inc.ID + "/notification"
	resp := c.signIn(kakunin.RoleResponder)
	if rec := c.post(resp.token, page+"/start", ""); rec.Code != http.StatusNotFound && rec.Code != http.StatusConflict {
		t.Fatalf("start without a letter: %d", rec.Code)
	}
	d := massmailtest.Letter()
	form := url.Values{"subject_ja": {d.SubjectJA}, "body_ja": {d.BodyJA}, "subject_en": {d.SubjectEN}, "body_en": {d.BodyEN}}
	c.post(resp.token, page, form.Encode())
	if rec := c.post(resp.token, page+"/start", ""); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "notification-error") {
		t.Fatalf("start before a preview: %d", rec.Code)
	}
	c.get(resp.token, page+"/preview")
	for _, step := range []struct{ path, want string }{
		{"/start", "?done=started"}, {"/pause", "?done=paused"}, {"/resume", "?done=resumed"},
	} {
		form := url.Values{"count": {"1"}, "code": {c.nextTOTP(resp)}}
		if step.path == "/resume" {
			// Resuming confirms too, with what is still to send.
			if status, body := c.get(resp.token, page+"/confirm?action=resume"); status != http.StatusOK ||
				!strings.Contains(body, `<dd id="recipients-total"><strong>1</strong></dd>`) || !strings.Contains(body, `action="`+page+`/resume"`) {
				t.Fatalf("resume confirmation: %d", status)
			}
			if rec := c.post(resp.token, page+"/resume", url.Values{"count": {"1"}}.Encode()); rec.Code != http.StatusBadRequest {
				t.Fatalf("resume without a code: %d", rec.Code)
			}
		}
		rec := c.post(resp.token, page+step.path, form.Encode())
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != page+step.want {
			t.Fatalf("%s: %d %s", step.path, rec.Code, rec.Header().Get("Location"))
		}
		if step.path == "/start" {
			// The member's row is written, so resuming has it to count.
			sender := &massmail.Sender{DB: c.env.DB, Keys: c.env.Vault, Now: func() time.Time { return c.now }, Log: c.srv.Log}
			if _, err := sender.EnqueueOnce(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if rec := c.post(resp.token, page+"/resume", url.Values{"count": {"0"}, "code": {c.nextTOTP(resp)}}.Encode()); rec.Code != http.StatusConflict {
		t.Errorf("resume a sending campaign: %d", rec.Code)
	}
	if status, body := c.get(resp.token, page); status != http.StatusOK || !strings.Contains(body, page+"/pause") {
		t.Errorf("sending page lacks the pause button: %d", status)
	}
}
