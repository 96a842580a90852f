package exposure

import (
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/mail"
)

// Both /check mails come from the operator and end with its signature.
func TestTheCheckMailsNameTheOperator(t *testing.T) {
	b := brand.Brand{Operator: "株式会社サンプル", Service: "SampleMatch", ContactURL: "https://samplematch.example/contact"}
	for _, lang := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
		for name, m := range map[string]mail.Message{
			"answer":     answerMessage(b, lang, "m@example.jp", nil, Link{URL: "https://id.example/x", ExpiresAt: time.Now()}, "https://id.example", "id1"),
			"no account": noAccountMessage(b, lang, "m@example.jp", "https://id.example", "id2"),
		} {
			if m.FromName != "SampleMatch (株式会社サンプル)" {
				t.Errorf("%s/%s: From name %q", name, lang, m.FromName)
			}
			sig := m.Text[strings.LastIndex(m.Text, "\n-- \n"):]
			if !strings.Contains(sig, "株式会社サンプル") || !strings.Contains(sig, "https://samplematch.example/contact") {
				t.Errorf("%s/%s: signature %q", name, lang, sig)
			}
			if strings.Count(m.Text, "\n-- \n") != 1 {
				t.Errorf("%s/%s: %d signature separators", name, lang, strings.Count(m.Text, "\n-- \n"))
			}
		}
	}
}
