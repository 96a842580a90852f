package massmail_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"golang.org/x/time/rate"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/massmail/massmailtest"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// quiet drops the Mailer's logs.
var quiet = slog.New(slog.DiscardHandler)

// setup is an incident with its members, a campaign service and a sender
// over a real database, on the servicetest clock.
type setup struct {
	env    *servicetest.Env
	inc    *kakunin.Incident
	ids    map[string]string
	svc    *massmail.Service
	sender *massmail.Sender
}

func newSetup(t *testing.T, dsn string, members []massmailtest.Member) *setup {
	t.Helper()
	env := servicetest.New(t, dsn, servicetest.Options{})
	inc, ids := massmailtest.Setup(t, env, members)
	svc := &massmail.Service{DB: env.DB, Audit: env.Audit, Log: env.Log, Now: env.Clock.Now, PublicURL: "https://kakunin.example", Contact: "support@example.jp"}
	sender := &massmail.Sender{DB: env.DB, Keys: env.Vault, Now: env.Clock.Now, Audit: env.Audit, Log: env.Log,
		PublicURL: "https://kakunin.example", Contact: "support@example.jp", Jitter: func() float64 { return 0.5 }}
	return &setup{env: env, inc: inc, ids: ids, svc: svc, sender: sender}
}

// start saves the default letter, previews it and starts the campaign, as
// a responder would.
func (s *setup) start(t *testing.T) *store.Campaign {
	t.Helper()
	ctx := audit.WithActor(t.Context(), "staff:stf_test")
	if _, err := s.svc.Save(ctx, s.inc.ID, massmailtest.Letter()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.svc.Preview(ctx, s.inc.ID); err != nil {
		t.Fatal(err)
	}
	c, err := s.svc.Start(ctx, s.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *setup) rows(t *testing.T, campaignID string) map[string]store.OutboxRow {
	t.Helper()
	rows, err := s.env.DB.OutboxRows(t.Context(), campaignID)
	if err != nil {
		t.Fatal(err)
	}
	byExternal := map[string]store.OutboxRow{}
	for ext, id := range s.ids {
		for _, r := range rows {
			if r.MemberID == id {
				byExternal[ext] = r
			}
		}
	}
	if len(byExternal) != len(rows) {
		t.Fatalf("%d rows, %d of them of known members", len(rows), len(byExternal))
	}
	return byExternal
}

func members(n int) []massmailtest.Member {
	var ms []massmailtest.Member
	for i := range n {
		ext := "ext-" + string(rune('a'+i))
		ms = append(ms, massmailtest.Member{ExternalID: ext, Email: ext + "@example.jp"})
	}
	return ms
}

func TestStartingEnqueuesEveryAffectedMemberOnceAndOnlyOnce(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ms := append(members(5), massmailtest.Member{ExternalID: "later", Email: "later@example.jp", Outside: true})
		s := newSetup(t, dsn, ms)
		ctx := t.Context()
		c := s.start(t)
		if did, err := s.sender.EnqueueOnce(ctx); err != nil || !did {
			t.Fatalf("enqueue: %v %v", did, err)
		}
		rows := s.rows(t, c.ID)
		if len(rows) != 5 {
			t.Fatalf("%d rows, want the 5 affected members", len(rows))
		}
		if _, ok := rows["later"]; ok {
			t.Error("a member whose document came after the window was enqueued")
		}
		for ext, r := range rows {
			if r.State != store.NotificationPending || r.Attempts != 0 || !r.NextAttemptAt.Equal(servicetest.Start) {
				t.Errorf("%s: %+v", ext, r)
			}
		}
		// Nothing is left to enqueue, and a second start is refused.
		if did, err := s.sender.EnqueueOnce(ctx); err != nil || did {
			t.Fatalf("second enqueue: %v %v", did, err)
		}
		if _, err := s.svc.Start(ctx, s.inc.ID); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("second start: %v", err)
		}
		// Enqueuing the same members again (a sender that died between
		// two batches, its lease run out) adds no row.
		var ids []string
		for ext, id := range s.ids {
			if ext != "later" {
				ids = append(ids, id)
			}
		}
		if n, err := s.env.DB.EnqueueNotifications(ctx, c.ID, ids, servicetest.Start, servicetest.Start); err != nil || n != 0 {
			t.Fatalf("%d rows added twice (%v)", n, err)
		}
		got, err := s.env.DB.Campaign(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Target != 5 || got.Enqueued != 5 || got.Pending() != 5 || got.EnqueuedAt == nil || got.State != store.CampaignSending {
			t.Errorf("campaign after enqueue: %+v", got)
		}
	})
}

