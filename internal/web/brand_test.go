package web

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

var testBrand = brand.Brand{Operator: "株式会社テスト運営", Service: "TestMatch",
	ServiceURL: "https://testmatch.example/", ContactURL: "https://testmatch.example/contact?x=1&y=2",
	PrivacyURL: "https://testmatch.example/privacy"}

// Every public and member page says who asks: the operator, the service,
// and links back to it, to the operator's contact and privacy policy, in
// both languages; the Atom feed names them too.
func TestEveryPublicPageNamesTheOperatorAndService(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		c.srv.Brand = testBrand
		c.h = c.srv.Handler()
		ctx := t.Context()
		if _, _, err := c.env.Verifications.UpsertMember(ctx, "m-brand", "brand@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		_, link, err := c.env.Verifications.Create(ctx, "m-brand")
		if err != nil {
			t.Fatal(err)
		}
		upload := link[strings.Index(link, "/u/"):]
		for _, path := range []string{"/", upload, "/u/not-a-token", "/check", "/signin", "/notices", "/console/login", "/no-such-page"} {
			for _, lang := range []string{"ja", "en"} {
				rec := c.do("", http.MethodGet, path+"?lang="+lang, nil)
				body := html.UnescapeString(rec.Body.String())
				for _, want := range []string{testBrand.Operator, testBrand.Service, testBrand.ServiceURL, testBrand.ContactURL, testBrand.PrivacyURL} {
					if !strings.Contains(body, want) {
						t.Errorf("GET %s?lang=%s (%d): no %q", path, lang, rec.Code, want)
					}
				}
				if !strings.Contains(body, "<title>") || !strings.Contains(body[strings.Index(body, "<title>"):], "| TestMatch</title>") {
					t.Errorf("GET %s?lang=%s: the title does not name the service", path, lang)
				}
			}
		}
		for _, lang := range []string{"ja", "en"} {
			rec := c.do("", http.MethodGet, "/notices.atom?lang="+lang, nil)
			body := rec.Body.String()
			for _, want := range []string{"<name>TestMatch (株式会社テスト運営)</name>", "<uri>https://testmatch.example/</uri>", "<title>TestMatch "} {
				if !strings.Contains(body, want) {
					t.Errorf("feed in %s: no %q in\n%s", lang, want, body)
				}
			}
		}
	})
}
