package massmail_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/massmail/massmailtest"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

type captured struct {
	mu  sync.Mutex
	got []mail.Message
}

func (c *captured) Send(_ context.Context, msgs ...mail.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, msgs...)
	return nil
}

// Every letter comes from the operator and ends with its signature in the
// letter's language, as the preview shows it.
func TestEveryLetterIsSignedByTheOperatorAsPreviewed(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		s := newSetup(t, dsn, []massmailtest.Member{{ExternalID: "ja", Email: "ja@example.jp"},
			{ExternalID: "en", Email: "en@example.jp", Locale: kakunin.LocaleEN}})
		b := brand.Brand{Operator: "株式会社サンプル", Service: "SampleMatch", ContactURL: "https://samplematch.example/contact"}
		s.svc.Brand, s.sender.Brand = b, b
		var c captured
		s.sender.Mailer = &c
		s.start(t)
		p, err := s.svc.Preview(audit.WithActor(t.Context(), "staff:stf_test"), s.inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(p.JA.Body, "このメールは株式会社サンプル（SampleMatch）") || !strings.Contains(p.EN.Body, "This mail is sent by 株式会社サンプル (SampleMatch).") {
			t.Errorf("the preview shows no signature:\n%s\n%s", p.JA.Body, p.EN.Body)
		}
		if _, err := s.sender.EnqueueOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n, err := s.sender.SendOnce(t.Context()); err != nil || n != 2 {
			t.Fatalf("send: %d %v", n, err)
		}
		for _, m := range c.got {
			want := "このメールは株式会社サンプル（SampleMatch）"
			if m.To[0] == "en@example.jp" {
				want = "This mail is sent by 株式会社サンプル (SampleMatch)."
			}
			if m.FromName != "SampleMatch (株式会社サンプル)" || !strings.Contains(m.Text, want) || !strings.Contains(m.Text, "https://samplematch.example/contact") {
				t.Errorf("letter to %s: From %q\n%s", m.To[0], m.FromName, m.Text)
			}
		}
	})
}
