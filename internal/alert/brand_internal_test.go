package alert

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/mail"
)

type captureMailer struct{ got []mail.Message }

func (c *captureMailer) Send(_ context.Context, msgs ...mail.Message) error {
	c.got = append(c.got, msgs...)
	return nil
}

// An alert sent through the branded mailer serve uses comes from the
// operator and carries its signature in every language it is written in.
func TestAnAlertMailIsSignedInEveryLanguage(t *testing.T) {
	var c captureMailer
	m := brand.Mailer{Next: &c, Brand: brand.Brand{Operator: "株式会社サンプル", Service: "SampleMatch"}, Langs: catalogue.Languages}
	msg := alertMessage(MailArgs{AlertID: "alr_1", RecipientID: "stf_1", Alert: Alert{Kind: "staff.locked", StaffID: "stf_2", At: time.Now()}}, "admin@example.jp")
	if err := m.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	got := c.got[0]
	if got.FromName != "SampleMatch (株式会社サンプル)" {
		t.Errorf("From name %q", got.FromName)
	}
	if !strings.Contains(got.Text, "このメールは株式会社サンプル（SampleMatch）") || !strings.Contains(got.Text, "This mail is sent by 株式会社サンプル (SampleMatch).") {
		t.Errorf("signature missing:\n%s", got.Text)
	}
}
