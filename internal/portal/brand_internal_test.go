package portal

import (
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/brand"
)

// The sign-in mail comes from the operator and ends with its signature.
func TestTheSigninMailNamesTheOperator(t *testing.T) {
	b := brand.Brand{Operator: "株式会社サンプル", Service: "SampleMatch", PrivacyURL: "https://samplematch.example/privacy"}
	for _, lang := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
		m := linkMessage(b, lang, "m@example.jp", Link{URL: "https://id.example/signin/x", ExpiresAt: time.Now()}, "id")
		if m.FromName != "SampleMatch (株式会社サンプル)" {
			t.Errorf("%s: From name %q", lang, m.FromName)
		}
		sig := m.Text[strings.LastIndex(m.Text, "\n-- \n"):]
		if !strings.Contains(sig, "株式会社サンプル") || !strings.Contains(sig, "https://samplematch.example/privacy") {
			t.Errorf("%s: signature %q", lang, sig)
		}
	}
}