func TestAClaimedRowIsNotClaimedAgainUntilItsLeaseEnds(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		s := newSetup(t, dsn, members(3))
		ctx := t.Context()
		c := s.start(t)
		if _, err := s.sender.EnqueueOnce(ctx); err != nil {
			t.Fatal(err)
		}
		now := servicetest.Start
		lease := now.Add(10 * time.Minute)
		first, err := s.env.DB.ClaimNotifications(ctx, c.ID, now, lease, 2)
		if err != nil || len(first) != 2 {
			t.Fatalf("first claim: %d %v", len(first), err)
		}
		for _, n := range first {
			if n.Left || len(n.EmailSealed) == 0 || n.Locale != kakunin.LocaleJA {
				t.Errorf("claimed row without its member: %+v", n)
			}
		}
		second, err := s.env.DB.ClaimNotifications(ctx, c.ID, now, lease, 10)
		if err != nil || len(second) != 1 || second[0].ID == first[0].ID || second[0].ID == first[1].ID {
			t.Fatalf("second claim took %d rows (%v), want the one left", len(second), err)
		}
		if none, err := s.env.DB.ClaimNotifications(ctx, c.ID, now.Add(9*time.Minute), lease, 10); err != nil || len(none) != 0 {
			t.Fatalf("claim within the lease: %d %v", len(none), err)
		}
		// The sender holding them died: once the lease ends they are due again.
		again, err := s.env.DB.ClaimNotifications(ctx, c.ID, lease, lease.Add(10*time.Minute), 10)
		if err != nil || len(again) != 3 {
			t.Fatalf("claim after the lease: %d %v", len(again), err)
		}
	})
}

func TestBackoffDoublesFromAMinuteUpToSixHoursWithJitter(t *testing.T) {
	for _, tt := range []struct {
		attempt int
		jitter  float64
		want    time.Duration
	}{
		{1, 0.5, time.Minute},
		{2, 0.5, 2 * time.Minute},
		{3, 0.5, 4 * time.Minute},
		{9, 0.5, 256 * time.Minute},
		{10, 0.5, 6 * time.Hour},
		{40, 0.5, 6 * time.Hour},
		{1, 0, 45 * time.Second},
		{1, 0.999999, 75 * time.Second},
		{10, 0, 270 * time.Minute},
		{10, 0.99, 6 * time.Hour}, // never past the cap
	} {
		got := massmail.Backoff(tt.attempt, tt.jitter)
		if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("Backoff(%d, %v) = %v, want %v", tt.attempt, tt.jitter, got, tt.want)
		}
	}
}

// decoded is an accepted message with its subject and body decoded.
type decoded struct {
	to, subject, body, messageID string
	header                       netmail.Header
}

func decode(t *testing.T, m accepted) decoded {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	return decoded{to: m.To, subject: subject, body: string(body), messageID: msg.Header.Get("Message-Id"), header: msg.Header}
}

