package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestTheSigningKeyIsCreatedPrivateOnceWithItsVerifierBeside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "audit-signer.key")
	s1, err := audit.LoadOrCreateSigner(path, audit.CheckpointOrigin)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("signer key mode = %v, %v; want 0600", fi.Mode(), err)
	}
	pub, err := os.ReadFile(audit.VerifierKeyFile(path))
	if err != nil || strings.TrimSpace(string(pub)) != s1.VerifierKey {
		t.Fatalf("verifier key file = %q, %v; want %q", pub, err, s1.VerifierKey)
	}
	if strings.Contains(string(pub), "PRIVATE") {
		t.Fatal("the verifier key file holds the private key")
	}
	// A second start loads the same key, and restores a lost .pub.
	os.Remove(audit.VerifierKeyFile(path))
	s2, err := audit.LoadOrCreateSigner(path, audit.CheckpointOrigin)
	if err != nil || s2.VerifierKey != s1.VerifierKey || s2.KeyHash() != s1.KeyHash() {
		t.Fatalf("reload: %v, %s vs %s", err, s2.VerifierKey, s1.VerifierKey)
	}
	if _, err := os.Stat(audit.VerifierKeyFile(path)); err != nil {
		t.Fatal("the verifier key file was not written again")
	}

	cp, err := audit.SignCheckpoint(s1, 42, bytes.Repeat([]byte{7}, 32), t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{s1.VerifierKey, audit.VerifierKeyFile(path)} {
		v, err := audit.LoadVerifiers(from)
		if err != nil {
			t.Fatalf("LoadVerifiers(%s): %v", from, err)
		}
		got, err := audit.OpenCheckpoint(cp.Note, v)
		if err != nil || got.Size != 42 || !got.Time.Equal(t0) || !bytes.Equal(got.Hash, cp.Hash) {
			t.Fatalf("open with verifier from %s = %+v, %v", from, got, err)
		}
	}
	if _, err := audit.LoadVerifiers("no-such-file-or-key"); err == nil {
		t.Fatal("LoadVerifiers accepted nonsense")
	}
}

func TestTwoProcessesCreatingTheKeyAtOnceEndUpWithOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit-signer.key")
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			s, err := audit.LoadOrCreateSigner(path, audit.CheckpointOrigin)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = s.VerifierKey
		})
	}
	wg.Wait()
	for _, k := range keys {
		if k != keys[0] {
			t.Fatalf("different keys: %s vs %s", k, keys[0])
		}
	}
}

