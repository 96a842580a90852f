package exposure_test

import (
	"bytes"
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// sink is a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1
// that keeps what it accepts.
type sink struct {
	addr  string
	mu    sync.Mutex
	mails []received
}

type received struct {
	to   []string
	data []byte
}

func startSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *sink) all() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received{}, s.mails...)
}

type sinkSession struct {
	sink *sink
	cur  received
}

func (s *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = b
	s.sink.mu.Lock()
	s.sink.mails = append(s.sink.mails, s.cur)
	s.sink.mu.Unlock()
	s.cur = received{}
	return nil
}
func (s *sinkSession) Reset()        { s.cur = received{} }
func (s *sinkSession) Logout() error { return nil }

// decode returns a plain-text mail's subject and body.
func decode(t *testing.T, raw []byte) (string, string) {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	must(t, err)
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	must(t, err)
	var body io.Reader = m.Body
	if strings.EqualFold(m.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(m.Body)
	}
	b, err := io.ReadAll(body)
	must(t, err)
	return subject, strings.ReplaceAll(string(b), "\r\n", "\n")
}

// The whole path on a real queue and a real mail server: the form's
// check becomes a durable job, River runs it, and the answer reaches the
// registered address through SMTP.
func TestACheckIsAnsweredByMailThroughTheQueue(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		env := f.env
		ctx := t.Context()
		must(t, jobs.Migrate(ctx, env.DB.SQL(), env.DB.Dialect(), env.Log))
		srv := startSink(t)
		mailer, err := mail.NewSMTPMailer("smtp://"+srv.addr+"?tls=none", "kakunin@example.jp", env.Log)
		must(t, err)
		workers := river.NewWorkers()
		exposure.Register(workers, f.svc, mailer)
		q, err := jobs.New(ctx, env.DB.SQL(), env.DB.Dialect(), workers, jobs.Config{Log: env.Log, FetchPollInterval: 50 * time.Millisecond})
		must(t, err)
		f.svc.Jobs = q
		// Jobs run on River's clock (now), not the test's.
		f.svc.Now = time.Now
		must(t, q.Start(ctx))
		t.Cleanup(func() {
			stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			q.Stop(stop)
		})

		m := f.member(t, "ext-q", "Queue.Member@example.jp", kakunin.LocaleJA)
		f.document(t, m.ID, kakunin.DocHealthInsurance, time.Date(2026, 11, 5, 3, 0, 0, 0, time.UTC))
		f.incident(t, kakunin.IncidentNotifying, heldEverything)
		origin := audit.WithOrigin(ctx, "o")
		must(t, f.svc.Check(origin, "queue.member@example.jp", kakunin.LocaleEN))
		must(t, f.svc.Check(origin, "nobody@example.jp", kakunin.LocaleEN))

		deadline := time.Now().Add(15 * time.Second)
		for len(srv.all()) < 1 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		// Give the stranger's job time to (not) send anything.
		time.Sleep(300 * time.Millisecond)
		mails := srv.all()
		if len(mails) != 1 {
			t.Fatalf("%d mails, want 1 (the member's)", len(mails))
		}
		if len(mails[0].to) != 1 || mails[0].to[0] != "Queue.Member@example.jp" {
			t.Errorf("RCPT TO %v", mails[0].to)
		}
		subject, body := decode(t, mails[0].data)
		if subject != "【kakunin】情報漏えいの影響確認の結果" {
			t.Errorf("subject %q", subject)
		}
		for _, want := range []string{"健康保険証（2026年11月に提出）", "画像が読み取られた可能性があります", publicURL + "/check/r/"} {
			if !strings.Contains(body, want) {
				t.Errorf("body lacks %q:\n%s", want, body)
			}
		}
	})
}
