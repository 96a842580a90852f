package mail_test

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"mime"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/mail/mailtest"
)

const from = "kakunin@example.jp"

// quiet drops the Mailer's logs.
var quiet = slog.New(slog.DiscardHandler)

func newMailer(t *testing.T, url string, opts ...mail.Option) mail.Mailer {
	t.Helper()
	opts = append([]mail.Option{mail.WithTimeout(5 * time.Second)}, opts...)
	m, err := mail.NewSMTPMailer(url, from, quiet, opts...)
	if err != nil {
		t.Fatalf("NewSMTPMailer: %v", err)
	}
	return m
}

func trust(s *mailtest.Server) mail.Option {
	return mail.WithTLSConfig(&tls.Config{RootCAs: s.CA})
}

func sendErr(t *testing.T, err error) *mail.SendError {
	t.Helper()
	var se *mail.SendError
	if !errors.As(err, &se) {
		t.Fatalf("Send = %v, want a *mail.SendError", err)
	}
	return se
}

func TestMessageIsUTF8PlainTextWithItsJapaneseSubjectIntact(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{})
	m := newMailer(t, srv.URL("smtp", "", ""))
	// Long enough to need several encoded words and a folded header line.
	subject := "[kakunin] 閲覧上限超過のためスタッフアカウントをロックしました / Staff account locked: read quota exceeded"
	text := "本人確認書類の閲覧上限を超えました。\nThe read quota was exceeded.\n"
	err := m.Send(t.Context(), mail.Message{
		To: []string{"admin@example.jp"}, Subject: subject, Text: text,
		Headers: map[string]string{"Auto-Submitted": "auto-generated"}, ID: "alr_1.stf_2",
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	mails := srv.Mails()
	if len(mails) != 1 {
		t.Fatalf("server got %d mails, want 1", len(mails))
	}
	env := mails[0]
	if env.From != from || !slices.Equal(env.To, []string{"admin@example.jp"}) {
		t.Fatalf("mailtest.Envelope from %q to %q", env.From, env.To)
	}
	got := mailtest.Parse(t, env.Data)
	if got.Subject != subject {
		t.Errorf("subject = %q, want %q", got.Subject, subject)
	}
	if want := strings.ReplaceAll(text, "\n", "\r\n"); got.Body != want {
		t.Errorf("body = %q, want %q (CRLF line ends)", got.Body, want)
	}
	mediaType, params, err := mime.ParseMediaType(got.Header.Get("Content-Type"))
	if err != nil || mediaType != "text/plain" || !strings.EqualFold(params["charset"], "utf-8") {
		t.Errorf("Content-Type = %q, want text/plain; charset=UTF-8", got.Header.Get("Content-Type"))
	}
	if id := got.Header.Get("Message-Id"); id != "<alr_1.stf_2@example.jp>" {
		t.Errorf("Message-ID = %q, want <alr_1.stf_2@example.jp>", id)
	}
	if d, err := got.Header.Date(); err != nil || time.Since(d).Abs() > time.Minute {
		t.Errorf("Date = %q (%v), want about now", got.Header.Get("Date"), err)
	}
	if f := got.Header.Get("From"); f != "<"+from+">" && f != from {
		t.Errorf("From = %q, want %s", f, from)
	}
	if v := got.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("Auto-Submitted = %q", v)
	}
	for _, line := range strings.Split(string(env.Data), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line of %d bytes breaks RFC 5322", len(line))
		}
		for _, r := range line {
			if r > '~' {
				t.Fatalf("raw message has a non-ASCII line %q: headers must be encoded", line)
			}
		}
	}
}

func TestMessagesWithoutAnIDGetDistinctMessageIDs(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{})
	m := newMailer(t, srv.URL("smtp", "", ""))
	msg := mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t"}
	if err := m.Send(t.Context(), msg, msg); err != nil {
		t.Fatal(err)
	}
	mails := srv.Mails()
	a, b := mailtest.Parse(t, mails[0].Data).Header.Get("Message-Id"), mailtest.Parse(t, mails[1].Data).Header.Get("Message-Id")
	if a == "" || a == b || !strings.HasSuffix(a, "@example.jp>") {
		t.Fatalf("Message-IDs %q and %q, want two distinct ones at example.jp", a, b)
	}
}

func TestMailerAuthenticatesInsideSTARTTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{TLS: true, User: "alice", Pass: "s3cr3t pass"})
	m := newMailer(t, srv.URL("smtp", "alice:s3cr3t%20pass", "tls=required"), trust(srv))
	if err := m.Send(t.Context(), mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	mails := srv.Mails()
	if len(mails) != 1 || mails[0].User != "alice" || !mails[0].TLS {
		t.Fatalf("mails = %+v, want one, authenticated as alice over TLS", mails)
	}
}

func TestOpportunisticTLSIsTakenWhenOffered(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{TLS: true})
	m := newMailer(t, srv.URL("smtp", "", ""), trust(srv))
	if err := m.Send(t.Context(), mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if mails := srv.Mails(); len(mails) != 1 || !mails[0].TLS {
		t.Fatalf("mails = %+v, want one over STARTTLS", mails)
	}
}

func TestImplicitTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{Implicit: true, User: "alice", Pass: "pw"})
	for _, url := range []string{srv.URL("smtps", "alice:pw", ""), srv.URL("smtp", "alice:pw", "tls=implicit")} {
		m := newMailer(t, url, trust(srv))
		if err := m.Send(t.Context(), mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t"}); err != nil {
			t.Fatalf("Send via %s: %v", url, err)
		}
	}
	if mails := srv.Mails(); len(mails) != 2 || !mails[0].TLS || mails[1].User != "alice" {
		t.Fatalf("mails = %+v, want two over TLS", mails)
	}
}

func TestPasswordIsNeverSentWithoutTLS(t *testing.T) {
	// The server offers AUTH PLAIN in clear; the mailer must not take it.
	srv := mailtest.Start(t, mailtest.Config{User: "alice", Pass: "s3cr3t", InsecureAuth: true})
	for _, query := range []string{"", "tls=none"} {
		m := newMailer(t, srv.URL("smtp", "alice:s3cr3t", query))
		err := m.Send(t.Context(), mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t"})
		se := sendErr(t, err)
		if se.Session == nil || !se.Retryable() {
			t.Fatalf("tls=%q: Send = %v, want a session failure worth retrying", query, err)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("error %q carries the password", err)
		}
	}
	if n := srv.Auths(); n != 0 {
		t.Fatalf("server saw %d AUTH attempts in clear, want 0", n)
	}
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("server accepted %d mails, want 0", n)
	}
}

func TestTLSRequiredRefusesAServerWithoutSTARTTLS(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{})
	m := newMailer(t, srv.URL("smtp", "", "tls=required"))
	err := m.Send(t.Context(), mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t"})
	if se := sendErr(t, err); se.Session == nil {
		t.Fatalf("Send = %v, want a session failure", err)
	}
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("server accepted %d mails in clear, want 0", n)
	}
}

func TestAnUntrustedCertificateIsRefused(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{TLS: true})
	m := newMailer(t, srv.URL("smtp", "", "")) // the system roots do not know the test CA
	err := m.Send(t.Context(), mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t"})
	se := sendErr(t, err)
	if se.Session == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Send = %v, want a certificate failure", err)
	}
	if n := len(srv.Mails()); n != 0 {
		t.Fatalf("server accepted %d mails, want 0", n)
	}
}

func TestOnePermanentlyRefusedMessageDoesNotStopTheOthers(t *testing.T) {
	const refused = "gone@example.jp"
	srv := mailtest.Start(t, mailtest.Config{Rcpt: func(to string) error {
		if to == refused {
			return mailtest.Refuse(550, smtp.EnhancedCode{5, 1, 1}, to)
		}
		return nil
	}})
	m := newMailer(t, srv.URL("smtp", "", ""))
	err := m.Send(t.Context(),
		mail.Message{To: []string{"a@example.jp"}, Subject: "1", Text: "t"},
		mail.Message{To: []string{refused}, Subject: "2", Text: "t"},
		mail.Message{To: []string{"c@example.jp"}, Subject: "3", Text: "t"})
	se := sendErr(t, err)
	if len(se.Messages) != 1 || se.Retryable() {
		t.Fatalf("Send = %v, want only message 1 refused, for good", err)
	}
	f, failed := se.Failed(1)
	if !failed || f.Code != 550 || f.Enhanced != "5.1.1" || !f.Permanent || f.Stage != "RCPT TO" {
		t.Fatalf("failure of message 1 = %+v", f)
	}
	if strings.Contains(err.Error(), refused) {
		t.Fatalf("error %q quotes the refused address", err)
	}
	var to []string
	for _, env := range srv.Mails() {
		to = append(to, env.To...)
	}
	if !slices.Equal(to, []string{"a@example.jp", "c@example.jp"}) {
		t.Fatalf("delivered to %v, want a@ and c@", to)
	}
}

