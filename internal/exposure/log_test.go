package exposure_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// Whoever reads the service's logs must not learn from them whether an
// address belongs to a member: every outcome writes the same lines, the
// check ID and time aside.
func TestTheLogsOfACheckAreTheSameForAMemberAndAStranger(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		var buf bytes.Buffer
		f.svc.Log = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
		f.svc.Limits = exposure.Limits{Address: 1, AddressWindow: 24 * time.Hour}
		f.member(t, "ext-log", "member@example.jp", kakunin.LocaleJA)
		f.member(t, "ext-bounce", "bounce@example.jp", kakunin.LocaleJA)
		ctx := context.Background()

		logsOf := func(mailer *recorder, typed string) (exposure.Outcome, []string) {
			t.Helper()
			buf.Reset()
			out, err := f.svc.Deliver(ctx, mailer, f.check(t, "o-"+typed, typed, kakunin.LocaleJA))
			must(t, err)
			var lines []string
			for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
				var rec map[string]any
				must(t, json.Unmarshal(line, &rec))
				delete(rec, "time")
				delete(rec, "check")
				b, _ := json.Marshal(rec)
				lines = append(lines, string(b))
			}
			return out, lines
		}
		refusal := &mail.SendError{Messages: map[int]mail.Failure{0: {Stage: "RCPT TO", Code: 550, Permanent: true}}, Total: 1}
		outcomes := map[exposure.Outcome][]string{}
		for _, c := range []struct {
			mailer *recorder
			typed  string
		}{
			{&recorder{}, "member@example.jp"},                       // answered
			{&recorder{}, "member@example.jp"},                       // limited
			{&recorder{fail: []error{refusal}}, "bounce@example.jp"}, // refused
			{&recorder{}, "stranger@example.jp"},                     // nothing
		} {
			out, lines := logsOf(c.mailer, c.typed)
			outcomes[out] = lines
		}
		f.svc.NoAccountMail = true
		out, lines := logsOf(&recorder{}, "other@example.jp")
		outcomes[out] = lines
		out, lines = logsOf(&recorder{}, "other@example.jp")
		outcomes[out+" (no account)"] = lines

		if len(outcomes) != 6 {
			t.Fatalf("outcomes reached: %v", slices.Collect(maps.Keys(outcomes)))
		}
		want := outcomes[exposure.OutcomeNothing]
		if len(want) != 1 {
			t.Fatalf("a stranger's check logs %d lines, want 1: %v", len(want), want)
		}
		for out, lines := range outcomes {
			if !slices.Equal(lines, want) {
				t.Errorf("%s logs %v; a stranger's check logs %v", out, lines, want)
			}
		}
	})
}
