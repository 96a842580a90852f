package review_test

import (
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// staff returns a staff record as the console would hand it to Image.
func (e *env) staff(id string) *store.StaffRecord {
	e.t.Helper()
	st, err := e.DB.StaffByID(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func TestTheReadQuotaLocksTheReviewerAlertsAndAuditsAndTheWindowRolls(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.Review.ReadQuota, e.Review.ReadQuotaWindow = 3, time.Hour
		img := samplePNG(t)
		_, d := e.submit(img)
		_ = e.next(alice)

		// Three reads of the task's image (a reviewer may look again) are
		// within the quota; each is recorded and audited.
		for range 3 {
			if _, err := e.Review.Image(e.ctx, e.staff(alice), d.ID); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := e.DB.CountReadsSince(e.ctx, alice, start.Add(-time.Hour)); n != 3 {
			t.Fatalf("%d reads recorded, want 3", n)
		}
		if len(e.Alerts.All()) != 0 {
			t.Fatal("an alert before the quota was exceeded")
		}

		// The fourth is refused: the account locks, its sessions end, an
		// alert is raised and both the refusal and the lock are audited.
		if _, err := e.Review.Image(e.ctx, e.staff(alice), d.ID); err != review.ErrQuotaExceeded {
			t.Fatalf("read beyond the quota: %v, want ErrQuotaExceeded", err)
		}
		st := e.staff(alice)
		if st.LockedAt == nil {
			t.Fatal("the account is not locked")
		}
		if n, _ := e.DB.CountReadsSince(e.ctx, alice, start.Add(-time.Hour)); n != 3 {
			t.Fatalf("the refused read was recorded as a read: %d", n)
		}
		alerts := e.Alerts.All()
		if len(alerts) != 1 || alerts[0].Kind != audit.QuotaExceeded || alerts[0].StaffID != alice || alerts[0].Detail["quota"] != "3" {
			t.Fatalf("alerts %+v", alerts)
		}
		events, err := e.Audit.List(e.ctx, audit.Filter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		count := map[string]int{}
		for _, ev := range events {
			count[ev.Action]++
			if ev.Action == audit.DocumentRead && (ev.Subject != d.ID || ev.Actor != audit.StaffActor(alice)) {
				t.Errorf("read event %+v", ev)
			}
		}
		if count[audit.DocumentRead] != 3 || count[audit.QuotaExceeded] != 1 || count[audit.StaffLocked] != 1 {
			t.Fatalf("audit holds %v", count)
		}

		// Another reviewer is not affected.
		_, d2 := e.submit(img)
		_ = d2
		got := e.next(bob)
		if _, err := e.Review.Image(e.ctx, e.staff(bob), got.ID); err != nil {
			t.Fatalf("bob: %v", err)
		}

		// An admin unlocks; an hour later the window has rolled and alice
		// reads again.
		if err := e.DB.UnlockStaff(e.ctx, alice); err != nil {
			t.Fatal(err)
		}
		e.Clock.Add(time.Hour + time.Second)
		if _, err := e.Review.Image(e.ctx, e.staff(alice), d.ID); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func TestAReadIsRefusedWhenItCannotBeAudited(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		_, d := e.submit(samplePNG(t))
		_ = e.next(alice)
		// Without its audit table the log cannot take the event: no image
		// may be shown and no read counted.
		if _, err := e.DB.SQL().ExecContext(e.ctx, `DROP TABLE audit_events`); err != nil {
			t.Fatal(err)
		}
		if img, err := e.Review.Image(e.ctx, e.staff(alice), d.ID); err == nil || img != nil {
			t.Fatalf("image served without an audit record (err %v)", err)
		}
		if n, _ := e.DB.CountReadsSince(e.ctx, alice, start.Add(-time.Hour)); n != 0 {
			t.Fatalf("%d reads recorded", n)
		}
	})
}

func TestOnlyReviewersReview(t *testing.T) {
	for _, r := range kakunin.Roles {
		if got, want := review.CanReview(r), r == kakunin.RoleReviewer; got != want {
			t.Errorf("CanReview(%s) = %v", r, got)
		}
	}
}
