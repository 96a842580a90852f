package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/config"
	"github.com/kakunin/kakunin/internal/store"
)

const auditUsage = `usage:
  kakunin audit verify [--checkpoints FILE] [--verifier-key KEY-or-FILE]
  kakunin audit export --from RFC3339 --to RFC3339 [--out FILE]
  kakunin audit key`

type auditFlags struct {
	checkpoints string
	verifierKey string
	from, to    string
	out         string
}

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f auditFlags
	cfg, pos, code := parseCommon("audit", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&f.checkpoints, "checkpoints", "", "verify: also check the published checkpoint file FILE (default --audit-checkpoint-file, when it exists)")
		fs.StringVar(&f.verifierKey, "verifier-key", "", "verify: the checkpoint verifier key, or a file of them (default AUDIT_KEY.pub)")
		fs.StringVar(&f.from, "from", "", "export: start of the period, RFC 3339, inclusive")
		fs.StringVar(&f.to, "to", "", "export: end of the period, RFC 3339, exclusive")
		fs.StringVar(&f.out, "out", "", "export: write to FILE (created 0600) instead of standard output")
	})
	if cfg == nil {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, auditUsage)
		return 2
	}
	switch pos[0] {
	case "verify":
		return auditVerify(ctx, cfg, f, stdout, stderr)
	case "export":
		return auditExport(ctx, cfg, f, stdout, stderr)
	case "key":
		return auditKey(cfg, stdout, stderr)
	}
	fmt.Fprintln(stderr, auditUsage)
	return 2
}

func auditVerify(ctx context.Context, cfg *config.Config, f auditFlags, stdout, stderr io.Writer) int {
	keyFrom := f.verifierKey
	if keyFrom == "" {
		keyFrom = audit.VerifierKeyFile(cfg.AuditKey)
		if _, err := os.Stat(keyFrom); err != nil {
			fmt.Fprintf(stderr, "kakunin: no verifier key at %s: pass --verifier-key (the key \"kakunin audit key\" prints where the service runs)\n", keyFrom)
			return 2
		}
	}
	verifiers, err := audit.LoadVerifiers(keyFrom)
	if err != nil {
		fmt.Fprintln(stderr, "kakunin:", err)
		return 2
	}
	file := f.checkpoints
	if file == "" && cfg.AuditCheckpointFile != "" {
		if _, err := os.Stat(cfg.AuditCheckpointFile); err == nil {
			file = cfg.AuditCheckpointFile
		}
	}
	db, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return fail("open database: %v", err)
	}
	defer db.Close()

	start := time.Now()
	rep, err := audit.Verify(ctx, db, audit.VerifyOptions{Verifiers: verifiers, CheckpointFile: file,
		Progress: func(done, total int64) {
			fmt.Fprintf(stderr, "verified %d of %d events (%s)\n", done, total, time.Since(start).Round(time.Millisecond))
		}})
	if err != nil {
		return fail("verify: %v", err)
	}
	if !rep.OK() {
		p := rep.First()
		fmt.Fprintf(stdout, "TAMPERED: first bad event %d\n%s\n", p.Seq, p)
		if more := len(rep.Problems) - 1; more > 0 {
			fmt.Fprintf(stdout, "(%d more problem(s) found)\n", more)
			for _, q := range rep.Problems[1:] {
				fmt.Fprintf(stdout, "  %s\n", q)
			}
		}
		return 1
	}
	fmt.Fprintf(stdout, "ok: %d events, %d checkpoints, last checkpoint at size %d\n",
		rep.Events, rep.Checkpoints, rep.LastCheckpoint)
	if file != "" {
		fmt.Fprintf(stdout, "%d published checkpoint(s) from %s checked\n", rep.Published, file)
	} else {
		fmt.Fprintln(stdout, "no published checkpoint file was checked (--checkpoints): a truncated tail is detectable only against one")
	}
	if rest := rep.Events - rep.LastCheckpoint; rest > 0 {
		fmt.Fprintf(stdout, "%d event(s) after the last checkpoint are not yet covered by a signature\n", rest)
	}
	return 0
}

func auditExport(ctx context.Context, cfg *config.Config, f auditFlags, stdout, stderr io.Writer) int {
	from, err := parseAuditTime("--from", f.from)
	if err != nil {
		fmt.Fprintln(stderr, "kakunin:", err)
		return 2
	}
	to, err := parseAuditTime("--to", f.to)
	if err != nil {
		fmt.Fprintln(stderr, "kakunin:", err)
		return 2
	}
	if !to.After(from) {
		fmt.Fprintln(stderr, "kakunin: --to must be after --from")
		return 2
	}
	db, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return fail("open database: %v", err)
	}
	defer db.Close()

	w, dest := stdout, "stdout"
	var file *os.File
	if f.out != "" {
		// Events name staff and documents: readable by this user only.
		if file, err = os.OpenFile(f.out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fail("export: %v", err)
		}
		w, dest = file, "file"
	}
	n, err := audit.Export(ctx, db, from, to, w)
	if file != nil {
		err = errors.Join(err, file.Sync(), file.Close())
		if err != nil {
			os.Remove(f.out)
		}
	}
	if err != nil {
		return fail("export: %v", err)
	}
	// The export is itself audited, after it succeeded.
	l := &audit.Log{DB: db, Now: time.Now}
	err = l.Append(ctx, audit.Event{Action: audit.AuditExported, Actor: "cli", Subject: "audit",
		Detail: map[string]string{"from": from.Format(time.RFC3339Nano), "to": to.Format(time.RFC3339Nano),
			"count": strconv.Itoa(n), "destination": dest}})
	if err != nil {
		return fail("record the export in the audit log: %v", err)
	}
	if f.out != "" {
		fmt.Fprintf(stderr, "exported %d event(s) to %s\n", n, f.out)
	} else {
		fmt.Fprintf(stderr, "exported %d event(s)\n", n)
	}
	return 0
}

func parseAuditTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("%s is required (an RFC 3339 time such as 2026-11-25T00:00:00Z)", name)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want an RFC 3339 time such as 2026-11-25T00:00:00Z or 2026-11-25T09:00:00+09:00", name, v)
	}
	return t.UTC(), nil
}

func auditKey(cfg *config.Config, stdout, stderr io.Writer) int {
	_, statErr := os.Stat(cfg.AuditKey)
	s, err := audit.LoadOrCreateSigner(cfg.AuditKey)
	if err != nil {
		return fail("%v", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "created the audit signing key %s (keep it apart from the database)\n", cfg.AuditKey)
	}
	fmt.Fprintln(stdout, s.VerifierKey)
	return 0
}