func TestACheckpointReadsLikeATransparencyLogCheckpoint(t *testing.T) {
	s := newSigner(t)
	cp, err := audit.SignCheckpoint(s, 1000, bytes.Repeat([]byte{0xff}, 32), time.Date(2026, 11, 25, 3, 4, 5, 6000, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := "kakunin-audit\n1000\n//////////////////////////////////////////8=\ntime 2026-11-25T03:04:05.000006Z\n\n— kakunin-audit "
	if !strings.HasPrefix(cp.Note, want) {
		t.Fatalf("note =\n%s\nwant it to start with\n%s", cp.Note, want)
	}
	// A different key, and a well-formed but altered text, are refused.
	other, _ := newSigner(t).Verifiers()
	if _, err := audit.OpenCheckpoint(cp.Note, other); err == nil {
		t.Fatal("a checkpoint opened with another key")
	}
	mine, _ := s.Verifiers()
	altered := strings.Replace(cp.Note, "\n1000\n", "\n1001\n", 1)
	_, err = audit.OpenCheckpoint(altered, mine)
	if _, ok := err.(*note.InvalidSignatureError); !ok {
		t.Fatalf("altered checkpoint: %v, want an invalid signature", err)
	}
}

func TestCheckpointerSignsEveryNEventsStoresWritesAndPublishes(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openDB(t, dsn)
		l := newLog(db)
		s := newSigner(t)
		now := t0
		var mu sync.Mutex
		var published []audit.Checkpoint
		file := filepath.Join(t.TempDir(), "out", "checkpoints.jsonl")
		cp := &audit.Checkpointer{Log: quiet, DB: db, Signer: s, Every: 5, Interval: time.Hour, File: file,
			Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
			Publish: func(_ context.Context, c audit.Checkpoint) error {
				mu.Lock()
				defer mu.Unlock()
				published = append(published, c)
				return nil
			}}

		appendN(t, l, 0, 4)
		if got, err := cp.Checkpoint(ctx, false); err != nil || got != nil {
			t.Fatalf("after 4 of 5 events: %+v, %v; want no checkpoint", got, err)
		}
		appendN(t, l, 4, 1)
		got, err := cp.Checkpoint(ctx, false)
		if err != nil || got == nil || got.Size != 5 {
			t.Fatalf("after 5 events: %+v, %v; want a checkpoint at 5", got, err)
		}
		if got, err := cp.Checkpoint(ctx, true); err != nil || got != nil {
			t.Fatalf("nothing new: %+v, %v", got, err)
		}

		// The interval: one event, and an hour later it is signed.
		appendN(t, l, 5, 1)
		if got, _ := cp.Checkpoint(ctx, false); got != nil {
			t.Fatal("signed one event before the interval passed")
		}
		mu.Lock()
		now = now.Add(time.Hour)
		mu.Unlock()
		if got, err := cp.Checkpoint(ctx, false); err != nil || got == nil || got.Size != 6 {
			t.Fatalf("after the interval: %+v, %v", got, err)
		}

		// Run: Nudge from the log's commits brings a checkpoint without
		// waiting for the (long) poll; stopping signs the rest.
		l.OnCommit = cp.Nudge
		cp.Poll = time.Hour
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- cp.Run(runCtx) }()
		appendN(t, l, 6, 5)
		waitFor(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(published) == 3
		})
		appendN(t, l, 11, 2)
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		mu.Lock()
		var sizes []int64
		for _, c := range published {
			sizes = append(sizes, c.Size)
		}
		mu.Unlock()
		if want := []int64{5, 6, 11, 13}; !equalInts(sizes, want) {
			t.Fatalf("published sizes %v, want %v", sizes, want)
		}
		notes, err := audit.ReadCheckpointFile(file)
		if err != nil || len(notes) != 4 {
			t.Fatalf("checkpoint file: %d notes, %v", len(notes), err)
		}
		v, _ := s.Verifiers()
		for i, n := range notes {
			c, err := audit.OpenCheckpoint(n.Note, v)
			if err != nil || c.Size != sizes[i] || n.Note != published[i].Note {
				t.Fatalf("file note %d: %+v, %v", i, c, err)
			}
		}
		stored, _ := db.AuditCheckpoints(ctx)
		if len(stored) != 4 {
			t.Fatalf("%d stored checkpoints, want 4", len(stored))
		}
		rep := verify(t, db, audit.VerifyOptions{Verifiers: v, CheckpointFile: file})
		mustOK(t, rep)
		if rep.Checkpoints != 4 || rep.Published != 4 || rep.LastCheckpoint != 13 {
			t.Fatalf("report %+v", rep)
		}
	})
}

func TestTwoReplicasSigningTheSameHeadStoreOneCheckpoint(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openDB(t, dsn)
		appendN(t, newLog(db), 0, 3)
		s := newSigner(t)
		var calls int
		publish := func(context.Context, audit.Checkpoint) error { calls++; return nil }
		a := &audit.Checkpointer{Log: quiet, DB: db, Signer: s, Every: 1, Publish: publish}
		b := &audit.Checkpointer{Log: quiet, DB: openDB(t, dsn), Signer: s, Every: 1, Publish: publish}
		if got, err := a.Checkpoint(ctx, false); err != nil || got == nil {
			t.Fatalf("a: %v", err)
		}
		if got, err := b.Checkpoint(ctx, true); err != nil || got != nil {
			t.Fatalf("b re-signed a stored head: %+v, %v", got, err)
		}
		if calls != 1 {
			t.Fatalf("published %d times", calls)
		}
	})
}

