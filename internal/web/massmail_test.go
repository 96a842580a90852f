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
	"github.com/kakunin/kakunin/internal/auth"
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
		"POST /console/incidents/{id}/notification/start":  "responder+fresh",
		"POST /console/incidents/{id}/notification/pause":  "responder",
		"POST /console/incidents/{id}/notification/resume": "responder+fresh",
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
		d := massmail.DefaultText()
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
			"https://kakunin.example.jp/notices", `action="` + page + `/start"`, `lang="en"`} {
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

		// Starting needs the second factor again once the window has passed.
		c.now = c.now.Add(c.staff.ReauthAfter + time.Minute)
		rec = c.post(resp.token, page+"/start", "")
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/console/reauth") {
			t.Fatalf("start without a fresh second factor: %d %s", rec.Code, rec.Header().Get("Location"))
		}
		if _, camp, _ := c.srv.MassMail.Campaign(ctx, inc.ID); camp.State != store.CampaignDraft {
			t.Fatalf("started without re-authentication: %s", camp.State)
		}
		code, _ := auth.CurrentTOTP(resp.secret, c.now)
		if rec := c.post(resp.token, "/console/reauth", url.Values{"code": {code}, "next": {page}}.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("reauth: %d", rec.Code)
		}
		rec = c.post(resp.token, page+"/start", "")
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != page+"?done=started" {
			t.Fatalf("start: %d %s", rec.Code, rec.Header().Get("Location"))
		}
		if rec := c.post(resp.token, page+"/start", ""); rec.Code != http.StatusConflict {
			t.Errorf("second start: %d", rec.Code)
		}

		// A sender enqueues and sends; the page counts and charts it.
		mailer := &recordingMailer{}
		sender := &massmail.Sender{DB: c.env.DB, Keys: c.env.Vault, Mailer: mailer, Now: func() time.Time { return c.now },
			PublicURL: "https://kakunin.example.jp", Log: c.srv.Log}
		if _, err := sender.EnqueueOnce(ctx); err != nil {
			t.Fatal(err)
		}
		status, body = c.get(aud.token, page)
		if status != http.StatusOK || !strings.Contains(body, `<meta http-equiv="refresh" content="30">`) {
			t.Fatalf("progress while sending: %d", status)
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
		if strings.Contains(body, `http-equiv="refresh"`) {
			t.Error("a finished campaign's page still reloads itself")
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
	d := massmail.DefaultText()
	form := url.Values{"subject_ja": {d.SubjectJA}, "body_ja": {d.BodyJA}, "subject_en": {d.SubjectEN}, "body_en": {d.BodyEN}}
	c.post(resp.token, page, form.Encode())
	if rec := c.post(resp.token, page+"/start", ""); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "notification-error") {
		t.Fatalf("start before a preview: %d", rec.Code)
	}
	c.get(resp.token, page+"/preview")
	for _, step := range []struct{ path, want string }{
		{"/start", "?done=started"}, {"/pause", "?done=paused"}, {"/resume", "?done=resumed"},
	} {
		rec := c.post(resp.token, page+step.path, "")
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != page+step.want {
			t.Fatalf("%s: %d %s", step.path, rec.Code, rec.Header().Get("Location"))
		}
	}
	if rec := c.post(resp.token, page+"/resume", ""); rec.Code != http.StatusConflict {
		t.Errorf("resume a sending campaign: %d", rec.Code)
	}
	if status, body := c.get(resp.token, page); status != http.StatusOK || !strings.Contains(body, page+"/pause") {
		t.Errorf("sending page lacks the pause button: %d", status)
	}
}