func TestTheSenderDeliversRetriesTemporaryRefusalsAndRecordsBounces(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ms := []massmailtest.Member{
			{ExternalID: "ja", Email: "ja@example.jp"},
			{ExternalID: "en", Email: "en@example.jp", Locale: kakunin.LocaleEN, Type: kakunin.DocPassport},
			{ExternalID: "refused", Email: "refused@example.jp"},
			{ExternalID: "busy", Email: "busy@example.jp"},
			{ExternalID: "left", Email: "left@example.jp", Left: true},
		}
		var mu sync.Mutex
		busyRefusals := 0
		srv := startSMTP(t, func(to string) error {
			switch to {
			case "refused@example.jp":
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + "> no such user"}
			case "busy@example.jp":
				mu.Lock()
				defer mu.Unlock()
				if busyRefusals == 0 {
					busyRefusals++
					return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "<" + to + "> try later"}
				}
			}
			return nil
		})
		s := newSetup(t, dsn, ms)
		ctx := t.Context()
		mailer, err := mail.NewSMTPMailer(srv.URL, "kakunin@example.jp", quiet)
		if err != nil {
			t.Fatal(err)
		}
		s.sender.Mailer = mailer
		c := s.start(t)
		if _, err := s.sender.EnqueueOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := s.sender.SendOnce(ctx); err != nil || n != 5 {
			t.Fatalf("first batch: %d %v", n, err)
		}
		rows := s.rows(t, c.ID)
		want := map[string]string{"ja": "sent", "en": "sent", "refused": "bounced", "busy": "pending", "left": "skipped"}
		for ext, state := range want {
			if rows[ext].State != state {
				t.Errorf("%s: state %s, want %s", ext, rows[ext].State, state)
			}
		}
		if r := rows["refused"]; r.Code != 550 || r.Enhanced != "5.1.1" || r.Attempts != 1 {
			t.Errorf("bounce recorded as %+v", r)
		}
		busy := rows["busy"]
		if busy.Code != 451 || busy.Attempts != 1 || !busy.NextAttemptAt.Equal(servicetest.Start.Add(time.Minute)) {
			t.Errorf("temporary refusal recorded as %+v, want a retry a minute later", busy)
		}
		// Not due yet: nothing is sent, and the campaign is not done.
		if n, err := s.sender.SendOnce(ctx); err != nil || n != 0 {
			t.Fatalf("batch before the retry is due: %d %v", n, err)
		}
		s.env.Clock.Add(time.Minute)
		if n, err := s.sender.SendOnce(ctx); err != nil || n != 1 {
			t.Fatalf("retry: %d %v", n, err)
		}
		if r := s.rows(t, c.ID)["busy"]; r.State != store.NotificationSent || r.Attempts != 2 || r.Code != 0 {
			t.Errorf("after the retry: %+v", r)
		}
		// Nothing pending: the next look finishes the campaign.
		if n, err := s.sender.SendOnce(ctx); err != nil || n != 0 {
			t.Fatalf("after all: %d %v", n, err)
		}
		got, err := s.env.DB.Campaign(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.CampaignDone || got.Sent != 3 || got.Bounced != 1 || got.Skipped != 1 || got.Failed != 0 || got.Pending() != 0 {
			t.Errorf("campaign: %+v", got)
		}

		// What the members received: each in their language, with their
		// documents, under a Message-ID that does not change between tries.
		byTo := map[string]decoded{}
		for _, m := range srv.Mails() {
			byTo[m.To] = decode(t, m)
		}
		if len(byTo) != 3 || len(srv.Mails()) != 3 {
			t.Fatalf("accepted %d messages to %d addresses, want 3", len(srv.Mails()), len(byTo))
		}
		ja, en := byTo["ja@example.jp"], byTo["en@example.jp"]
		if !strings.Contains(ja.subject, "不正アクセス") || !strings.Contains(ja.body, "運転免許証（2026年11月に提出）") ||
			!strings.Contains(ja.body, "暗号化された状態のみ") || !strings.Contains(ja.body, "https://kakunin.example/notices") {
			t.Errorf("Japanese letter:\n%s\n%s", ja.subject, ja.body)
		}
		if !strings.Contains(en.subject, "unauthorised access") || !strings.Contains(en.body, "passport (submitted November 2026)") ||
			!strings.Contains(en.body, "reached only in encrypted form") || !strings.Contains(en.body, "support@example.jp") ||
			!strings.Contains(en.body, "From 22 November 2026, 18:00 JST to 24 November 2026, 17:00 JST") {
			t.Errorf("English letter:\n%s\n%s", en.subject, en.body)
		}
		if want := "<" + massmail.MessageID(c.ID, s.ids["busy"]) + "@example.jp>"; byTo["busy@example.jp"].messageID != want {
			t.Errorf("Message-ID %q, want %q", byTo["busy@example.jp"].messageID, want)
		}
		if ja.header.Get("Auto-Submitted") != "auto-generated" {
			t.Error("no Auto-Submitted header")
		}

		// Audited by ID, and never with an address.
		evs, err := s.env.Audit.List(ctx, audit.Filter{Action: audit.NotificationFinished})
		if err != nil || len(evs) != 1 || evs[0].Subject != c.ID || evs[0].Detail["sent"] != "3" || evs[0].Detail["bounced"] != "1" {
			t.Fatalf("finished event: %+v %v", evs, err)
		}
		all, err := s.env.Audit.List(ctx, audit.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range all {
			if strings.Contains(e.Subject+e.Origin+e.Actor, "@") {
				t.Errorf("an audit event names an address: %+v", e)
			}
			for _, v := range e.Detail {
				if strings.Contains(v, "@") {
					t.Errorf("an audit event names an address: %+v", e)
				}
			}
		}
	})
}

