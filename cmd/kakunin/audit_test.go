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
	if code != 0 || !strings.HasPrefix(keyOut, audit.CheckpointOrigin+"+") {
		t.Fatalf("audit key = %d, %q", code, keyOut)
	}

	db, err := store.Open(ctx, filepath.Join(data, "kakunin.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	signer, err := audit.LoadOrCreateSigner(filepath.Join(data+"-keys", "audit-signer.key"))
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
