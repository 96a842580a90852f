package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/massmail/massmailtest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// mailOff turns a test console into one served without --smtp-url.
func (c *testConsole) mailOff() {
	c.srv.MailOff, c.srv.MassMail.MailOff = true, true
}

func TestWithoutAMailServerEveryConsolePageSaysSoAndNoCampaignStarts(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		inc, _ := massmailtest.Setup(t, c.env, []massmailtest.Member{{ExternalID: "m1", Email: "m1@example.jp"}})
		resp := c.signIn(kakunin.RoleResponder)
		page := notificationURL(inc.ID)
		d := massmailtest.Letter()
		form := url.Values{"subject_ja": {d.SubjectJA}, "body_ja": {d.BodyJA}, "subject_en": {d.SubjectEN}, "body_en": {d.BodyEN}}
		if rec := c.post(resp.token, page, form.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("save: %d", rec.Code)
		}
		if status, _ := c.get(resp.token, page+"/preview"); status != http.StatusOK {
			t.Fatalf("preview: %d", status)
		}
		// With mail configured, no banner.
		if _, body := c.get(resp.token, "/console"); strings.Contains(body, `id="mail-off"`) {
			t.Fatal("a banner with mail configured")
		}
		c.mailOff()
		for _, p := range []string{"/console", "/console/password", "/console/incidents", page} {
			status, body := c.get(resp.token, p)
			if status != http.StatusOK || !strings.Contains(body, `id="mail-off"`) || !strings.Contains(body, "メール送信が設定されていません") {
				t.Errorf("%s: %d, no mail-off banner", p, status)
			}
		}
		if _, body := c.get(resp.token, "/console?lang=en"); !strings.Contains(body, "Mail is not configured.") {
			t.Error("no English banner")
		}
		// The public pages carry no console banner.
		if _, body := c.get("", "/notices"); strings.Contains(body, `id="mail-off"`) {
			t.Error("the public notices page shows the console banner")
		}
		_, body := c.get(resp.token, page+"?lang=ja")
		if strings.Contains(body, `/notification/start"`) || !strings.Contains(body, `id="notification-mail-off"`) {
			t.Error("the notification page offers to start without a mail server")
		}
		// Starting is refused with the reason, even with a fresh factor.
		code, _ := auth.CurrentTOTP(resp.secret, c.now)
		c.post(resp.token, "/console/reauth", url.Values{"code": {code}, "next": {page}}.Encode())
		rec := c.post(resp.token, page+"/start", "")
		if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "メール送信が設定されていないため、開始できません") {
			t.Fatalf("start without mail: %d", rec.Code)
		}
		if _, camp, _ := c.srv.MassMail.Campaign(t.Context(), inc.ID); camp.State != store.CampaignDraft {
			t.Fatalf("started without a mail server: %s", camp.State)
		}
		// A campaign started earlier is shown as not sending, no ETA.
		c.srv.MassMail.MailOff = false
		if _, err := c.srv.MassMail.Start(t.Context(), inc.ID); err != nil {
			t.Fatal(err)
		}
		c.srv.MassMail.MailOff = true
		_, body = c.get(resp.token, page+"?lang=en")
		if !strings.Contains(body, "not sending: mail is not configured") || strings.Contains(body, ">sending<") ||
			strings.Contains(body, "not known") || strings.Contains(body, `http-equiv="refresh"`) {
			t.Errorf("a started campaign looks as if sending:\n%s", body)
		}
		if err := c.srv.MassMail.Pause(t.Context(), inc.ID); err != nil {
			t.Fatal(err)
		}
		if rec := c.post(resp.token, page+"/resume", ""); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "メール送信が設定されていない") {
			t.Errorf("resume without mail: %d", rec.Code)
		}
	})
}

func TestWithoutAMailServerTheCheckSaysUnavailableToEveryoneAlike(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		c.mailOff()
		const mClient, sClient = "198.51.100.1", "198.51.100.2"
		for _, tc := range []struct {
			name string
			f    func(client, addr string) *httptest.ResponseRecorder
		}{
			{"GET", func(client, addr string) *httptest.ResponseRecorder {
				return c.send(client, http.MethodGet, "/check", nil)
			}},
			{"POST", func(client, addr string) *httptest.ResponseRecorder {
				return c.send(client, http.MethodPost, "/check", url.Values{"email": {addr}})
			}},
			{"POST invalid", func(client, addr string) *httptest.ResponseRecorder {
				return c.send(client, http.MethodPost, "/check", url.Values{"email": {"@" + addr}})
			}},
		} {
			a, b := tc.f(mClient, c.memberAt), tc.f(sClient, c.stranger)
			if diff := sameResponse(a, b); diff != "" {
				t.Errorf("%s: member and stranger answered differently: %s", tc.name, diff)
			}
			body := a.Body.String()
			if a.Code != http.StatusServiceUnavailable || !strings.Contains(body, "ただいまこの確認はご利用いただけません") ||
				strings.Contains(body, `action="/check"`) || strings.Contains(body, "回答をメールで") {
				t.Errorf("%s: %d, the page still offers a mailed answer", tc.name, a.Code)
			}
		}
		// The members' sign-in, whose link goes by mail, likewise.
		for _, tc := range []struct {
			name string
			f    func(client, addr string) *httptest.ResponseRecorder
		}{
			{"GET /signin", func(client, addr string) *httptest.ResponseRecorder {
				return c.send(client, http.MethodGet, "/signin", nil)
			}},
			{"POST /signin", func(client, addr string) *httptest.ResponseRecorder {
				return c.send(client, http.MethodPost, "/signin", url.Values{"email": {addr}})
			}},
		} {
			a, b := tc.f(mClient, c.memberAt), tc.f(sClient, c.stranger)
			if diff := sameResponse(a, b); diff != "" {
				t.Errorf("%s: member and stranger answered differently: %s", tc.name, diff)
			}
			if body := a.Body.String(); a.Code != http.StatusServiceUnavailable || !strings.Contains(body, "ただいまサインインはご利用いただけません") ||
				strings.Contains(body, `action="/signin"`) {
				t.Errorf("%s: %d, the page still offers a mailed link", tc.name, a.Code)
			}
		}
		if n := len(c.env.Jobs.All()); n != 0 {
			t.Fatalf("%d jobs queued without a mail server", n)
		}
	})
}
