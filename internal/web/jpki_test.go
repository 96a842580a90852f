package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/jpki"
	"github.com/kakunin/kakunin/internal/jpki/jpkitest"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// TestJPKIPages walks the member's My Number card check through the
// handlers against a real OpenID provider: offered first on the upload
// page, the start link, the provider's sign-in, the callback, the outcome;
// then a replayed callback gets its clear page, and a verification the
// host opened for jpki_app alone takes no photo.
func TestJPKIPages(t *testing.T) {
	c := newTestConsole(t, storetest.SQLiteDSN(t))
	c.now = time.Now().UTC() // the provider signs with the real clock
	c.env.Clock.Set(c.now)
	op := jpkitest.Start(t, servicetest.PublicURL+jpki.CallbackPath)
	op.AddUser("hanako", "2000-04-01")
	c.srv.JPKI = &jpki.Service{Config: jpki.Config{Issuer: op.Issuer, ClientID: op.ClientID, ClientSecret: op.ClientSecret,
		RedirectURL: servicetest.PublicURL + jpki.CallbackPath}, DB: c.env.DB, Audit: c.env.Audit, Jobs: c.env.Jobs,
		Now: c.env.Clock.Now, Log: c.srv.Log}
	ctx := t.Context()
	if _, _, err := c.env.Verifications.UpsertMember(ctx, "m1", "m1@example.jp", kakunin.LocaleEN); err != nil {
		t.Fatal(err)
	}
	v, link, _, err := c.env.Verifications.OpenOrCreateWith(ctx, "m1", nil)
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(link, servicetest.PublicURL)
	get := func(target string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		return rec
	}
	en := func(id string) string { return catalogue.Localize(kakunin.LocaleEN, catalogue.M(id)) }

	page := get(path)
	body := page.Body.String()
	if page.Code != 200 || !strings.Contains(body, `href="`+path+`/jpki"`) || !strings.Contains(body, en("agecheck.jpki.heading")) ||
		strings.Index(body, "jpki-start") > strings.Index(body, `type="file"`) {
		t.Fatalf("upload page does not offer the card check first: %d\n%s", page.Code, body)
	}
	start := get(path + "/jpki")
	authURL := start.Header().Get("Location")
	cookies := start.Result().Cookies()
	if start.Code != http.StatusSeeOther || !strings.HasPrefix(authURL, op.Issuer) || len(cookies) != 1 ||
		!cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteLaxMode {
		t.Fatalf("start: %d %q %+v", start.Code, authURL, cookies)
	}
	back := op.SignIn(t, authURL, "hanako")
	cb := get(back.RequestURI(), cookies[0])
	if cb.Code != http.StatusSeeOther || cb.Header().Get("Location") != path {
		t.Fatalf("callback: %d %q\n%s", cb.Code, cb.Header().Get("Location"), cb.Body.String())
	}
	if got, _ := c.env.DB.Verification(ctx, v.ID); got.Status != kakunin.StatusApproved || got.Result == nil ||
		got.Result.Adult == nil || !*got.Result.Adult || got.Result.Method != kakunin.MethodJPKIApp {
		t.Fatalf("stored %+v", got)
	}
	if st := get(path); st.Code != 200 || !strings.Contains(st.Body.String(), en("status.approved.title")) {
		t.Fatalf("status page: %d\n%s", st.Code, st.Body.String())
	}

	// The same answer again: refused on a page of its own, nothing changes.
	again := get(back.RequestURI(), cookies[0])
	if again.Code != http.StatusBadRequest || !strings.Contains(again.Body.String(), catalogue.Localize(kakunin.LocaleJA, catalogue.M("agecheck.refused.state"))) ||
		again.Header().Get("Cache-Control") != "no-store, private" {
		t.Fatalf("replayed callback: %d %q\n%s", again.Code, again.Header().Get("Cache-Control"), again.Body.String())
	}

	// A flow the member cancels at the provider goes back to their page,
	// which says why and that nothing was recorded.
	if _, _, err := c.env.Verifications.UpsertMember(ctx, "m2", "m2@example.jp", kakunin.LocaleEN); err != nil {
		t.Fatal(err)
	}
	_, link2, _, err := c.env.Verifications.OpenOrCreateWith(ctx, "m2", []string{kakunin.MethodJPKIApp})
	if err != nil {
		t.Fatal(err)
	}
	path2 := strings.TrimPrefix(link2, servicetest.PublicURL)
	page2 := get(path2).Body.String()
	if strings.Contains(page2, `type="file"`) || !strings.Contains(page2, "jpki-start") {
		t.Fatalf("jpki_app only: the photo form is offered\n%s", page2)
	}
	start2 := get(path2 + "/jpki")
	state := mustQuery(t, start2.Header().Get("Location"), "state")
	cancel := get(jpki.CallbackPath+"?error=access_denied&state="+state, start2.Result().Cookies()...)
	if cancel.Code != http.StatusSeeOther || cancel.Header().Get("Location") != path2+"?jpki=cancelled" {
		t.Fatalf("cancelled: %d %q", cancel.Code, cancel.Header().Get("Location"))
	}
	shown := get(path2 + "?jpki=cancelled").Body.String()
	if !strings.Contains(shown, en("agecheck.refused.cancelled")) || !strings.Contains(shown, en("agecheck.refused.nothing")) {
		t.Fatalf("refusal not shown\n%s", shown)
	}
	req := httptest.NewRequest(http.MethodPost, path2, strings.NewReader("x"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("photo upload to a jpki_app-only verification: %d", rec.Code)
	}
}

func mustQuery(t *testing.T, rawURL, key string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil || u.Query().Get(key) == "" {
		t.Fatalf("%q has no %s", rawURL, key)
	}
	return u.Query().Get(key)
}
