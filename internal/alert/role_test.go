package alert_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/mail/mailtest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// addResponder creates an active (or, with "locked" in its name, locked)
// responder; addStaff makes admins and reviewers only.
func (e *alertEnv) addResponder(t *testing.T, name string) {
	t.Helper()
	rec := &store.StaffRecord{ID: kakunin.NewID("stf"), Email: name + "@example.jp", Role: kakunin.RoleResponder,
		PasswordHash: "x", TOTPSealed: []byte{0}, CreatedAt: time.Now().UTC()}
	if strings.Contains(name, "locked") {
		at := time.Now().UTC()
		rec.LockedAt = &at
	}
	if err := e.db.InsertStaff(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	e.staff[name] = rec
}

func TestAnAlertForRespondersIsMailedToEveryActiveResponderAndNoAdmin(t *testing.T) {
	t.Parallel()
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newAlertEnv(t, dsn, envOptions{})
		e.addResponder(t, "responder-a")
		e.addResponder(t, "responder-b")
		e.addResponder(t, "responder-locked")
		e.start(t)
		e.raise(t, alert.Alert{Kind: alert.KindIncidentOverdue, Role: kakunin.RoleResponder, At: time.Now(),
			Detail: map[string]string{"incident": "inc_1", "obligation": "ppc_preliminary", "due": "2026-11-29T09:00:00Z"}}, true)
		e.settle(t)

		if got, want := e.recipients(), []string{"responder-a@example.jp", "responder-b@example.jp"}; !slices.Equal(got, want) {
			t.Fatalf("mailed to %v, want %v (responders only, not the locked one, no admin)", got, want)
		}
		for _, m := range e.smtp.Mails() {
			msg := mailtest.Parse(t, m.Data)
			for _, want := range []string{"インシデント対応担当者全員", "every kakunin incident responder", "inc_1", "ppc_preliminary",
				"Incident: inc_1", "Obligation: ppc_preliminary"} {
				if !strings.Contains(msg.Body, want) {
					t.Errorf("the mail lacks %q:\n%s", want, msg.Body)
				}
			}
			if strings.Contains(msg.Body, "%!") {
				t.Errorf("a format verb was left unfilled:\n%s", msg.Body)
			}
		}
	})
}
