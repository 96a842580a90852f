package e2e

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A member signs in to the portal in Chromium with JavaScript off, in
// Japanese and in English: the form, the mailed link's button, the page in
// their language with the download button, and sign-out.
func TestBrowserMemberSignsInToThePortalWithoutJavaScript(t *testing.T) {
	sink, smtpURL := startMailSink(t)
	in := startInstance(t, "", "--smtp-url", smtpURL, "--mail-from", "kakunin@example.test", "--check-spread", "0s")
	browser := startBrowser(t)
	for i, lang := range []string{"ja", "en"} {
		t.Run(lang, func(t *testing.T) {
			words := messages(t, "portal."+lang)
			addr := "browser." + lang + "@example.test"
			if code, _ := in.API("PUT", "/api/v1/members/browser-"+lang, map[string]string{"email": addr, "locale": lang}); code != http.StatusCreated {
				t.Fatalf("PUT member: %d", code)
			}
			ctx := newTab(t, browser)
			disableScript(t, ctx)
			must(t, "ask for a link", chromedp.Do(ctx,
				chromedp.Navigate(in.URL+"/signin?lang="+lang),
				chromedp.SendKeys(chromedp.CSS("#email"), addr),
				chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS("#sent-title"))))
			if got := pageLang(t, ctx); got != lang {
				t.Errorf("sent page in %q", got)
			}
			if !strings.Contains(bodyHTML(t, ctx), html.EscapeString(words["portal.sent.title"])) {
				t.Error("the sent page lacks its title")
			}
			in.waitJobsFinished(t, 15*time.Second, "portal_signin")
			mails := sink.all()
			if len(mails) != i+1 {
				t.Fatalf("%d mails", len(mails))
			}
			path := regexp.MustCompile(`/signin/[A-Za-z0-9_-]{43}`).FindString(strings.ReplaceAll(mails[i].Data, "=\r\n", ""))
			if path == "" {
				t.Fatal("no link in the mail")
			}
			must(t, "open the link and sign in", chromedp.Do(ctx,
				chromedp.Navigate(in.URL+path),
				chromedp.Click(chromedp.CSS(`form[action="`+path+`/open"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS("#me-export"))))
			page := bodyHTML(t, ctx)
			if got := pageLang(t, ctx); got != lang {
				t.Errorf("portal in %q", got)
			}
			for _, id := range []string{"portal.title", "portal.kept.title", "portal.export.submit"} {
				if !strings.Contains(page, html.EscapeString(words[id])) {
					t.Errorf("the portal lacks %s", id)
				}
			}
			if !strings.Contains(page, addr) {
				t.Error("the portal does not show the member's address")
			}
			screenshot(t, ctx, "portal-"+lang)
			must(t, "sign out", chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS(`form[action="/signout"] button[type=submit]`)),
				chromedp.WaitVisible(chromedp.CSS("#out-title")),
				chromedp.Navigate(in.URL+"/me"),
				chromedp.WaitVisible(chromedp.CSS("#signin-title"))))
		})
	}
}
