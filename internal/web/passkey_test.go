package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/auth/passkeytest"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

const testPublicURL = "https://kakunin.example"

// withPasskeys gives the test console the passkeys of https://kakunin.example.
func withPasskeys(c *testConsole) *testConsole {
	c.srv.Passkeys = auth.NewPasskeys(c.staff, testPublicURL)
	c.h = c.srv.Handler()
	return c
}

// postJSON sends what passkey.js sends.
func (c *testConsole) postJSON(token, path string, body any) *httptest.ResponseRecorder {
	c.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(string(raw)))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "kakunin_session", Value: token})
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

// redirectOf reads a {"redirect": …} answer.
func redirectOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var a struct{ Redirect string }
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.Redirect == "" {
		t.Fatalf("not a redirect answer: %d %s", rec.Code, rec.Body.String())
	}
	return a.Redirect
}

func sessionSet(rec *httptest.ResponseRecorder) string {
	for _, c := range rec.Result().Cookies() {
		if c.Name == "kakunin_session" {
			return c.Value
		}
	}
	return ""
}

// passwordOnly signs in with the password and returns the half session.
func (c *testConsole) passwordOnly(email string) string {
	c.t.Helper()
	rec := c.post("", "/console/login", url.Values{"email": {email}, "password": {"a long enough password"}}.Encode())
	tok := sessionSet(rec)
	if rec.Code != http.StatusSeeOther || tok == "" {
		c.t.Fatalf("password step: %d", rec.Code)
	}
	return tok
}

// addPasskey registers an authenticator's passkey through the console.
func (c *testConsole) addPasskey(token string, a *passkeytest.Authenticator, name string) {
	c.t.Helper()
	rec := c.postJSON(token, "/console/passkeys/options", map[string]string{"name": name})
	if rec.Code != http.StatusOK {
		c.t.Fatalf("registration options: %d %s", rec.Code, rec.Body.String())
	}
	answer, err := a.Create(rec.Body.Bytes())
	if err != nil {
		c.t.Fatal(err)
	}
	rec = c.postJSON(token, "/console/passkeys", map[string]any{"credential": json.RawMessage(answer)})
	if rec.Code != http.StatusOK || redirectOf(c.t, rec) != "/console/passkeys?added=1" {
		c.t.Fatalf("registration: %d %s", rec.Code, rec.Body.String())
	}
}

func TestOnlyPagesOfferingAPasskeyMayRunScript(t *testing.T) {
	c := withPasskeys(newTestConsole(t, storetest.SQLiteDSN(t)))
	in := c.signIn(kakunin.RoleReviewer)
	csp := func(token, path string) string {
		t.Helper()
		rec := c.do(token, http.MethodGet, path, nil)
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", path, rec.Code)
		}
		return rec.Header().Get("Content-Security-Policy")
	}
	if p := csp(in.token, "/console/passkeys"); !strings.Contains(p, "script-src 'self'") || !strings.Contains(p, "connect-src 'self'") ||
		strings.Contains(p, "unsafe") || !strings.HasPrefix(p, "default-src 'none'") {
		t.Errorf("passkeys page CSP %q", p)
	}
	for _, path := range []string{"/console", "/console/password", "/console/reauth", "/console/login", "/static/passkey.js"} {
		if p := csp(in.token, path); strings.Contains(p, "script-src") || p != contentSecurityPolicy {
			t.Errorf("%s CSP %q", path, p)
		}
	}
	// The second-factor page offers a passkey (and allows the script) only
	// to an account that has one.
	if p := csp(c.passwordOnly(in.email), "/console/login/totp"); strings.Contains(p, "script-src") {
		t.Errorf("totp page without a passkey: CSP %q", p)
	}
	c.addPasskey(in.token, passkeytest.New(testPublicURL), "phone")
	half := c.passwordOnly(in.email)
	if p := csp(half, "/console/login/totp"); !strings.Contains(p, "script-src 'self'") {
		t.Errorf("totp page with a passkey: CSP %q", p)
	}
	if _, body := c.get(half, "/console/login/totp"); !strings.Contains(body, `data-passkey="login"`) || !strings.Contains(body, `name="code"`) {
		t.Errorf("totp page offers no passkey beside the code:\n%s", body)
	}
	if p := csp(in.token, "/console/reauth"); !strings.Contains(p, "script-src 'self'") {
		t.Errorf("reauth page with a passkey: CSP %q", p)
	}
}