func TestATemporaryFailureGivesUpAfterTheLastAttempt(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		srv := startSMTP(t, func(to string) error {
			return &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
		})
		s := newSetup(t, dsn, members(1))
		ctx := t.Context()
		mailer, err := mail.NewSMTPMailer(srv.URL, "kakunin@example.jp", quiet)
		if err != nil {
			t.Fatal(err)
		}
		s.sender.Mailer, s.sender.MaxAttempts = mailer, 3
		c := s.start(t)
		if _, err := s.sender.EnqueueOnce(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if n, err := s.sender.SendOnce(ctx); err != nil || n != 1 {
				t.Fatalf("attempt %d: %d %v", i+1, n, err)
			}
			s.env.Clock.Add(massmail.MaxRetry)
		}
		r := s.rows(t, c.ID)["ext-a"]
		if r.State != store.NotificationFailed || r.Attempts != 3 || r.Code != 452 || r.Enhanced != "4.2.2" {
			t.Errorf("after three temporary refusals: %+v", r)
		}
	})
}

func TestAnUnreachableServerRetriesTheWholeBatchLater(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		s := newSetup(t, dsn, members(2))
		ctx := t.Context()
		mailer, err := mail.NewSMTPMailer("smtp://127.0.0.1:1?tls=none", "kakunin@example.jp", quiet, mail.WithTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		s.sender.Mailer = mailer
		c := s.start(t)
		if _, err := s.sender.EnqueueOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if n, err := s.sender.SendOnce(ctx); n != 2 || err == nil {
			t.Fatalf("want the batch reported unsent: %d %v", n, err)
		}
		for ext, r := range s.rows(t, c.ID) {
			if r.State != store.NotificationPending || r.Attempts != 1 || r.Code != 0 || !r.NextAttemptAt.After(servicetest.Start) {
				t.Errorf("%s: %+v", ext, r)
			}
		}
	})
}

// clockLimiter is a rate.Limiter on a clock of its own: waiting moves the
// clock instead of sleeping, so a test counts what the limiter allowed.
type clockLimiter struct {
	lim   *rate.Limiter
	mu    sync.Mutex
	now   time.Time
	calls []int
}

func (l *clockLimiter) WaitN(ctx context.Context, n int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.lim.ReserveN(l.now, n)
	if !r.OK() {
		return errors.New("more than the burst at once")
	}
	l.now = l.now.Add(r.DelayFrom(l.now))
	l.calls = append(l.calls, n)
	return nil
}

func (l *clockLimiter) Burst() int { return l.lim.Burst() }