func TestATemporaryRefusalIsWorthRetrying(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{Rcpt: func(to string) error {
		return mailtest.Refuse(451, smtp.EnhancedCode{4, 3, 0}, to)
	}})
	m := newMailer(t, srv.URL("smtp", "", ""))
	err := m.Send(t.Context(), mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t"})
	se := sendErr(t, err)
	f, _ := se.Failed(0)
	if !se.Retryable() || f.Permanent || f.Code != 451 {
		t.Fatalf("Send = %v (%+v), want a temporary 451", err, f)
	}
}

func TestAnUnreachableServerIsWorthRetrying(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	m := newMailer(t, "smtp://"+addr)
	err = m.Send(t.Context(), mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t"})
	if se := sendErr(t, err); se.Session == nil || !se.Retryable() {
		t.Fatalf("Send = %v, want a session failure worth retrying", err)
	}
}

func TestMalformedMessagesFailAloneAndForGood(t *testing.T) {
	srv := mailtest.Start(t, mailtest.Config{})
	m := newMailer(t, srv.URL("smtp", "", ""))
	err := m.Send(t.Context(),
		mail.Message{To: []string{"not an address"}, Subject: "s", Text: "t"},
		mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t", Headers: map[string]string{"Bcc": "x@example.jp"}},
		mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t", Headers: map[string]string{"X-Note": "a\r\nBcc: x@example.jp"}},
		mail.Message{To: []string{"a@example.jp"}, Subject: "s", Text: "t", ID: "no spaces<>"},
		mail.Message{To: []string{"ok@example.jp"}, Subject: "s", Text: "t"})
	se := sendErr(t, err)
	if len(se.Messages) != 4 || se.Retryable() {
		t.Fatalf("Send = %v, want messages 0-3 refused for good", err)
	}
	if strings.Contains(err.Error(), "not an address") {
		t.Fatalf("error %q quotes the address", err)
	}
	if mails := srv.Mails(); len(mails) != 1 || mails[0].To[0] != "ok@example.jp" {
		t.Fatalf("mails = %+v, want only ok@", mails)
	}
}

func TestNewSMTPMailerRefusesBadConfiguration(t *testing.T) {
	for _, c := range []struct{ url, from string }{
		{"http://mail.example.jp", from},
		{"smtp://", from},
		{"smtp://mail.example.jp:0", from},
		{"smtp://mail.example.jp:notaport", from},
		{"smtp://mail.example.jp/path", from},
		{"smtp://mail.example.jp?tls=requried", from},
		{"smtp://mail.example.jp?tsl=required", from},
		{"smtps://mail.example.jp?tls=none", from},
		{"smtp://:s3cr3t@mail.example.jp", from},
		{"smtp://mail.example.jp", "not an address"},
		{"", "not an address"},
	} {
		_, err := mail.NewSMTPMailer(c.url, c.from, quiet)
		if err == nil {
			t.Errorf("NewSMTPMailer(%q, %q) succeeded, want an error", c.url, c.from)
			continue
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("error %q carries the password", err)
		}
	}
}

func TestMailDisabledLogsAndSucceeds(t *testing.T) {
	var logs mailtest.SyncBuffer
	m, err := mail.NewSMTPMailer("", from, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil || m == nil {
		t.Fatalf("NewSMTPMailer(\"\") = %v, %v; want a Mailer", m, err)
	}
	err = m.Send(t.Context(), mail.Message{To: []string{"hanako@example.jp"}, Subject: "秘密", Text: "本文"})
	if err != nil {
		t.Fatalf("Send = %v, want nil", err)
	}
	out := logs.String()
	if !strings.Contains(out, "mail disabled") {
		t.Fatalf("log = %q, want it to say mail is disabled", out)
	}
	for _, leak := range []string{"hanako", "秘密", "本文"} {
		if strings.Contains(out, leak) {
			t.Fatalf("log %q carries %q", out, leak)
		}
	}
}
