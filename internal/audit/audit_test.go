package audit_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestAppendedEventsFormAChainThatVerifies(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openDB(t, dsn)
		l := newLog(db)
		s := newSigner(t)
		cp := &audit.Checkpointer{Log: quiet, DB: db, Signer: s, Every: 10, Interval: time.Hour, Now: func() time.Time { return t0 }}

		evs := []audit.Event{event(0), event(1)}
		if err := l.Append(ctx, evs...); err != nil {
			t.Fatal(err)
		}
		if evs[0].Seq != 1 || evs[1].Seq != 2 || len(evs[1].Hash) != audit.HashSize {
			t.Fatalf("Append did not hand back seq and hash: %+v", evs)
		}
		if !bytes.Equal(evs[1].Hash, audit.ChainHash(evs[0].Hash, evs[1])) {
			t.Fatal("event 2's hash does not chain from event 1's")
		}
		err := db.WithTx(ctx, func(tx *store.Tx) error { return l.AppendTx(ctx, tx, event(2), event(3)) })
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 4, 21)
		if _, err := cp.Checkpoint(ctx, false); err != nil {
			t.Fatal(err)
		}

		rep := verify(t, db, verifiers(t, s))
		mustOK(t, rep)
		if rep.Events != 25 || rep.Checkpoints != 1 || rep.LastCheckpoint != 25 {
			t.Fatalf("report = %+v, want 25 events, 1 checkpoint at 25", rep)
		}
		head, _, _ := db.AuditHead(ctx)
		if head != 25 {
			t.Fatalf("head = %d, want 25", head)
		}
	})
}

func TestGroupCommitOf50WritersGivesAGapFreeValidChain(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithCancel(context.Background())
		db := openDB(t, dsn)
		var commits atomic.Int64
		l := &audit.Log{DB: db, Now: time.Now, OnCommit: func(int64) { commits.Add(1) }}
		stopped := make(chan error, 1)
		go func() { stopped <- l.Run(ctx) }()

		const writers, each = 50, 40
		seqs := make([][]int64, writers)
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					ev := []audit.Event{event(w*each + i)}
					if err := l.Append(ctx, ev...); err != nil {
						errs <- err
						return
					}
					seqs[w] = append(seqs[w], ev[0].Seq)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		cancel()
		if err := <-stopped; err != nil {
			t.Fatalf("Run: %v", err)
		}

		seen := map[int64]bool{}
		for _, ss := range seqs {
			for i, s := range ss {
				if seen[s] || (i > 0 && s <= ss[i-1]) {
					t.Fatalf("seq %d handed out twice or out of order", s)
				}
				seen[s] = true
			}
		}
		for s := int64(1); s <= writers*each; s++ {
			if !seen[s] {
				t.Fatalf("seq %d was handed to no writer", s)
			}
		}
		if c := commits.Load(); c >= writers*each {
			t.Fatalf("%d transactions for %d events: no group commit happened", c, writers*each)
		} else {
			t.Logf("%d events in %d transactions", writers*each, c)
		}
		rep := verify(t, db, audit.VerifyOptions{Verifiers: verifiers(t, newSigner(t)).Verifiers})
		mustOK(t, rep)
		if rep.Events != writers*each {
			t.Fatalf("verified %d events, want %d", rep.Events, writers*each)
		}

		// With the committer stopped, Append writes on its own.
		appendN(t, l, 5000, 1)
		if head, _, _ := db.AuditHead(context.Background()); head != writers*each+1 {
			t.Fatalf("head after Run stopped = %d", head)
		}
	})
}

func TestAppendersOnTwoConnectionsShareOneChain(t *testing.T) {
	// Two *store.DB stand for two processes or replicas: the head row
	// alone serialises them.
	storetest.Engines(t, func(t *testing.T, dsn string) {
		a, b := newLog(openDB(t, dsn)), newLog(openDB(t, dsn))
		var wg sync.WaitGroup
		var failed atomic.Value
		for i := range 8 {
			l := a
			if i%2 == 1 {
				l = b
			}
			wg.Go(func() {
				for j := range 15 {
					if err := l.Append(context.Background(), event(i*100+j), event(i*100+j+50)); err != nil {
						failed.Store(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			t.Fatal(err)
		}
		rep := verify(t, a.DB, audit.VerifyOptions{Verifiers: verifiers(t, newSigner(t)).Verifiers})
		mustOK(t, rep)
		if rep.Events != 8*15*2 {
			t.Fatalf("verified %d events, want %d", rep.Events, 8*15*2)
		}
	})
}

func TestAppendTxRolledBackLeavesNoEventAndNoHeadChange(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openDB(t, dsn)
		l := newLog(db)
		appendN(t, l, 0, 3)
		seq0, hash0, _ := db.AuditHead(ctx)

		boom := errors.New("quota exceeded")
		err := db.WithTx(ctx, func(tx *store.Tx) error {
			if err := l.AppendTx(ctx, tx, event(10), event(11)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("WithTx = %v", err)
		}
		seq1, hash1, _ := db.AuditHead(ctx)
		if seq1 != seq0 || !bytes.Equal(hash1, hash0) {
			t.Fatalf("head moved from %d to %d by a rolled-back transaction", seq0, seq1)
		}
		if recs, _ := db.AuditRecords(ctx, 0, 100, 100); len(recs) != 3 {
			t.Fatalf("%d events stored, want 3", len(recs))
		}
		// The next append takes seq 4: nothing was consumed.
		evs := []audit.Event{event(12)}
		if err := l.Append(ctx, evs...); err != nil || evs[0].Seq != 4 {
			t.Fatalf("next append: seq %d, %v", evs[0].Seq, err)
		}
		mustOK(t, verify(t, db, verifiers(t, newSigner(t))))
	})
}

func TestAppendRefusesEventsTheChainCouldNotStoreFaithfully(t *testing.T) {
	db := openDB(t, storetest.SQLiteDSN(t))
	l := newLog(db)
	bad := []audit.Event{
		{Actor: "cli"}, // no action
		{Action: audit.StaffLogin},
		{Action: audit.StaffLogin, Actor: "cli", Subject: "bad\xffutf8"},
		{Action: audit.StaffLogin, Actor: "cli", Origin: "nul\x00"},
		{Action: audit.StaffLogin, Actor: "cli", Detail: map[string]string{"": "empty key"}},
		{Action: audit.StaffLogin, Actor: "cli", Detail: map[string]string{"k": string(make([]byte, 5000))}},
	}
	for _, ev := range bad {
		if err := l.Append(context.Background(), ev); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("Append(%+q) = %v, want invalid", ev.Subject+ev.Origin, err)
		}
	}
	if head, _, _ := db.AuditHead(context.Background()); head != 0 {
		t.Fatalf("refused events moved the head to %d", head)
	}
}

func TestAppendWithoutALogFailsLoudly(t *testing.T) {
	var l *audit.Log
	if err := l.Append(context.Background(), event(1)); err == nil {
		t.Fatal("a nil Log accepted an event")
	}
}