func TestCheckpointerRefusesToSignAChainThatWasEdited(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openDB(t, dsn)
		appendN(t, newLog(db), 0, 3)
		cp := &audit.Checkpointer{Log: quiet, DB: db, Signer: newSigner(t), Every: 1}
		if _, err := cp.Checkpoint(ctx, false); err != nil {
			t.Fatal(err)
		}
		appendN(t, newLog(db), 3, 3)
		exec(t, db, `UPDATE audit_events SET actor = 'cli' WHERE seq = 5`)
		if got, err := cp.Checkpoint(ctx, false); err == nil || got != nil {
			t.Fatalf("signed an edited chain: %+v", got)
		}
		if stored, _ := db.AuditCheckpoints(ctx); len(stored) != 1 {
			t.Fatalf("%d checkpoints stored", len(stored))
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAfterAKeyRotationBothKeysCheckpointsVerify(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, storetest.SQLiteDSN(t))
	l := newLog(db)
	oldKey, newKey := newSigner(t), newSigner(t)
	appendN(t, l, 0, 3)
	if _, err := (&audit.Checkpointer{Log: quiet, DB: db, Signer: oldKey}).Checkpoint(ctx, true); err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 3, 3)
	rotated := &audit.Checkpointer{Log: quiet, DB: db, Signer: newKey}
	if _, err := rotated.Checkpoint(ctx, true); err == nil {
		t.Fatal("the new key built on a checkpoint it cannot verify")
	}
	both := filepath.Join(t.TempDir(), "verifiers.pub")
	os.WriteFile(both, []byte("# old\n"+oldKey.VerifierKey+"\n"+newKey.VerifierKey+"\n"), 0o644)
	v, err := audit.LoadVerifiers(both)
	if err != nil {
		t.Fatal(err)
	}
	rotated.Verifiers = v
	if got, err := rotated.Checkpoint(ctx, true); err != nil || got == nil || got.Size != 6 {
		t.Fatalf("rotated checkpoint: %+v, %v", got, err)
	}
	rep := verify(t, db, audit.VerifyOptions{Verifiers: v})
	mustOK(t, rep)
	if rep.Checkpoints != 2 {
		t.Fatalf("report %+v", rep)
	}
	if rep := verify(t, db, verifiers(t, newKey)); rep.OK() || rep.First().Kind != audit.BadCheckpoint || rep.First().Seq != 3 {
		t.Fatalf("with the new key alone the old checkpoint should be unknown: %+v", rep.Problems)
	}
}

func TestACheckpointWhoseOriginIsNotItsSignersNameIsRefused(t *testing.T) {
	if o := audit.Origin("id.example.jp:8443", "ins_1 x+y/z"); o != "kakunin/id.example.jp:8443/ins_1-x-y-z" {
		t.Errorf("Origin = %q", o)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, audit.Origin("a.example.jp", "ins_a"))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	known := note.VerifierList(verifier)
	good, err := audit.SignCheckpoint(signer, 3, bytes.Repeat([]byte{1}, 32), time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := audit.OpenCheckpoint(good.Note, known); err != nil || cp.Origin != "kakunin/a.example.jp/ins_a" {
		t.Fatalf("own checkpoint: %+v %v", cp, err)
	}
	// The same key signing text that names another installation.
	text := strings.Replace(strings.SplitN(good.Note, "\n\n", 2)[0]+"\n", "kakunin/a.example.jp/ins_a", "kakunin/b.example.jp/ins_b", 1)
	msg, err := note.Sign(&note.Note{Text: text}, signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.OpenCheckpoint(string(msg), known); err == nil {
		t.Error("a checkpoint naming another installation's log was accepted")
	}
}
