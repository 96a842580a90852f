package verification_test

import (
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/webhook"
)

// A member has one open verification: asking again returns it, same link,
// instead of a second link able to hold an image for days.
func TestAskingAgainReturnsTheMembersOpenVerification(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		first, firstURL, created, err := e.Verifications.OpenOrCreate(e.ctx, "m1")
		if err != nil || !created {
			t.Fatalf("first = %v, created %v, %v; want a new verification", first, created, err)
		}
		e.Clock.Add(time.Hour)
		again, againURL, created, err := e.Verifications.OpenOrCreate(e.ctx, "m1")
		if err != nil || created {
			t.Fatalf("again = %v, created %v, %v; want the open one back", again, created, err)
		}
		if again.ID != first.ID || againURL != firstURL || !again.ExpiresAt.Equal(first.ExpiresAt) {
			t.Fatalf("again = %s %s (expires %v), want %s %s (expires %v)", again.ID, againURL, again.ExpiresAt, first.ID, firstURL, first.ExpiresAt)
		}
		vs, _, err := e.DB.VerificationsOfExternalID(e.ctx, "m1")
		if err != nil || len(vs) != 1 {
			t.Fatalf("%d verifications, %v; want 1", len(vs), err)
		}
	})
}

// An open verification whose link expired before the sweep ended it is
// ended now (the host is told) and replaced by a new one.
func TestAnOpenVerificationPastItsLinkExpiryIsEndedAndReplaced(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		if _, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako@example.jp", kakunin.LocaleJA); err != nil {
			t.Fatal(err)
		}
		first, _, _, err := e.Verifications.OpenOrCreate(e.ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		e.Clock.Set(first.ExpiresAt)
		next, _, created, err := e.Verifications.OpenOrCreate(e.ctx, "m1")
		if err != nil || !created || next.ID == first.ID {
			t.Fatalf("after expiry = %v, created %v, %v; want a new verification", next, created, err)
		}
		if old, err := e.Verifications.Get(e.ctx, first.ID); err != nil || old.Status != kakunin.StatusExpired {
			t.Fatalf("old verification = %+v, %v; want expired", old, err)
		}
		jobs := e.Jobs.All()
		if len(jobs) != 1 {
			t.Fatalf("%d jobs, want the expired one's webhook", len(jobs))
		}
		if hook, ok := jobs[0].Args.(webhook.DeliverArgs); !ok || hook.Event.Type != "verification.expired" {
			t.Fatalf("job = %#v, want a verification.expired webhook", jobs[0].Args)
		}
	})
}

// The rule holds in the database, for whatever writes there: a second
// open verification of one member is refused as a conflict; once the
// first has its upload, a new one may open.
func TestTheDatabaseRefusesASecondOpenVerification(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		m, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "hanako@example.jp", kakunin.LocaleJA)
		if err != nil {
			t.Fatal(err)
		}
		v := func(id string) *kakunin.Verification {
			return &kakunin.Verification{ID: id, MemberID: m.ID, Status: kakunin.StatusAwaitingUpload,
				ExpiresAt: start.Add(time.Hour), CreatedAt: start, UpdatedAt: start}
		}
		if err := e.DB.InsertVerification(e.ctx, v("ver_a")); err != nil {
			t.Fatal(err)
		}
		if err := e.DB.InsertVerification(e.ctx, v("ver_b")); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("second open verification = %v, want ECONFLICT", err)
		}
		if ok, err := e.DB.SetVerificationStatus(e.ctx, "ver_a", kakunin.StatusAwaitingUpload, kakunin.StatusSubmitted, start); err != nil || !ok {
			t.Fatalf("submit: %v %v", ok, err)
		}
		if err := e.DB.InsertVerification(e.ctx, v("ver_b")); err != nil {
			t.Fatalf("new verification once the first was submitted: %v", err)
		}
	})
}
