package massmail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestTheDefaultLetterAssertsOnlyWhatTheRecordHoldsAndBlocksTheStartUntilFilled(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		s := newSetup(t, dsn, members(1))
		ctx := audit.WithActor(t.Context(), "staff:stf_test")
		if _, err := s.svc.Save(ctx, s.inc.ID, massmail.DefaultText()); err != nil {
			t.Fatal(err)
		}
		p, err := s.svc.Preview(ctx, s.inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		// Nothing recorded: no claim that keys were replaced or the PPC told.
		for _, r := range []massmail.Rendered{p.JA, p.EN} {
			if !strings.Contains(r.Body, massmail.Placeholder(r.Lang)) {
				t.Errorf("%s letter has no placeholder for the unrecorded facts:\n%s", r.Lang, r.Body)
			}
		}
		if strings.Contains(p.EN.Body, "have reported the incident") || strings.Contains(p.JA.Body, "報告しています") {
			t.Error("the letter claims a report the record does not hold")
		}
		if _, err := s.svc.Start(ctx, s.inc.ID); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("start with placeholders left: %v", err)
		}
		if v, _ := s.svc.View(ctx, s.inc.ID); v.StartRefusal() != massmail.RefusedPlaceholder {
			t.Errorf("refusal %q, want placeholder", v.StartRefusal())
		}

		// Record the facts: the PPC report on the incident, a key rotation
		// after the discovery (one before it does not count).
		before := s.inc.DiscoveredAt.Add(-time.Hour)
		rotated := s.inc.DiscoveredAt.Add(26 * time.Hour)
		reported := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
		for _, at := range []time.Time{before, rotated, rotated.Add(24 * time.Hour)} {
			if err := s.env.Audit.Append(ctx, audit.Event{At: at, Action: audit.KEKRotated, Actor: "cli", Subject: "kek"}); err != nil {
				t.Fatal(err)
			}
		}
		inc, err := s.env.DB.Incident(ctx, s.inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		inc.PreliminaryReportedAt = &reported
		if err := s.env.DB.UpdateIncident(ctx, inc); err != nil {
			t.Fatal(err)
		}
		if p, err = s.svc.Preview(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"on " + rotatedEN(rotated), "Commission on 22 November 2026"} {
			if !strings.Contains(p.EN.Body, want) {
				t.Errorf("English letter lacks %q:\n%s", want, p.EN.Body)
			}
		}
		if !strings.Contains(p.JA.Body, "2026年11月22日に個人情報保護委員会へ報告しました") {
			t.Errorf("Japanese letter lacks the report date:\n%s", p.JA.Body)
		}
		// The sentence to write is still a placeholder: still blocked.
		if _, err := s.svc.Start(ctx, s.inc.ID); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("start with the written part left: %v", err)
		}
		text := massmail.DefaultText()
		text.BodyJA = strings.Replace(text.BodyJA, "【要記入：不正なアクセスを止めた方法と、調査の体制】", "経路を遮断しました。", 1)
		text.BodyEN = strings.Replace(text.BodyEN, "[to fill in: how the access was stopped, and who is investigating]", "We closed the route.", 1)
		if _, err := s.svc.Save(ctx, s.inc.ID, text); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Preview(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Start(ctx, s.inc.ID); err != nil {
			t.Fatalf("start with every placeholder filled: %v", err)
		}
	})
}

// rotatedEN is the English date of t, as letters write it.
func rotatedEN(t time.Time) string {
	return t.In(time.FixedZone("JST", 9*3600)).Format("2 January 2006")
}

func TestSegmentsMarkEveryPlaceholder(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []massmail.Segment
	}{
		{"no placeholder", []massmail.Segment{{Text: "no placeholder"}}},
		{"【要記入】に交換", []massmail.Segment{{Text: "【要記入】", Mark: true}, {Text: "に交換"}}},
		{"a [to fill in: x] b [to fill in]", []massmail.Segment{{Text: "a "}, {Text: "[to fill in: x]", Mark: true}, {Text: " b "}, {Text: "[to fill in]", Mark: true}}},
		{"x【要記入：何か】y[to fill in", []massmail.Segment{{Text: "x"}, {Text: "【要記入：何か】", Mark: true}, {Text: "y"}, {Text: "[to fill in", Mark: true}}},
		{"[other] 【注意】", []massmail.Segment{{Text: "[other] 【注意】"}}},
	} {
		got := massmail.Segments(tc.in)
		if len(got) != len(tc.want) {
			t.Errorf("%q: %+v, want %+v", tc.in, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: %+v, want %+v", tc.in, got, tc.want)
				break
			}
		}
	}
}