func TestTheSenderKeepsToTheConfiguredRate(t *testing.T) {
	s := newSetup(t, storetest.SQLiteDSN(t), members(25))
	ctx := t.Context()
	srv := startSMTP(t, nil)
	mailer, err := mail.NewSMTPMailer(srv.URL, "kakunin@example.jp", quiet)
	if err != nil {
		t.Fatal(err)
	}
	// 5 messages a second: bursts of at most 5, each batch one session.
	lim := massmail.NewLimiter(5).(*rate.Limiter)
	if lim.Limit() != 5 || lim.Burst() != 5 {
		t.Fatalf("NewLimiter(5): limit %v burst %d", lim.Limit(), lim.Burst())
	}
	if massmail.NewLimiter(0) != nil {
		t.Fatal("NewLimiter(0) throttles")
	}
	start := time.Unix(0, 0)
	cl := &clockLimiter{lim: rate.NewLimiter(5, 5), now: start}
	cl.lim.ReserveN(start, 0)
	s.sender.Mailer, s.sender.Limiter, s.sender.Batch = mailer, cl, 100
	s.start(t)
	if _, err := s.sender.EnqueueOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := s.sender.SendOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if len(srv.Mails()) != 25 {
		t.Fatalf("%d sent", len(srv.Mails()))
	}
	total := 0
	for _, n := range cl.calls {
		if n > 5 {
			t.Errorf("a batch of %d passed a limiter of burst 5", n)
		}
		total += n
	}
	for _, n := range srv.Sessions() {
		if n > 5 {
			t.Errorf("a session sent %d messages, more than the burst", n)
		}
	}
	// 25 messages at 5 a second with a burst of 5: the first 5 at once,
	// the other 20 take 4 seconds of the limiter's clock.
	if total != 25 || cl.now.Sub(start) != 4*time.Second {
		t.Errorf("limiter passed %d messages in %v, want 25 in 4s", total, cl.now.Sub(start))
	}
}

func TestInvalidTemplatesAreRefusedAndChangeNothing(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		s := newSetup(t, dsn, members(1))
		ctx := t.Context()
		good := massmailtest.Letter()
		if _, err := s.svc.Save(ctx, s.inc.ID, good); err != nil {
			t.Fatal(err)
		}
		for name, tt := range map[string]struct {
			edit func(*massmail.Text)
			want string
		}{
			"unknown field":                     {func(x *massmail.Text) { x.BodyJA += "{{.Email}}" }, "body_ja"},
			"does not parse":                    {func(x *massmail.Text) { x.BodyEN = "{{if .AnyReadable}}" }, "body_en"},
			"empty subject":                     {func(x *massmail.Text) { x.SubjectEN = " " }, "subject_en"},
			"field of a document outside range": {func(x *massmail.Text) { x.SubjectJA = "{{.Month}}" }, "subject_ja"},
			"line break in a subject":           {func(x *massmail.Text) { x.SubjectJA = "a\u0085b" }, "subject_ja"},
			"too long":                          {func(x *massmail.Text) { x.BodyJA = strings.Repeat("あ", massmail.MaxBody+1) }, "body_ja"},
		} {
			bad := good
			tt.edit(&bad)
			_, err := s.svc.Save(ctx, s.inc.ID, bad)
			if kakunin.ErrorCode(err) != kakunin.EINVALID || !strings.Contains(kakunin.ErrorMessage(err), tt.want) {
				t.Errorf("%s: %v", name, err)
			}
		}
		_, c, err := s.svc.Campaign(ctx, s.inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if massmail.TextOf(c) != good {
			t.Error("a refused text changed the campaign")
		}
		evs, _ := s.env.Audit.List(ctx, audit.Filter{})
		n := 0
		for _, e := range evs {
			if strings.HasPrefix(e.Action, "notification.") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d notification events, want only the creation", n)
		}
	})
}

