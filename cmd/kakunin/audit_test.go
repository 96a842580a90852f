package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
)

func runAudit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runCLI(t, append([]string{"audit"}, args...)...)
}

func TestAuditCommandsVerifyExportAndPrintTheKey(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	published := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	common := []string{"--data", data}

	code, keyOut, _ := runAudit(t, append([]string{"key"}, common...)...)
	if code != 0 || !strings.HasPrefix(keyOut, "kakunin/127.0.0.1:8080/ins_") {
		t.Fatalf("audit key = %d, %q", code, keyOut)
	}

	db, err := store.Open(ctx, filepath.Join(data, "kakunin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	signer, err := audit.LoadOrCreateSigner(filepath.Join(data+"-keys", "audit-signer.key"), "unused: the key exists")
	if err != nil || signer.VerifierKey != strings.TrimSpace(keyOut) {
		t.Fatalf("the key printed is not the signer's: %v", err)
	}
	at := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	l := &audit.Log{DB: db, Now: func() time.Time { at = at.Add(time.Minute); return at }}
	cp := &audit.Checkpointer{DB: db, Signer: signer, Every: 10, Interval: 1000 * time.Hour, File: published, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return at }}
	for i := range 25 {
		if err := l.Append(ctx, audit.Event{Action: audit.DocumentRead, Actor: "staff:stf_1", Subject: fmt.Sprintf("doc_%d", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := cp.Checkpoint(ctx, false); err != nil {
			t.Fatal(err)
		}
	}

	code, out, errs := runAudit(t, append([]string{"verify", "--checkpoints", published}, common...)...)
	if code != 0 || !strings.HasPrefix(out, "ok: 25 events, 2 checkpoints, last checkpoint at size 20\n2 published checkpoint(s)") {
		t.Fatalf("verify = %d\n%s%s", code, out, errs)
	}

	outFile := filepath.Join(t.TempDir(), "export.jsonl")
	code, _, errs = runAudit(t, append([]string{"export", "--from", "2026-11-25T03:05:00Z", "--to", "2026-11-25T12:10:00+09:00", "--out", outFile}, common...)...)
	if code != 0 {
		t.Fatalf("export = %d: %s", code, errs)
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines != 5 || !strings.Contains(string(b), `"seq":5,`) {
		t.Fatalf("export holds %d lines (events 5..9 expected):\n%s", lines, b)
	}
	last, _ := l.List(ctx, audit.Filter{Limit: 1})
	if len(last) != 1 || last[0].Action != audit.AuditExported || last[0].Actor != "cli" || last[0].Detail["count"] != "5" {
		t.Fatalf("the export was not audited: %+v", last)
	}

	for _, bad := range [][]string{{"--from", "yesterday", "--to", "2026-11-25T00:00:00Z"}, {"--to", "2026-11-25T00:00:00Z"},
		{"--from", "2026-11-25T00:00:00Z", "--to", "2026-11-24T00:00:00Z"}} {
		if code, _, errs := runAudit(t, append(append([]string{"export"}, bad...), common...)...); code != 2 || errs == "" {
			t.Errorf("export %v = %d, %q; want 2 and a message", bad, code, errs)
		}
	}

	if _, err := db.SQL().ExecContext(ctx, `UPDATE audit_events SET subject = 'doc_x' WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runAudit(t, append([]string{"verify"}, common...)...)
	if code != 1 || !strings.Contains(out, "first bad event 7") {
		t.Fatalf("verify of an edited chain = %d\n%s", code, out)
	}
}

// Issue 17 #11: someone who truncates the chain, makes a new signing key
// (and .pub) in the key directory and signs a forged checkpoint gets "ok"
// from the key beside the data — with a warning saying so — and is caught
// by the verifier key the operator kept apart.
func TestAPinnedVerifierKeyCatchesATruncationSignedWithAReplacedKey(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	common := []string{"--data", data}
	code, pinned, _ := runAudit(t, append([]string{"key"}, common...)...)
	pinned = strings.TrimSpace(pinned)
	if code != 0 || pinned == "" {
		t.Fatalf("audit key = %d %q", code, pinned)
	}
	keyPath := filepath.Join(data+"-keys", "audit-signer.key")
	signer, err := audit.LoadOrCreateSigner(keyPath, "unused")
	if err != nil || signer.VerifierKey != pinned {
		t.Fatalf("signer: %v", err)
	}
	db, err := store.Open(ctx, filepath.Join(data, "kakunin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	l := &audit.Log{DB: db, Now: func() time.Time { at = at.Add(time.Minute); return at }}
	cp := &audit.Checkpointer{DB: db, Signer: signer, Every: 10, Interval: 1000 * time.Hour, Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return at }}
	for i := range 25 {
		if err := l.Append(ctx, audit.Event{Action: audit.DocumentRead, Actor: "staff:stf_1", Subject: fmt.Sprintf("doc_%d", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := cp.Checkpoint(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	keyFile := filepath.Join(t.TempDir(), "verifier.pub") // kept apart from the data
	if err := os.WriteFile(keyFile, []byte(pinned+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := runAudit(t, append([]string{"verify", "--audit-verifier-key", keyFile}, common...)...); code != 0 ||
		!strings.Contains(out, "proved: events 1..20") || !strings.Contains(out, "pinned by --audit-verifier-key") || strings.Contains(out, "WARNING") {
		t.Fatalf("verify of the honest chain with the pinned key = %d\n%s%s", code, out, errs)
	}

	// The attack: events after 12 and every checkpoint gone, a new key
	// under the old name, and a checkpoint it signed over the short chain.
	twelve, err := db.AuditRecords(ctx, 11, 12, 1)
	if err != nil || len(twelve) != 1 {
		t.Fatal(err)
	}
	for _, q := range []string{`DELETE FROM audit_events WHERE seq > 12`, `DELETE FROM audit_checkpoints`} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.SQL().ExecContext(ctx, `UPDATE audit_head SET seq = 12, hash = $1 WHERE id = 1`, twelve[0].Hash); err != nil {
		t.Fatal(err)
	}
	os.Remove(keyPath)
	os.Remove(audit.VerifierKeyFile(keyPath))
	forger, err := audit.LoadOrCreateSigner(keyPath, signer.Name())
	if err != nil || forger.VerifierKey == pinned {
		t.Fatalf("the forger's key: %v", err)
	}
	forged, err := audit.SignCheckpoint(forger, 12, twelve[0].Hash, at)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertAuditCheckpoint(ctx, store.AuditCheckpointRecord{Size: 12, At: forged.Time, Note: forged.Note}); err != nil {
		t.Fatal(err)
	}

	// Against the .pub beside the data: consistent, and said to prove
	// nothing against this very attack.
	code, out, _ := runAudit(t, append([]string{"verify"}, common...)...)
	if code != 0 || !strings.Contains(out, "NOT pinned") || !strings.Contains(out, "WARNING") || !strings.Contains(out, "proves nothing") {
		t.Fatalf("verify against the .pub = %d\n%s", code, out)
	}
	// Against the pinned key, as a value or a file: tampered.
	for _, pin := range []string{pinned, keyFile} {
		code, out, _ := runAudit(t, append([]string{"verify", "--audit-verifier-key", pin}, common...)...)
		if code != 1 || !strings.Contains(out, "TAMPERED") || !strings.Contains(out, "bad checkpoint") || !strings.Contains(out, "pinned by --audit-verifier-key") {
			t.Errorf("verify with the pinned key %.30s = %d\n%s", pin, code, out)
		}
	}
	// And serve, told the pin, refuses to sign with the replaced key.
	cfg := testConfig(t, "--data", data, "--audit-verifier-key", pinned)
	if _, err := auditSigner(ctx, cfg, db, quiet()); err == nil || !strings.Contains(err.Error(), "not one --audit-verifier-key pins") {
		t.Errorf("serve's signer with a replaced key: %v", err)
	}
}

func TestEachInstallationSignsUnderItsOwnOrigin(t *testing.T) {
	ctx := context.Background()
	var origins []string
	for range 2 {
		data := t.TempDir()
		cfg := testConfig(t, "--data", data, "--public-url", "https://id.example.jp")
		db, err := openStore(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := auditSigner(ctx, cfg, db, quiet())
		if err != nil || !s.Created {
			t.Fatal(err)
		}
		again, err := auditSigner(ctx, cfg, db, quiet())
		db.Close()
		if err != nil || again.Created || again.Name() != s.Name() {
			t.Fatalf("a second start: %v %v", again, err)
		}
		if !strings.HasPrefix(s.Name(), "kakunin/id.example.jp/ins_") {
			t.Errorf("origin %q", s.Name())
		}
		origins = append(origins, s.Name())
	}
	if origins[0] == origins[1] {
		t.Errorf("two installations share the origin %q", origins[0])
	}
}
