package inquiry

import (
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/brand"
)

// The desk's mail comes from the operator and ends with its signature.
func TestTheDeskMailNamesTheOperator(t *testing.T) {
	s := &Service{Brand: brand.Brand{Operator: "株式会社サンプル", Service: "SampleMatch", ContactURL: "https://samplematch.example/contact"}}
	for _, lang := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
		m := s.linkMessage(lang, "m@example.jp", "inq_1", "other", Link{URL: "https://id.example/contact/x"})
		if m.FromName != "SampleMatch (株式会社サンプル)" {
			t.Errorf("%s: From name %q", lang, m.FromName)
		}
		sig := m.Text[strings.LastIndex(m.Text, "\n-- \n"):]
		if !strings.Contains(sig, "株式会社サンプル") || !strings.Contains(sig, "https://samplematch.example/contact") {
			t.Errorf("%s: signature %q", lang, sig)
		}
	}
}