func TestStartingNeedsAPreviewOfTheTextAsItStands(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		s := newSetup(t, dsn, members(2))
		ctx := t.Context()
		if _, err := s.svc.Start(ctx, s.inc.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("start without a letter: %v", err)
		}
		if _, err := s.svc.Save(ctx, s.inc.ID, massmailtest.Letter()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Start(ctx, s.inc.ID); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("start without a preview: %v", err)
		}
		p, err := s.svc.Preview(ctx, s.inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Sample || p.Documents != 1 || !strings.Contains(p.JA.Body, "運転免許証") || !strings.Contains(p.EN.Body, "driver's licence") ||
			strings.Contains(p.JA.Body+p.EN.Body, "ext-") {
			t.Errorf("preview: %+v", p)
		}
		s.env.Clock.Add(time.Second)
		edited := massmailtest.Letter()
		edited.SubjectEN = "Changed"
		if _, err := s.svc.Save(ctx, s.inc.ID, edited); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Start(ctx, s.inc.ID); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("start after an edit not previewed: %v", err)
		}
		if _, err := s.svc.Preview(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Start(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Save(ctx, s.inc.ID, massmailtest.Letter()); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("edit after the start: %v", err)
		}
	})
}

func TestAPausedCampaignSendsNothingUntilResumed(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		s := newSetup(t, dsn, members(2))
		ctx := t.Context()
		srv := startSMTP(t, nil)
		mailer, err := mail.NewSMTPMailer(srv.URL, "kakunin@example.jp", quiet)
		if err != nil {
			t.Fatal(err)
		}
		s.sender.Mailer = mailer
		s.start(t)
		if err := s.svc.Pause(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.svc.Pause(ctx, s.inc.ID); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("pause twice: %v", err)
		}
		// Enqueuing goes on while paused; sending does not.
		if did, err := s.sender.EnqueueOnce(ctx); err != nil || !did {
			t.Fatalf("enqueue while paused: %v %v", did, err)
		}
		if n, err := s.sender.SendOnce(ctx); err != nil || n != 0 || len(srv.Mails()) != 0 {
			t.Fatalf("paused campaign sent %d (%v)", n, err)
		}
		if err := s.svc.Resume(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := s.sender.SendOnce(ctx); err != nil || n != 2 || len(srv.Mails()) != 2 {
			t.Fatalf("resumed campaign sent %d (%v)", n, err)
		}
		for _, action := range []string{audit.NotificationPaused, audit.NotificationResumed, audit.NotificationStarted,
			audit.NotificationPreviewed, audit.NotificationCreated} {
			if evs, err := s.env.Audit.List(ctx, audit.Filter{Action: action}); err != nil || len(evs) != 1 {
				t.Errorf("%s: %d events (%v)", action, len(evs), err)
			}
		}
	})
}

func TestProgressCountsAndChartsPerMinute(t *testing.T) {
	s := newSetup(t, storetest.SQLiteDSN(t), members(6))
	ctx := t.Context()
	srv := startSMTP(t, nil)
	mailer, err := mail.NewSMTPMailer(srv.URL, "kakunin@example.jp", quiet)
	if err != nil {
		t.Fatal(err)
	}
	s.sender.Mailer, s.sender.Batch = mailer, 2
	s.start(t)
	if _, err := s.sender.EnqueueOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := s.sender.SendOnce(ctx); err != nil {
			t.Fatal(err)
		}
		s.env.Clock.Add(time.Minute)
	}
	p, err := s.svc.Progress(ctx, s.inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Campaign.Sent != 4 || p.Pending != 2 || p.Enqueuing || len(p.Buckets) != 3 || p.BucketMinutes != 1 {
		t.Fatalf("progress: %+v", p)
	}
	if p.Buckets[0].Sent != 2 || p.Buckets[1].Sent != 2 || p.Buckets[2].Sent != 0 {
		t.Errorf("buckets: %+v", p.Buckets)
	}
	// 4 sent over 2 minutes: 2 a minute, so the 2 left take a minute.
	if p.PerMinute != 2 || p.Remaining != time.Minute {
		t.Errorf("rate %v/min, remaining %v", p.PerMinute, p.Remaining)
	}
}
