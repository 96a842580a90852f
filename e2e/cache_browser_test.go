package e2e

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kakunin/kakunin/internal/nginxtest"
)

// Behind the careless nginx of docs/caching.md, in Chromium with
// JavaScript off: two members go through their answer link, the portal
// and the upload page, an anonymous visitor through the public pages, and
// two staff members sign in through the one login page the cache hands to
// both. Nobody's page shows another's address; the second staff member is
// refused with the page that says why, rather than signed in through the
// cache.
func TestBrowserNobodySeesAnotherPersonsPageBehindACarelessCache(t *testing.T) {
	addr := freeAddr(t)
	in := startInstance(t, "", "--public-url", "http://"+addr, "--trusted-proxies", "127.0.0.1")
	base := nginxtest.StartAt(t, addr, in.Addr, nginxtest.Careless, "")
	browser := startBrowser(t)

	addrs := map[string]string{"cache-a": "cache.member.a@example.test", "cache-b": "cache.member.b@example.test"}
	leaks := func(who, page string) {
		t.Helper()
		for ext, a := range addrs {
			if ext != who && strings.Contains(page, a) {
				t.Errorf("LEAK: %s's page shows %s's address", who, ext)
			}
		}
	}
	for ext, a := range addrs {
		if code, _ := in.API("PUT", "/api/v1/members/"+ext, map[string]string{"email": a, "locale": "en"}); code != http.StatusCreated {
			t.Fatalf("PUT member %s: %d", ext, code)
		}
	}
	for round := 0; round < 2; round++ {
		for _, ext := range []string{"cache-a", "cache-b"} {
			ctx := newTab(t, browser)
			disableScript(t, ctx)
			_, answer := in.API("POST", "/api/v1/members/"+ext+"/exposure-link", nil)
			link, _ := answer["url"].(string)
			if !strings.HasPrefix(link, base) {
				t.Fatalf("the answer link %q is not behind the proxy %s", link, base)
			}
			must(t, "open the answer link", chromedp.Do(ctx, chromedp.Navigate(link)))
			leaks(ext, bodyHTML(t, ctx))

			code, pl := in.API("POST", "/api/v1/members/"+ext+"/portal-link", nil)
			signin, _ := pl["url"].(string)
			if code != http.StatusCreated || !strings.HasPrefix(signin, base) {
				t.Fatalf("portal link: %d %v", code, pl)
			}
			path := strings.TrimPrefix(signin, base)
			must(t, "sign in to the portal", chromedp.Do(ctx,
				chromedp.Navigate(signin),
				chromedp.Click(chromedp.CSS(`form[action="`+path+`/open"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS("#me-export"))))
			page := bodyHTML(t, ctx)
			if !strings.Contains(page, addrs[ext]) {
				t.Errorf("%s's portal does not show their own address", ext)
			}
			leaks(ext, page)
			if loc := run(t, ctx, "read the location", chromedp.Location()); !strings.HasPrefix(loc, base+"/me/") {
				t.Errorf("the portal is at %s, not at a page of the session's own", loc)
			}
			must(t, "open /me", chromedp.Do(ctx, chromedp.Navigate(base+"/me"), chromedp.WaitVisible(chromedp.CSS("#signin-title"))))
			leaks(ext, bodyHTML(t, ctx))

			_, v := in.API("POST", "/api/v1/verifications", map[string]string{"external_id": ext})
			up, _ := v["upload_url"].(string)
			if u, err := url.Parse(up); err == nil && up != "" {
				must(t, "open the upload page", chromedp.Do(ctx, chromedp.Navigate(base+u.Path)))
				leaks(ext, bodyHTML(t, ctx))
			}
		}
		anon := newTab(t, browser)
		disableScript(t, anon)
		for _, p := range []string{"/", "/check", "/signin", "/me", "/notices", "/console/login"} {
			must(t, "open "+p, chromedp.Do(anon, chromedp.Navigate(base+p)))
			leaks("anonymous", bodyHTML(t, anon))
		}
	}

	// Two staff members and the one login page the cache hands to both.
	staff := []staffAccount{in.AddStaff("cache.staff.one@example.test", "support"), in.AddStaff("cache.staff.two@example.test", "support")}
	stale := html.EscapeString(messages(t, "doctor.en")["login.error.stale_form"])
	for i, acct := range staff {
		ctx := newTab(t, browser)
		disableScript(t, ctx)
		must(t, "open the login page and send the password", chromedp.Do(ctx,
			chromedp.Navigate(base+"/console/login?lang=en"),
			chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), acct.Email),
			chromedp.SendKeys(chromedp.ID("password"), acct.Password),
			chromedp.Click(chromedp.CSS(`form[action^="/console/login?form="] button[type="submit"]`)),
			// The code's page, or the refusal: either comes after the POST.
			chromedp.WaitVisible(chromedp.CSS("#code, #login-error"))))
		page := bodyHTML(t, ctx)
		other := staff[1-i].Email
		if strings.Contains(page, other) {
			t.Errorf("LEAK: %s's sign-in shows %s", acct.Email, other)
		}
		if strings.Contains(page, stale) {
			t.Logf("%s: refused, the page was stale (as it should be once another used it)", acct.Email)
			continue
		}
		// The password was taken: the code's page. (Its form posts to its
		// own URL, which this cache answers with the stored page: behind
		// it the console does not work — docs/caching.md — but it leaks
		// nothing, which is what this test is about.)
		must(t, "reach the code's page", chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("code"))))
		if i == 1 {
			t.Errorf("the second staff member signed in through the login page the cache gave to the first")
		}
	}
}
