package exposure_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

var heldEverything = kakunin.IncidentHeld{Database: true, Blobs: true, Keys: true}

func TestACheckEnqueuesOneSealedJobAndAuditsNothingPersonal(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		f.member(t, "ext-1", "Hanako.Sato@Example.jp", kakunin.LocaleJA)
		args := f.check(t, "origin-a", "  hanako.sato@example.jp ", kakunin.LocaleEN)
		if !strings.HasPrefix(args.ID, "chk_") || args.Lang != kakunin.LocaleEN {
			t.Errorf("args = %+v", args)
		}
		raw, _ := json.Marshal(args)
		for _, s := range []string{"hanako", "Hanako", "example.jp", "@"} {
			if strings.Contains(string(raw), s) {
				t.Errorf("job arguments hold %q in clear: %s", s, raw)
			}
		}
		var evs []audit.Event
		must(t, audit.Walk(context.Background(), f.env.DB, 0, func(ev audit.Event) error { evs = append(evs, ev); return nil }))
		var found bool
		for _, ev := range evs {
			if ev.Action != audit.ExposureChecked {
				continue
			}
			found = true
			if ev.Actor != "public" || ev.Subject != args.ID || ev.Origin != "origin-a" {
				t.Errorf("event = %+v", ev)
			}
			for k, v := range ev.Detail {
				if strings.Contains(v, "@") || strings.Contains(strings.ToLower(v), "hanako") {
					t.Errorf("detail %s = %q names the address", k, v)
				}
			}
			if len(ev.Detail["address_hash"]) != 16 {
				t.Errorf("address_hash = %q, want 16 hex digits", ev.Detail["address_hash"])
			}
		}
		if !found {
			t.Error("no exposure.checked event")
		}
	})
}

func TestACheckOfAMemberAndOfAStrangerDoesTheSameWork(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		f.member(t, "ext-1", "member@example.jp", kakunin.LocaleJA)
		a := f.check(t, "o", "member@example.jp", kakunin.LocaleJA)
		b := f.check(t, "o", "nobody@example.jp", kakunin.LocaleJA)
		// Same shape: the sealed address differs in nothing but its bytes.
		if len(a.Address) != len(b.Address) || a.Lang != b.Lang {
			t.Errorf("member job %d bytes, stranger %d", len(a.Address), len(b.Address))
		}
	})
}

func TestACheckRefusesTextThatIsNoAddress(t *testing.T) {
	f := newFixture(t, storetest.SQLiteDSN(t))
	for _, typed := range []string{"", "   ", "no-at-sign", "a@b@c", "Name <a@example.jp>", "a@example.jp, b@example.jp",
		"a\r\n@example.jp", strings.Repeat("a", 250) + "@example.jp"} {
		err := f.svc.Check(context.Background(), typed, kakunin.LocaleJA)
		if kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("Check(%q) = %v, want invalid", typed, err)
		}
	}
	if n := len(f.env.Jobs.All()); n != 0 {
		t.Errorf("%d jobs enqueued for invalid input", n)
	}
}

func TestChecksAreLimitedPerClient(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		f.svc.Limits = exposure.Limits{Client: 3, ClientWindow: time.Hour}
		ctx := audit.WithOrigin(context.Background(), "client-a")
		for i := range 3 {
			must(t, f.svc.Check(ctx, fmt.Sprintf("someone%d@example.jp", i), kakunin.LocaleJA))
			f.env.Clock.Add(time.Minute)
		}
		if err := f.svc.Check(ctx, "other@example.jp", kakunin.LocaleJA); kakunin.ErrorCode(err) != kakunin.ERATELIMIT {
			t.Fatalf("4th check = %v, want rate limited", err)
		}
		if n := len(f.env.Jobs.All()); n != 3 {
			t.Errorf("%d jobs, want 3: a refused check enqueues nothing", n)
		}
		// Another client is not affected; the first is again once its
		// oldest check left the window.
		must(t, f.svc.Check(audit.WithOrigin(context.Background(), "client-b"), "someone@example.jp", kakunin.LocaleJA))
		f.env.Clock.Add(time.Hour - 3*time.Minute + time.Second)
		must(t, f.svc.Check(ctx, "someone@example.jp", kakunin.LocaleJA))
		if err := f.svc.Check(ctx, "someone@example.jp", kakunin.LocaleJA); kakunin.ErrorCode(err) != kakunin.ERATELIMIT {
			t.Errorf("check within the window = %v, want rate limited", err)
		}
	})
}

