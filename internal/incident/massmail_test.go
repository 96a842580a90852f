package incident_test

import (
	"context"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// The mass notification moves the record along: started → notifying (not
// back from later), finished → individuals notified (a date the responder
// recorded is kept).
func TestTheMassNotificationMovesTheRecordAlong(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		d := newDesk(t, dsn)
		rec := record(d)
		rec.WindowFrom, rec.WindowTo = d.now.Add(-72*time.Hour), d.now.Add(-2*time.Hour)
		in, err := d.s.Create(d.ctx, rec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.s.Advance(d.ctx, in.ID, kakunin.IncidentIdentified, ""); err != nil {
			t.Fatal(err)
		}
		d.now = d.now.Add(time.Minute)
		if err := d.s.NotificationStarted(d.ctx, in.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := d.s.Get(d.ctx, in.ID)
		if got.Status != kakunin.IncidentNotifying {
			t.Fatalf("after the start: %s", got.Status)
		}
		if _, err := d.s.Advance(d.ctx, in.ID, kakunin.IncidentMonitoring, ""); err != nil {
			t.Fatal(err)
		}
		if err := d.s.NotificationStarted(d.ctx, in.ID); err != nil {
			t.Fatalf("a campaign started after monitoring: %v", err)
		}
		if got, _ := d.s.Get(d.ctx, in.ID); got.Status != kakunin.IncidentMonitoring {
			t.Errorf("a late start moved the incident back to %s", got.Status)
		}

		finished := d.now.Add(-time.Second)
		if err := d.s.NotificationFinished(context.Background(), in.ID, finished); err != nil {
			t.Fatal(err)
		}
		got, _ = d.s.Get(d.ctx, in.ID)
		if got.IndividualsNotifiedAt == nil || !got.IndividualsNotifiedAt.Equal(finished.Truncate(time.Microsecond)) {
			t.Fatalf("individuals notified at %v, want %v", got.IndividualsNotifiedAt, finished)
		}
		if err := d.s.NotificationFinished(context.Background(), in.ID, finished.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if again, _ := d.s.Get(d.ctx, in.ID); !again.IndividualsNotifiedAt.Equal(*got.IndividualsNotifiedAt) {
			t.Errorf("a second finish replaced the recorded date: %v", again.IndividualsNotifiedAt)
		}
		evs := d.events(t, audit.IncidentReported)
		if len(evs) != 1 || evs[0].Actor != "system" {
			t.Errorf("reported events: %+v", evs)
		}
	})
}
