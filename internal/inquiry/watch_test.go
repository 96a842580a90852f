package inquiry_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/inquiry"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/webhook"
)

type nullMailer struct{ n int }

func (m *nullMailer) Send(ctx context.Context, msgs ...mail.Message) error {
	m.n += len(msgs)
	return nil
}

// The watch warns before a target and escalates at the breach, once per
// target, to the responsible role, with the alert webhook's event; a
// thread waiting for the person is not escalated.
func TestTheSLAWatchWarnsAndEscalatesOncePerTarget(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		env := servicetest.New(t, dsn, servicetest.Options{Queue: true})
		now := time.Date(2026, 12, 3, 10, 0, 0, 0, inquiry.JST) // a Thursday
		s := &inquiry.Service{DB: env.DB, Keys: env.Vault, Jobs: env.Jobs, Audit: env.Audit, PublicURL: "https://k.example.jp",
			MailDomain: "k.example.jp", Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		ctx := context.Background()
		for _, cat := range []string{inquiry.CategoryIncident, inquiry.CategoryOther} {
			if err := s.Submit(ctx, cat, "help", "p-"+cat+"@example.jp", kakunin.LocaleJA); err != nil {
				t.Fatal(err)
			}
		}
		m := &nullMailer{}
		for _, j := range env.Jobs.All() {
			if a, ok := j.Args.(inquiry.ContactArgs); ok {
				if out, err := s.Deliver(ctx, m, a); err != nil || out != inquiry.OutcomeMailed {
					t.Fatalf("deliver: %v %v", out, err)
				}
			}
		}
		env.Jobs.Reset()
		hooks := 0
		alerts := func() (out []alert.Alert) {
			for _, j := range env.Jobs.All() {
				if a, ok := j.Args.(alert.FanoutArgs); ok {
					out = append(out, a.Alert)
				}
				if d, ok := j.Args.(webhook.DeliverArgs); ok && d.Target == webhook.TargetAlerts {
					hooks++
				}
			}
			env.Jobs.Reset()
			return out
		}
		watch := func(at time.Time) []alert.Alert {
			t.Helper()
			now = at
			if _, err := s.Watch(ctx); err != nil {
				t.Fatal(err)
			}
			return alerts()
		}
		// The incident thread's first response is due at 14:00 (4 business hours).
		if got := watch(time.Date(2026, 12, 3, 11, 0, 0, 0, inquiry.JST)); len(got) != 0 {
			t.Errorf("11:00: %v", got)
		}
		got := watch(time.Date(2026, 12, 3, 12, 30, 0, 0, inquiry.JST))
		if len(got) != 1 || got[0].Kind != inquiry.KindSLAWarning || got[0].Role != kakunin.RoleResponder || got[0].Detail["target"] != inquiry.TargetFirst {
			t.Fatalf("12:30: %+v", got)
		}
		if got := watch(time.Date(2026, 12, 3, 13, 0, 0, 0, inquiry.JST)); len(got) != 0 {
			t.Errorf("a second warning: %+v", got)
		}
		got = watch(time.Date(2026, 12, 3, 14, 0, 0, 0, inquiry.JST))
		if len(got) != 1 || got[0].Kind != inquiry.KindSLABreached || got[0].Detail["target"] != inquiry.TargetFirst {
			t.Fatalf("14:00: %+v", got)
		}
		if got := watch(time.Date(2026, 12, 3, 17, 0, 0, 0, inquiry.JST)); len(got) != 0 {
			t.Errorf("escalated twice: %+v", got)
		}
		// Each alert went to the alert webhook too.
		if hooks != 2 {
			t.Errorf("%d alert webhook events, want 2", hooks)
		}
		views, _ := s.Queue(ctx, inquiry.Categories, "", "", "breached")
		if len(views) != 1 || views[0].Category != inquiry.CategoryIncident {
			t.Fatalf("overdue view: %+v", views)
		}
		// Support answers the other thread: waiting for the person, it is
		// never escalated however long it waits.
		if err := s.Reply(ctx, inquiry.Categories, otherID(t, s), "stf_x", "answer"); err != nil {
			t.Fatal(err)
		}
		env.Jobs.Reset()
		for _, a := range watch(time.Date(2026, 12, 25, 12, 0, 0, 0, inquiry.JST)) {
			if a.Detail["category"] == inquiry.CategoryOther {
				t.Errorf("a paused thread was alerted: %+v", a)
			}
		}
	})
}

func otherID(t *testing.T, s *inquiry.Service) string {
	views, err := s.Queue(context.Background(), inquiry.Categories, inquiry.CategoryOther, "", "")
	if err != nil || len(views) != 1 {
		t.Fatalf("queue: %v %v", views, err)
	}
	return views[0].ID
}