func TestAnAffectedMemberIsMailedAtTheRegisteredAddressInJapanese(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		m := f.member(t, "ext-1", "Hanako.Sato@Example.jp", kakunin.LocaleJA)
		f.document(t, m.ID, kakunin.DocDriversLicence, time.Date(2026, 11, 10, 3, 0, 0, 0, time.UTC))
		f.document(t, m.ID, kakunin.DocPassport, time.Date(2026, 11, 21, 3, 0, 0, 0, time.UTC)) // after the window
		f.incident(t, kakunin.IncidentIdentified, heldEverything)
		f.incident(t, kakunin.IncidentInvestigating, heldEverything) // not scoped yet: not in the answer

		mailer := &recorder{}
		out, err := f.svc.Deliver(context.Background(), mailer, f.check(t, "o", " hanako.sato@EXAMPLE.jp", kakunin.LocaleEN))
		must(t, err)
		msgs := mailer.all()
		if out != exposure.OutcomeAnswered || len(msgs) != 1 {
			t.Fatalf("outcome %s, %d mails", out, len(msgs))
		}
		msg := msgs[0]
		if len(msg.To) != 1 || msg.To[0] != "Hanako.Sato@Example.jp" {
			t.Errorf("To = %v, want the registered address as registered", msg.To)
		}
		if !strings.Contains(msg.Subject, "影響確認の結果") {
			t.Errorf("subject = %q", msg.Subject)
		}
		for _, want := range []string{"2026年11月22日に判明した事案", "影響あり", "運転免許証（2026年11月に提出）",
			"画像が読み取られた可能性があります", "フィッシング", "メールで求めることはありません",
			publicURL + "/notices", publicURL + "/check/r/", "2026年11月25日 18:00まで有効"} {
			if !strings.Contains(msg.Text, want) {
				t.Errorf("mail lacks %q:\n%s", want, msg.Text)
			}
		}
		for _, bad := range []string{"パスポート", "hanako.sato@EXAMPLE.jp"} {
			if strings.Contains(msg.Text, bad) {
				t.Errorf("mail holds %q", bad)
			}
		}
		if strings.Count(msg.Text, "に判明した事案") != 1 {
			t.Errorf("an incident still investigating is in the answer:\n%s", msg.Text)
		}
		// The link in the mail opens this member's answer.
		link := msg.Text[strings.Index(msg.Text, publicURL+"/check/r/"):]
		token := strings.TrimPrefix(strings.Fields(link)[0], publicURL+"/check/r/")
		v, err := f.svc.Open(context.Background(), token)
		must(t, err)
		if v.MemberID != m.ID || len(v.Answers) != 1 || !v.Answers[0].Exposure.Affected {
			t.Errorf("view = %+v", v)
		}
	})
}

func TestAnUnaffectedMemberIsToldSoInEnglish(t *testing.T) {
	f := newFixture(t, storetest.SQLiteDSN(t))
	m := f.member(t, "ext-2", "bob@example.com", kakunin.LocaleEN)
	f.document(t, m.ID, kakunin.DocMyNumberCard, time.Date(2026, 10, 2, 3, 0, 0, 0, time.UTC))
	// Held the database only: ciphertext of nothing, so nobody is affected.
	f.incident(t, kakunin.IncidentNotifying, kakunin.IncidentHeld{Database: true})
	mailer := &recorder{}
	_, err := f.svc.Deliver(context.Background(), mailer, f.check(t, "o", "bob@example.com", kakunin.LocaleJA))
	must(t, err)
	msgs := mailer.all()
	if len(msgs) != 1 {
		t.Fatalf("%d mails", len(msgs))
	}
	text := msgs[0].Text
	for _, want := range []string{"The incident discovered on 22 November 2026", "Not affected", "phishing",
		"never ask you by e-mail", publicURL + "/notices", "until 25 November 2026, 18:00 JST"} {
		if !strings.Contains(text, want) {
			t.Errorf("mail lacks %q:\n%s", want, text)
		}
	}
	if hasJapanese(text + msgs[0].Subject) {
		t.Errorf("English mail holds Japanese:\n%s", text)
	}
}