func TestSecurityHeadersLetAHandlerAllowScript(t *testing.T) {
	for _, allow := range []bool{false, true} {
		h := securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if allow {
				allowScript(w)
			}
			w.Write([]byte("page"))
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		got := rec.Header().Get("Content-Security-Policy")
		if want := map[bool]string{false: contentSecurityPolicy, true: scriptPolicy}[allow]; got != want {
			t.Errorf("allow=%v: CSP %q", allow, got)
		}
		if strings.Contains(got, "'unsafe-inline'") || strings.Contains(got, "'unsafe-eval'") {
			t.Errorf("allow=%v: inline script allowed: %q", allow, got)
		}
	}
	// Apart from script and fetch, the policy with script is the same.
	if strings.Replace(scriptPolicy, "script-src 'self'; connect-src 'self'; ", "", 1) != contentSecurityPolicy {
		t.Errorf("the two policies differ beyond script: %q", scriptPolicy)
	}
}

func TestStaffAddAPasskeyAndSignInWithIt(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := withPasskeys(newTestConsole(t, dsn))
		in := c.signIn(kakunin.RoleSupport)
		phone := passkeytest.New(testPublicURL)
		c.addPasskey(in.token, phone, "Work phone")
		if code, body := c.get(in.token, "/console/passkeys?added=1&lang=en"); code != http.StatusOK ||
			!strings.Contains(body, "Work phone") || !strings.Contains(body, "The passkey has been added") {
			t.Fatalf("passkeys page: %d\n%s", code, body)
		}
		c.post(in.token, "/console/logout", "")

		half := c.passwordOnly(in.email)
		rec := c.postJSON(half, "/console/login/passkey/options", struct{}{})
		if rec.Code != http.StatusOK {
			t.Fatalf("sign-in options: %d %s", rec.Code, rec.Body.String())
		}
		answer, err := phone.Get(rec.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		rec = c.postJSON(half, "/console/login/passkey", map[string]any{"credential": json.RawMessage(answer)})
		full := sessionSet(rec)
		if rec.Code != http.StatusCreated || redirectOf(t, rec) != "/console" || full == "" || full == half {
			t.Fatalf("sign-in: %d %s", rec.Code, rec.Body.String())
		}
		if code, _ := c.get(full, "/console"); code != http.StatusOK {
			t.Fatalf("console after a passkey sign-in: %d", code)
		}
		if code, loc := c.get(half, "/console"); code != http.StatusSeeOther || loc != "/console/login" {
			t.Fatalf("the half session after sign-in: %d %s", code, loc)
		}
		// A fresh sign-in by passkey may do sensitive things at once.
		if code, _ := c.get(full, "/console/passkeys"); code != http.StatusOK {
			t.Fatalf("passkeys page: %d", code)
		}

		// A refused passkey keeps the half session and says so on the page.
		half = c.passwordOnly(in.email)
		c.postJSON(half, "/console/login/passkey/options", struct{}{})
		rec = c.postJSON(half, "/console/login/passkey", map[string]any{"credential": json.RawMessage(answer)})
		if rec.Code != http.StatusUnauthorized || redirectOf(t, rec) != "/console/login/totp?error=passkey" || sessionSet(rec) != "" {
			t.Fatalf("a replayed answer: %d %s", rec.Code, rec.Body.String())
		}
		if code, body := c.get(half, "/console/login/totp?error=passkey&lang=en"); code != http.StatusOK || !strings.Contains(body, `role="alert"`) ||
			!strings.Contains(body, "The passkey could not be used") {
			t.Fatalf("totp page after a refused passkey: %d\n%s", code, body)
		}
		// The code still works.
		c.now = c.now.Add(30 * time.Second)
		code, _ := auth.CurrentTOTP(in.secret, c.now)
		if rec := c.post(half, "/console/login/totp", url.Values{"code": {code}}.Encode()); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console" {
			t.Fatalf("TOTP after a passkey was refused: %d %s", rec.Code, rec.Header().Get("Location"))
		}
	})
}

