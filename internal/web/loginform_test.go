package web

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// A sign-in page's form works once. A second sign-in through the same
// page — what happens when a cache hands one stored page to two people —
// is refused with a page that says why; so is a forged or altered form
// token. A POST without a token still works (scripts).
func TestASigninPageWorksOnceAndItsSecondUseIsRefusedClearly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		acct := c.signIn(kakunin.RoleSupport)
		_, page := c.get("", "/console/login")
		m := regexp.MustCompile(`action="(/console/login\?form=[^"]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the login form has no one-use action:\n%s", page)
		}
		action := html.UnescapeString(m[1])
		form := url.Values{"email": {acct.email}, "password": {"a long enough password"}}.Encode()
		if rec := c.post("", action, form); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/console/login/totp" {
			t.Fatalf("first sign-in through the page: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		want, err := catalogue.Default().Localize(kakunin.LocaleJA, catalogue.M("login.error.stale_form"))
		if err != nil {
			t.Fatal(err)
		}
		for name, target := range map[string]string{
			"the same page again": action,
			"an altered token":    strings.Replace(action, "form=", "form=x", 1),
		} {
			rec := c.post("", target, form)
			if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), htmlEscaped(want)) || len(rec.Result().Cookies()) > 0 {
				t.Errorf("%s: %d, cookies %v", name, rec.Code, rec.Result().Cookies())
			}
		}
		if rec := c.post("", "/console/login", form); rec.Code != http.StatusSeeOther {
			t.Errorf("a sign-in without a form token: %d", rec.Code)
		}
	})
}
