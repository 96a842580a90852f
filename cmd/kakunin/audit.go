package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/config"
	"github.com/kakunin/kakunin/internal/store"
)

func defineAuditVerify(fs *flag.FlagSet) action {
	checkpoints := fs.String("checkpoints", "", "also check the published checkpoint file `FILE` (default --audit-checkpoint-file, when it exists)")
	verifierKey := fs.String("verifier-key", "", "the checkpoint verifier key, or a file of them (default --audit-verifier-key; without either, AUDIT_KEY.pub, with a warning)")
	return func(ctx context.Context, c *call) error {
		return auditVerify(ctx, c, *checkpoints, *verifierKey)
	}
}

func defineAuditExport(fs *flag.FlagSet) action {
	from := fs.String("from", "", "start of the period, RFC 3339, inclusive")
	to := fs.String("to", "", "end of the period, RFC 3339, exclusive")
	out := fs.String("out", "", "write to `FILE` (created 0600) instead of standard output")
	return func(ctx context.Context, c *call) error {
		return auditExport(ctx, c, *from, *to, *out)
	}
}

func auditVerify(ctx context.Context, c *call, checkpoints, verifierKey string) error {
	cfg, stdout := c.cfg, c.stdout
	// Which key the signatures are checked against decides what a pass
	// proves: a key kept apart from the data (pinned), or the .pub beside
	// the signing key, which whoever rewrote the chain could have
	// replaced along with it.
	keyFrom, pinnedBy := verifierKey, "--verifier-key"
	if keyFrom == "" && cfg.AuditVerifierKey != "" {
		keyFrom, pinnedBy = cfg.AuditVerifierKey, "--audit-verifier-key"
	}
	if keyFrom == "" {
		pinnedBy = ""
		keyFrom = audit.VerifierKeyFile(cfg.AuditKey)
		if _, err := os.Stat(keyFrom); err != nil {
			return usagef("audit verify: no verifier key at %s: pass --audit-verifier-key (the key printed when the signing key was made; \"kakunin audit key\" prints it where the service runs)", keyFrom)
		}
	}
	keys, err := audit.LoadVerifierKeys(keyFrom)
	if err != nil {
		return usagef("audit verify: %v", err)
	}
	verifiers, err := audit.LoadVerifiers(keyFrom)
	if err != nil {
		return usagef("audit verify: %v", err)
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = audit.KeyID(k)
	}
	against := fmt.Sprintf("verifier key %s, pinned by %s", strings.Join(ids, ", "), pinnedBy)
	if pinnedBy == "" {
		against = fmt.Sprintf("verifier key %s, read from %s beside the signing key (NOT pinned)", strings.Join(ids, ", "), keyFrom)
	}
	file := checkpoints
	if file == "" && cfg.AuditCheckpointFile != "" {
		if _, err := os.Stat(cfg.AuditCheckpointFile); err == nil {
			file = cfg.AuditCheckpointFile
		}
	}
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	opt := audit.VerifyOptions{Verifiers: verifiers, CheckpointFile: file}
	if isTerminal(c.stderr) {
		// A long chain takes minutes: show a person that it moves.
		start := time.Now()
		opt.Progress = func(done, total int64) {
			fmt.Fprintf(c.stderr, "verified %d of %d events (%s)\n", done, total, time.Since(start).Round(time.Millisecond))
		}
	}
	rep, err := audit.Verify(ctx, db, opt)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if !rep.OK() {
		p := rep.First()
		fmt.Fprintf(stdout, "TAMPERED: first bad event %d\n%s\n", p.Seq, p)
		fmt.Fprintf(stdout, "checked against %s\n", against)
		if more := len(rep.Problems) - 1; more > 0 {
			fmt.Fprintf(stdout, "(%d more problem(s) found)\n", more)
			for _, q := range rep.Problems[1:] {
				fmt.Fprintf(stdout, "  %s\n", q)
			}
		}
		return errors.New("audit verify: the audit log was tampered with (report above)")
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
	if rep.LastCheckpoint > 0 {
		fmt.Fprintf(stdout, "proved: events 1..%d are the events that were signed, unaltered and complete, by checkpoints checked against %s\n",
			rep.LastCheckpoint, against)
	} else {
		fmt.Fprintf(stdout, "proved: only that the chain is consistent with itself; no signed checkpoint covers it yet (checked against %s)\n", against)
	}
	if pinnedBy == "" {
		fmt.Fprintf(stdout, "WARNING: the verifier key was read from %s, beside the data. Someone who rewrote or truncated the chain "+
			"could have replaced the signing key and this file too, and forged checkpoints: against them this proves nothing. "+
			"Verify with the key kept apart when the signing key was made: --audit-verifier-key KEY\n", keyFrom)
	}
	return nil
}

// auditSigner loads the checkpoint signing key, or makes it named for this
// installation (audit.Origin: the public URL's host and an ID stored once
// in the database). A key the pinned verifier key does not match is
// refused: it was replaced. A key just made has its verifier key shown
// once, for the operator to keep outside this machine.
func auditSigner(ctx context.Context, cfg *config.Config, db *store.DB, log *slog.Logger) (*audit.Signer, error) {
	host := "localhost"
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Host != "" {
		host = u.Host
	}
	id, err := db.InstallationID(ctx, kakunin.NewID("ins"), time.Now())
	if err != nil {
		return nil, err
	}
	s, err := audit.LoadOrCreateSigner(cfg.AuditKey, audit.Origin(host, id))
	if err != nil {
		return nil, err
	}
	if cfg.AuditVerifierKey != "" {
		pinned, err := audit.LoadVerifiers(cfg.AuditVerifierKey)
		if err != nil {
			return nil, fmt.Errorf("--audit-verifier-key: %w", err)
		}
		if _, err := pinned.Verifier(s.Name(), s.KeyHash()); err != nil {
			return nil, fmt.Errorf("the audit signing key %s (%s) is not one --audit-verifier-key pins: it was replaced, "+
				"or the pin is out of date; refusing to sign checkpoints with it", cfg.AuditKey, audit.KeyID(s.VerifierKey))
		}
	}
	if s.Created {
		log.Warn("created the audit signing key: keep its verifier key outside this machine and verify with --audit-verifier-key; it is shown only now",
			"audit_key", cfg.AuditKey, "verifier_key", s.VerifierKey)
	}
	return s, nil
}

func auditExport(ctx context.Context, c *call, fromFlag, toFlag, out string) error {
	from, err := parseAuditTime("--from", fromFlag)
	if err != nil {
		return usagef("audit export: %v", err)
	}
	to, err := parseAuditTime("--to", toFlag)
	if err != nil {
		return usagef("audit export: %v", err)
	}
	if !to.After(from) {
		return usagef("audit export: --to must be after --from")
	}
	db, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	w, dest := c.stdout, "stdout"
	var file *os.File
	if out != "" {
		// Events name staff and documents: readable by this user only.
		if file, err = os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		w, dest = file, "file"
	}
	n, err := audit.Export(ctx, db, from, to, w)
	if file != nil {
		err = errors.Join(err, file.Sync(), file.Close())
		if err != nil {
			os.Remove(out)
		}
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// The export is itself audited, after it succeeded.
	err = cliAudit(db).Append(ctx, audit.Event{Action: audit.AuditExported, Actor: "cli", Subject: "audit",
		Detail: map[string]string{"from": from.Format(time.RFC3339Nano), "to": to.Format(time.RFC3339Nano),
			"count": strconv.Itoa(n), "destination": dest}})
	if err != nil {
		return fmt.Errorf("record the export in the audit log: %w", err)
	}
	if out != "" {
		fmt.Fprintf(c.stdout, "exported %d event(s) to %s\n", n, out)
	} else {
		// stdout holds the events; the count goes beside them.
		fmt.Fprintf(c.stderr, "exported %d event(s)\n", n)
	}
	return nil
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

func cmdAuditKey(ctx context.Context, c *call) error {
	cfg := c.cfg
	db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := auditSigner(ctx, cfg, db, quietLogger(io.Discard))
	if err != nil {
		return err
	}
	if s.Created {
		// stdout is the key alone, to redirect into a file.
		fmt.Fprintf(c.stderr, "created the audit signing key %s (keep it apart from the database); "+
			"keep the verifier key below outside this machine and pass it as --audit-verifier-key\n", cfg.AuditKey)
	}
	fmt.Fprintln(c.stdout, s.VerifierKey)
	return nil
}
