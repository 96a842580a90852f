package brand_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/mail/mailtest"
)

var sample = brand.Brand{Operator: "株式会社サンプル", Service: "SampleMatch", ServiceURL: "https://samplematch.example/",
	ContactURL: "mailto:help@samplematch.example", PrivacyURL: "https://samplematch.example/privacy"}

// A signed mail, through a real SMTP session, arrives From the operator's
// and service's names at the configured address, and ends with the
// signature in the mail's language.
func TestASignedMailComesFromTheOperatorAndEndsWithItsSignature(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{})
	m, err := mail.NewSMTPMailer(srv.URL("smtp", "", "tls=none"), "noreply@samplematch.example", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN} {
		msg := sample.Sign(mail.Message{To: []string{"member@example.jp"}, Subject: "s", Text: "body\n"}, lang)
		if err := m.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	mails := srv.Mails()
	if len(mails) != 2 {
		t.Fatalf("%d mails", len(mails))
	}
	for i, want := range []string{"このメールは株式会社サンプル（SampleMatch）からお送りしています。", "This mail is sent by 株式会社サンプル (SampleMatch)."} {
		parsed, err := netmail.ReadMessage(bytes.NewReader(mails[i].Data))
		if err != nil {
			t.Fatal(err)
		}
		from, err := (&netmail.AddressParser{}).Parse(parsed.Header.Get("From"))
		if err != nil {
			t.Fatalf("From %q: %v", parsed.Header.Get("From"), err)
		}
		if from.Name != "SampleMatch (株式会社サンプル)" || from.Address != "noreply@samplematch.example" {
			t.Errorf("From: %q <%s>", from.Name, from.Address)
		}
		text := decodeQP(t, parsed.Body)
		for _, w := range []string{"body\n\n-- \n", want, "https://samplematch.example/\n", "help@samplematch.example", "https://samplematch.example/privacy"} {
			if !strings.Contains(text, w) {
				t.Errorf("mail %d: no %q in\n%s", i, w, text)
			}
		}
	}
}

func decodeQP(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(quotedPrintable(b))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(out), "\r\n", "\n")
}

// Sign keeps a body's own "-- " separator, adds one otherwise, and writes
// one signature per language asked for (the alerts carry both).
func TestSignAddsOneSeparatorAndASignaturePerLanguage(t *testing.T) {
	m := brand.Mailer{Brand: sample, Langs: []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN}}
	got := m.Brand.SignText("hello\n\n-- \nfooter\n", m.Langs...)
	if strings.Count(got, "\n-- \n") != 1 || !strings.Contains(got, "お問い合わせ") || !strings.Contains(got, "Contact: help@samplematch.example") {
		t.Errorf("signed:\n%s", got)
	}
	if got := (brand.Brand{}).SignText("x", kakunin.LocaleEN); got != "x\n\n-- \nThis mail is sent by kakunin.\n" {
		t.Errorf("unbranded: %q", got)
	}
}

func TestValidateNamesTheBadFlag(t *testing.T) {
	if bad := sample.Validate(); len(bad) != 0 {
		t.Errorf("sample: %v", bad)
	}
	bad := brand.Brand{ServiceURL: "javascript:alert(1)", ContactURL: "mailto:", PrivacyURL: "/privacy", Operator: "a\nb"}.Validate()
	if strings.Join(bad, " ") != "--service-url --contact-url --privacy-policy-url --operator-name" {
		t.Errorf("bad: %v", bad)
	}
}

func quotedPrintable(b []byte) io.Reader { return quotedprintable.NewReader(bytes.NewReader(b)) }