func TestStaffRemoveAPasskeyAfterProvingItsThem(t *testing.T) {
	c := withPasskeys(newTestConsole(t, storetest.SQLiteDSN(t)))
	in := c.signIn(kakunin.RoleAdmin)
	phone := passkeytest.New(testPublicURL)
	c.addPasskey(in.token, phone, "phone")
	keys, err := c.env.DB.PasskeysOfStaff(t.Context(), in.staffID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("passkeys: %v %v", keys, err)
	}
	remove := "/console/passkeys/" + keys[0].ID + "/delete"

	c.now = c.now.Add(c.staff.ReauthAfter + time.Minute)
	if rec := c.post(in.token, remove, ""); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/console/reauth?next=") {
		t.Fatalf("removal without a fresh second factor: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	// Proved again with the passkey itself.
	if _, body := c.get(in.token, "/console/reauth?next=/console/passkeys"); !strings.Contains(body, `data-passkey="reauth"`) {
		t.Fatalf("the reauth page offers no passkey:\n%s", body)
	}
	rec := c.postJSON(in.token, "/console/reauth/passkey/options", struct{}{})
	if rec.Code != http.StatusOK {
		t.Fatalf("reauth options: %d %s", rec.Code, rec.Body.String())
	}
	answer, err := phone.Get(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	rec = c.postJSON(in.token, "/console/reauth/passkey", map[string]any{"credential": json.RawMessage(answer), "next": "/console/passkeys"})
	if rec.Code != http.StatusOK || redirectOf(t, rec) != "/console/passkeys" {
		t.Fatalf("reauth: %d %s", rec.Code, rec.Body.String())
	}
	rec = c.postJSON(in.token, "/console/reauth/passkey", map[string]any{"credential": json.RawMessage(answer), "next": "https://evil.example/"})
	if rec.Code != http.StatusBadRequest || redirectOf(t, rec) != "/console/reauth?error=passkey&next=%2Fconsole" {
		t.Fatalf("a replayed reauth: %d %s", rec.Code, rec.Body.String())
	}

	if rec := c.post(in.token, remove, ""); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/passkeys?removed=1" {
		t.Fatalf("removal: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	if rec := c.post(in.token, remove, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("removing it again: %d", rec.Code)
	}
	if _, body := c.get(in.token, "/console/passkeys?lang=en"); !strings.Contains(body, "You have no passkeys yet") {
		t.Fatalf("passkeys page after removal:\n%s", body)
	}
}

func TestAddingAPasskeyAsksForTheSecondFactorFirst(t *testing.T) {
	c := withPasskeys(newTestConsole(t, storetest.SQLiteDSN(t)))
	in := c.signIn(kakunin.RoleReviewer)
	for name, want := range map[string]string{"": "/console/passkeys?error=name", strings.Repeat("x", auth.MaxPasskeyName+1): "/console/passkeys?error=name"} {
		if rec := c.postJSON(in.token, "/console/passkeys/options", map[string]string{"name": name}); rec.Code != http.StatusBadRequest || redirectOf(t, rec) != want {
			t.Errorf("name %q: %d %s", name, rec.Code, rec.Body.String())
		}
	}
	c.now = c.now.Add(c.staff.ReauthAfter + time.Minute)
	// passkey.js follows this to the reauth page, which returns to the
	// passkeys page.
	rec := c.postJSON(in.token, "/console/passkeys/options", map[string]string{"name": "phone"})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/reauth?next=%2Fconsole%2Fpasskeys" {
		t.Fatalf("stale registration: %d %s", rec.Code, rec.Header().Get("Location"))
	}
}

func TestWithoutPasskeysTheConsoleSaysSoAndRunsNoScript(t *testing.T) {
	c := newTestConsole(t, storetest.SQLiteDSN(t))
	c.srv.Passkeys = auth.NewPasskeys(c.staff, "http://127.0.0.1:8080")
	c.h = c.srv.Handler()
	in := c.signIn(kakunin.RoleReviewer)
	rec := c.do(in.token, http.MethodGet, "/console/passkeys?lang=en", nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "reached by an IP address") ||
		strings.Contains(rec.Body.String(), "<script") || strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src") {
		t.Fatalf("passkeys page on an IP address: %d %q\n%s", rec.Code, rec.Header().Get("Content-Security-Policy"), rec.Body.String())
	}
	if rec := c.postJSON(in.token, "/console/passkeys/options", map[string]string{"name": "phone"}); rec.Code != http.StatusNotFound ||
		redirectOf(t, rec) != "/console/passkeys?error=unavailable" {
		t.Fatalf("registration on an IP address: %d %s", rec.Code, rec.Body.String())
	}
}