func TestAMemberIsToldHonestlyWhenNoIncidentIsKnown(t *testing.T) {
	f := newFixture(t, storetest.SQLiteDSN(t))
	m := f.member(t, "ext-3", "carol@example.com", kakunin.LocaleEN)
	f.document(t, m.ID, kakunin.DocPassport, time.Date(2026, 11, 10, 3, 0, 0, 0, time.UTC))
	mailer := &recorder{}
	_, err := f.svc.Deliver(context.Background(), mailer, f.check(t, "o", "carol@example.com", kakunin.LocaleEN))
	must(t, err)
	if msgs := mailer.all(); len(msgs) != 1 || !strings.Contains(msgs[0].Text, "We know of no incident that affected your documents.") {
		t.Errorf("mails = %+v", msgs)
	}
}

func TestAMemberWhoLeftIsNotReached(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		f.svc.NoAccountMail = true // even then: the address is no longer theirs to us
		m := f.member(t, "ext-4", "gone@example.jp", kakunin.LocaleJA)
		f.document(t, m.ID, kakunin.DocPassport, time.Date(2026, 11, 10, 3, 0, 0, 0, time.UTC))
		f.incident(t, kakunin.IncidentIdentified, heldEverything)
		token := exposure.LinkToken(f.env.Vault, m.ID, exposure.ViaMail, f.env.Clock.Now().Add(time.Hour))
		must(t, f.env.Verifications.MemberLeft(context.Background(), "ext-4"))

		mailer := &recorder{}
		f.svc.NoAccountMail = false
		out, err := f.svc.Deliver(context.Background(), mailer, f.check(t, "o", "gone@example.jp", kakunin.LocaleJA))
		must(t, err)
		if out != exposure.OutcomeNothing || len(mailer.all()) != 0 {
			t.Errorf("outcome %s, mails %v", out, mailer.all())
		}
		if _, err := f.svc.Open(context.Background(), token); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("a left member's link opens: %v", err)
		}
	})
}

func TestAStrangerGetsNothingUnlessTheOperatorAllowsOneMailADay(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		mailer := &recorder{}
		out, err := f.svc.Deliver(context.Background(), mailer, f.check(t, "o", "stranger@example.jp", kakunin.LocaleJA))
		must(t, err)
		if out != exposure.OutcomeNothing || len(mailer.all()) != 0 {
			t.Fatalf("option off: outcome %s, %d mails", out, len(mailer.all()))
		}

		f.svc.NoAccountMail = true
		first := f.check(t, "o", "Stranger@example.jp", kakunin.LocaleEN)
		out, err = f.svc.Deliver(context.Background(), mailer, first)
		must(t, err)
		msgs := mailer.all()
		if out != exposure.OutcomeNoAccount || len(msgs) != 1 {
			t.Fatalf("option on: outcome %s, %d mails", out, len(msgs))
		}
		if msgs[0].To[0] != "Stranger@example.jp" || !strings.Contains(msgs[0].Text, "No account uses this address") || hasJapanese(msgs[0].Text) {
			t.Errorf("mail = %+v", msgs[0])
		}
		// The same job retried (the mail server failed after accepting)
		// is still allowed; a new check the same day is not.
		out, err = f.svc.Deliver(context.Background(), mailer, first)
		must(t, err)
		if out != exposure.OutcomeNoAccount {
			t.Errorf("retry of the same check: %s", out)
		}
		f.env.Clock.Add(23 * time.Hour)
		out, err = f.svc.Deliver(context.Background(), mailer, f.check(t, "o", "stranger@example.jp", kakunin.LocaleJA))
		must(t, err)
		if out != exposure.OutcomeLimited || len(mailer.all()) != 2 {
			t.Errorf("second check within a day: outcome %s, %d mails", out, len(mailer.all()))
		}
		f.env.Clock.Add(time.Hour + time.Second)
		out, err = f.svc.Deliver(context.Background(), mailer, f.check(t, "o", "stranger@example.jp", kakunin.LocaleJA))
		must(t, err)
		if out != exposure.OutcomeNoAccount {
			t.Errorf("a day later: %s", out)
		}
		if ja := mailer.all()[len(mailer.all())-1]; !strings.Contains(ja.Text, "このアドレスを登録しているアカウントはありません") {
			t.Errorf("Japanese no-account mail:\n%s", ja.Text)
		}
	})
}

