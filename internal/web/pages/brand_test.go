package pages

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kakunin/kakunin/internal/brand"
)

// Every page, in both languages, names the operator and the service and
// links back to the service, the operator's contact and privacy policy.
func TestEveryPageNamesTheOperatorAndLinksToIt(t *testing.T) {
	r, err := newRenderer(true)
	if err != nil {
		t.Fatal(err)
	}
	b := brand.Brand{Operator: "Sample Operator K.K.", Service: "SampleMatch", ServiceURL: "https://samplematch.example/",
		ContactURL: "https://samplematch.example/contact", PrivacyURL: "https://samplematch.example/privacy"}
	for _, lang := range locales {
		for i, p := range representativePages() {
			base := baseFor(lang)
			base.Brand = b
			rec := httptest.NewRecorder()
			if err := r.Render(rec, 200, p.name, p.data(base)); err != nil {
				t.Fatalf("%s #%d: %v", p.name, i, err)
			}
			body := rec.Body.String()
			for _, want := range []string{"Sample Operator K.K.", "SampleMatch</title>", `href="https://samplematch.example/"`,
				`href="https://samplematch.example/contact"`, `href="https://samplematch.example/privacy"`} {
				if !strings.Contains(body, want) {
					t.Errorf("%s/%s #%d: no %s", lang, p.name, i, want)
				}
			}
		}
	}
	// Without links configured, no empty navigation is left behind.
	rec := httptest.NewRecorder()
	if err := r.Render(rec, 200, "home", Home{baseFor("en")}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rec.Body.String(), "site-footer__links") || !strings.Contains(rec.Body.String(), "| kakunin</title>") {
		t.Error("an unbranded page has an empty link list or no kakunin title")
	}
}
