package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
)

// quiet drops the checkpointer's logs.
var quiet = slog.New(slog.DiscardHandler)

var t0 = time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)

func openDB(t testing.TB, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// clock is a test clock that moves one second per reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func newLog(db *store.DB) *audit.Log {
	c := &clock{t: t0}
	return &audit.Log{DB: db, Now: c.now}
}

// event returns a plausible event, distinct for each i.
func event(i int) audit.Event {
	return audit.Event{Action: audit.DocumentRead, Actor: fmt.Sprintf("staff:stf_%03d", i%7), Subject: fmt.Sprintf("doc_%05d", i),
		Origin: "ohash_" + fmt.Sprint(i%3), Detail: map[string]string{"task": fmt.Sprintf("doc_%05d", i), "n": fmt.Sprint(i)}}
}

func appendN(t testing.TB, l *audit.Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := l.Append(context.Background(), event(i)); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

func newSigner(t testing.TB) *audit.Signer {
	t.Helper()
	s, err := audit.LoadOrCreateSigner(filepath.Join(t.TempDir(), "keys", "audit-signer.key"), audit.CheckpointOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func verifiers(t testing.TB, s *audit.Signer) audit.VerifyOptions {
	t.Helper()
	v, err := s.Verifiers()
	if err != nil {
		t.Fatal(err)
	}
	return audit.VerifyOptions{Verifiers: v}
}

func verify(t testing.TB, db *store.DB, opt audit.VerifyOptions) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), db, opt)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func mustOK(t testing.TB, rep *audit.Report) {
	t.Helper()
	if !rep.OK() {
		t.Fatalf("verify found problems in an untouched chain: %v", rep.Problems)
	}
}

func exec(t testing.TB, db *store.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.SQL().ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