func TestAnAddressGetsAtMostItsShareOfAnswersAndNoSign(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		f.svc.Limits = exposure.Limits{Address: 3, AddressWindow: 24 * time.Hour}
		f.member(t, "ext-5", "popular@example.jp", kakunin.LocaleJA)
		mailer := &recorder{}
		for i := range 5 {
			// From different clients: the per-address limit is what holds.
			origin := "client-" + string(rune('a'+i))
			out, err := f.svc.Deliver(context.Background(), mailer, f.check(t, origin, "popular@example.jp", kakunin.LocaleJA))
			must(t, err)
			want := exposure.OutcomeAnswered
			if i >= 3 {
				want = exposure.OutcomeLimited
			}
			if out != want {
				t.Errorf("check %d: %s, want %s", i+1, out, want)
			}
			f.env.Clock.Add(time.Hour)
		}
		if n := len(mailer.all()); n != 3 {
			t.Errorf("%d mails, want 3", n)
		}
		f.env.Clock.Add(20 * time.Hour) // the first answer left the window
		out, err := f.svc.Deliver(context.Background(), mailer, f.check(t, "z", "popular@example.jp", kakunin.LocaleJA))
		must(t, err)
		if out != exposure.OutcomeAnswered {
			t.Errorf("after the window: %s", out)
		}
	})
}

func TestATemporaryMailFailureIsRetriedAndCountedOnce(t *testing.T) {
	f := newFixture(t, storetest.SQLiteDSN(t))
	f.svc.Limits = exposure.Limits{Address: 1}
	f.member(t, "ext-6", "flaky@example.jp", kakunin.LocaleJA)
	mailer := &recorder{fail: []error{errTemporary}}
	args := f.check(t, "o", "flaky@example.jp", kakunin.LocaleJA)
	if _, err := f.svc.Deliver(context.Background(), mailer, args); err == nil {
		t.Fatal("a temporary failure was not returned for River to retry")
	}
	out, err := f.svc.Deliver(context.Background(), mailer, args)
	must(t, err)
	if out != exposure.OutcomeAnswered || len(mailer.all()) != 1 {
		t.Errorf("retry: outcome %s, %d mails", out, len(mailer.all()))
	}
	// A permanent refusal completes the job: retrying cannot help.
	f.env.Clock.Add(25 * time.Hour)
	mailer.fail = []error{&mail.SendError{Messages: map[int]mail.Failure{0: {Stage: "RCPT TO", Code: 550, Permanent: true}}, Total: 1}}
	out, err = f.svc.Deliver(context.Background(), mailer, f.check(t, "o", "flaky@example.jp", kakunin.LocaleJA))
	if err != nil || out != exposure.OutcomeRefused {
		t.Errorf("permanent refusal: outcome %s, err %v", out, err)
	}
}

func TestRateLimitHitsArePruned(t *testing.T) {
	f := newFixture(t, storetest.SQLiteDSN(t))
	must(t, f.svc.Check(audit.WithOrigin(context.Background(), "gone-quiet"), "a@example.jp", kakunin.LocaleJA))
	f.env.Clock.Add(25 * time.Hour)
	must(t, f.svc.Check(audit.WithOrigin(context.Background(), "still-here"), "a@example.jp", kakunin.LocaleJA))
	n, err := f.svc.Prune(context.Background())
	must(t, err)
	if n != 1 {
		t.Errorf("pruned %d hits, want 1 (the one past every window)", n)
	}
}

func hasJapanese(s string) bool {
	for _, r := range s {
		if r >= 0x3000 && r <= 0x9fff || r >= 0xff00 && r <= 0xffef {
			return true
		}
	}
	return false
}
