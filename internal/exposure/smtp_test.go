package exposure_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/mail/mailtest"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// The whole path on a real queue and a real mail server: the form's
// check becomes a durable job, River runs it, and the answer reaches the
// registered address through SMTP. A stranger's check sends nothing: with
// one queue worker the jobs run in the order they were enqueued, so once
// the sentinel member's answer (checked last) has arrived, anything the
// stranger's job sent would have arrived before it.
func TestACheckIsAnsweredByMailThroughTheQueue(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		env := f.env
		ctx := t.Context()
		must(t, jobs.Migrate(ctx, env.DB.SQL(), env.DB.Dialect(), env.Log))
		srv := mailtest.Start(t, mailtest.Config{})
		mailer, err := mail.NewSMTPMailer(srv.URL("smtp", "", "tls=none"), "kakunin@example.jp", env.Log)
		must(t, err)
		workers := river.NewWorkers()
		exposure.Register(workers, f.svc, mailer)
		q, err := jobs.New(ctx, env.DB.SQL(), env.DB.Dialect(), workers,
			jobs.Config{Log: env.Log, MaxWorkers: 1, FetchPollInterval: 50 * time.Millisecond})
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
		f.member(t, "ext-sentinel", "sentinel@example.jp", kakunin.LocaleEN)
		f.incident(t, kakunin.IncidentNotifying, heldEverything)
		origin := audit.WithOrigin(ctx, "o")
		must(t, f.svc.Check(origin, "queue.member@example.jp", kakunin.LocaleEN))
		must(t, f.svc.Check(origin, "nobody@example.jp", kakunin.LocaleEN))
		must(t, f.svc.Check(origin, "sentinel@example.jp", kakunin.LocaleEN))

		mails := srv.Before(t, 15*time.Second, "sentinel@example.jp")
		if len(mails) != 1 {
			t.Fatalf("%d mails before the sentinel's, want 1 (the member's; the stranger gets none)", len(mails))
		}
		if len(mails[0].To) != 1 || mails[0].To[0] != "Queue.Member@example.jp" {
			t.Errorf("RCPT TO %v", mails[0].To)
		}
		msg := mailtest.Parse(t, mails[0].Data)
		if msg.Subject != "【kakunin】情報漏えいの影響確認の結果" {
			t.Errorf("subject %q", msg.Subject)
		}
		body := strings.ReplaceAll(msg.Body, "\r\n", "\n")
		for _, want := range []string{"健康保険証（2026年11月に提出）", "画像が読み取られた可能性があります", publicURL + "/check/r/"} {
			if !strings.Contains(body, want) {
				t.Errorf("body lacks %q:\n%s", want, body)
			}
		}
	})
}
