package metrics

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/webhook"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// The database gauges report what the tables hold, on both engines: a
// webhook waiting, an epoch key alive, an image past its deadline, the
// audit head.
func TestTheDatabaseGaugesCountWhatTheTablesHold(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := servicetest.New(t, dsn, servicetest.Options{Queue: true})
		ctx := context.Background()
		now := time.Now().UTC()
		ev, err := webhook.NewEvent("verification.approved", map[string]string{"id": "ver_1"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.DB.WithTx(ctx, func(tx *store.Tx) error { return webhook.Enqueue(ctx, e.Jobs, tx.SQL(), ev) }); err != nil {
			t.Fatal(err)
		}
		m, _, err := e.Verifications.UpsertMember(ctx, "ext-g", "g@example.jp", kakunin.LocaleJA)
		if err != nil {
			t.Fatal(err)
		}
		past := now.Add(-10 * 24 * time.Hour)
		v := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: m.ID, Status: kakunin.StatusSubmitted, ExpiresAt: past.Add(time.Hour), CreatedAt: past, UpdatedAt: past}
		if err := e.DB.InsertVerification(ctx, v); err != nil {
			t.Fatal(err)
		}
		d := &store.DocumentRecord{BlobKey: "documents/x"}
		d.ID, d.VerificationID, d.MemberID, d.Type = kakunin.NewID("doc"), v.ID, m.ID, kakunin.DocPassport
		d.ContentType, d.Size, d.Width, d.Height, d.Epoch = "image/jpeg", 10, 640, 480, past.Format(time.DateOnly)
		d.WrappedKey, d.ReceivedAt, d.DestroyAfter = []byte("w"), past, past.Add(24*time.Hour)
		if _, err := e.DB.NoteEpoch(ctx, d.Epoch, past); err != nil {
			t.Fatal(err)
		}
		if err := e.DB.InsertDocument(ctx, d); err != nil {
			t.Fatal(err)
		}
		if err := e.Audit.Append(ctx, audit.Event{Action: audit.EpochCreated, Actor: "system", Subject: "epoch:x"}); err != nil {
			t.Fatal(err)
		}

		var events float64
		if err := e.DB.SQL().QueryRow(`SELECT COUNT(*) FROM audit_events`).Scan(&events); err != nil || events < 1 {
			t.Fatalf("%v audit events (%v)", events, err)
		}
		mt := New(e.DB, quiet)
		for name, want := range map[string]float64{
			"kakunin_epoch_keys_alive": 1, "kakunin_retention_backlog": 1, "kakunin_audit_chain_head": events,
			"kakunin_notifications_pending": 0, "kakunin_staff_locked": 0, "kakunin_state_up": 1,
		} {
			if got := gaugeValue(t, mt, name, ""); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		if got := gaugeValue(t, mt, "kakunin_jobs_waiting", webhook.DeliverKind); got != 1 {
			t.Errorf("webhook jobs waiting = %v, want 1", got)
		}
	})
}

// Scrapes within CacheFor read the database once.
func TestScrapesReuseTheDatabaseGaugesFor15Seconds(t *testing.T) {
	src := &countingSource{}
	m := New(src, quiet)
	now := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	m.state.now = func() time.Time { return now }
	for range 5 {
		testutil.CollectAndCount(m.registry, "kakunin_epoch_keys_alive")
		now = now.Add(2 * time.Second)
	}
	if src.reads != 1 {
		t.Fatalf("%d database reads for 5 scrapes in 10 s, want 1", src.reads)
	}
	now = now.Add(CacheFor)
	testutil.CollectAndCount(m.registry, "kakunin_epoch_keys_alive")
	if src.reads != 2 {
		t.Fatalf("%d reads after the cache expired, want 2", src.reads)
	}
}

type countingSource struct{ reads int }

func (c *countingSource) ReadGauges(ctx context.Context, now time.Time) (*store.Gauges, error) {
	c.reads++
	return &store.Gauges{EpochKeysAlive: 3}, nil
}

// gaugeValue reads one gauge (with label value kind, if given) from m.
func gaugeValue(t *testing.T, m *Metrics, name, kind string) float64 {
	t.Helper()
	mfs, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mm := range mf.GetMetric() {
			if kind == "" || (len(mm.GetLabel()) == 1 && mm.GetLabel()[0].GetValue() == kind) {
				return mm.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no %s{%s} in %s", name, kind, strings.Join(names(mfs), " "))
	return 0
}

func names(mfs []*dto.MetricFamily) []string {
	var out []string
	for _, mf := range mfs {
		out = append(out, mf.GetName())
	}
	return out
}
