package bymail_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/bymail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

type job struct{}

func (job) Kind() string { return "bymail_test" }

// queue records the jobs inserted; fail makes the insert fail.
type queue struct {
	opts []*river.InsertOpts
	fail bool
}

func (q *queue) InsertTx(_ context.Context, _ *sql.Tx, _ river.JobArgs, opts *river.InsertOpts) error {
	if q.fail {
		return errors.New("queue down")
	}
	q.opts = append(q.opts, opts)
	return nil
}

func TestARequestQueuesItsJobAndEventTogetherUntilTheClientsLimit(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := audit.WithOrigin(context.Background(), "client-a")
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		log := &audit.Log{DB: db, Now: time.Now}
		now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
		q := &queue{}
		req := bymail.Request{Scope: "bymail_test", Limit: 2, Window: time.Hour, Job: job{}, MaxAttempts: 3,
			Spread: time.Minute, Event: audit.Event{Action: audit.ExposureChecked, Actor: "public", Subject: "chk_1"}}
		head := func() int64 {
			seq, _, err := db.AuditHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return seq
		}
		for i := range 2 {
			if err := bymail.Enqueue(ctx, db, q, log, now, req); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		if len(q.opts) != 2 || head() != 2 {
			t.Fatalf("%d jobs, %d events after two requests", len(q.opts), head())
		}
		for _, o := range q.opts {
			if o.MaxAttempts != 3 || o.ScheduledAt.Before(now) || !o.ScheduledAt.Before(now.Add(time.Minute)) {
				t.Errorf("job options %+v: want 3 attempts, scheduled within the spread", o)
			}
		}
		if err := bymail.Enqueue(ctx, db, q, log, now, req); !errors.Is(err, bymail.ErrLimited) {
			t.Fatalf("third request: %v, want ErrLimited", err)
		}
		// Another client has its own limit; a failing queue records nothing.
		other := audit.WithOrigin(context.Background(), "client-b")
		q.fail = true
		if err := bymail.Enqueue(other, db, q, log, now, req); err == nil {
			t.Fatal("a failed queue insert was accepted")
		}
		if len(q.opts) != 2 || head() != 2 {
			t.Fatalf("refused requests left %d jobs, %d events", len(q.opts), head())
		}
		q.fail = false
		for i := range 2 { // both fit: the failed request's hit was rolled back
			if err := bymail.Enqueue(other, db, q, log, now, req); err != nil {
				t.Fatalf("another client's request %d: %v", i, err)
			}
		}
	})
}
