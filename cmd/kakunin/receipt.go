package main

import (
	"context"

	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/erasure"
)

const receiptAbout = `Checks an erasure receipt (docs/receipts.md) offline: its signature, its
format, and the signed audit checkpoint inside it that covers the erasure's
audit events. It needs only the installation's published verifier key: the
one that checks the audit log. Exit status 1 names what failed.`

func defineReceiptVerify(fs *flag.FlagSet) action {
	verifierKey := fs.String("verifier-key", "", "the published verifier key, or a file of them (default --audit-verifier-key; without either, AUDIT_KEY.pub, with a warning)")
	return func(ctx context.Context, c *call) error {
		return receiptVerify(ctx, c, c.args[0], *verifierKey)
	}
}

func receiptVerify(_ context.Context, c *call, file, verifierKey string) error {
	keyFrom, pinned := verifierKey, true
	if keyFrom == "" {
		keyFrom = c.cfg.AuditVerifierKey
	}
	if keyFrom == "" {
		keyFrom, pinned = audit.VerifierKeyFile(c.cfg.AuditKey), false
		if _, err := os.Stat(keyFrom); err != nil {
			return usagef("receipt verify: no verifier key: pass --verifier-key (the installation's published verifier key)")
		}
	}
	verifiers, err := audit.LoadVerifiers(keyFrom)
	if err != nil {
		return usagef("receipt verify: %v", err)
	}
	msg, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("receipt verify: %w", err)
	}
	r, cp, err := erasure.Open(msg, verifiers)
	if err != nil {
		return fmt.Errorf("receipt verify: %s: NOT VALID: %w", file, err)
	}
	w := c.stdout
	fmt.Fprintf(w, "%s: valid erasure receipt of %s\n", file, r.Origin)
	fmt.Fprintf(w, "  request %s, member %s, erased at %s\n", r.Request, r.Member, r.ErasedAt.Format("2006-01-02T15:04:05Z07:00"))
	for _, e := range r.Erased {
		fmt.Fprintf(w, "  erased %-24s %d\n", e.Kind, e.N)
	}
	for _, k := range r.Kept {
		fmt.Fprintf(w, "  kept   %-24s %d (%s)\n", k.Kind, k.N, k.Reason)
	}
	var steps []string
	for _, s := range r.Timeline {
		steps = append(steps, s.State+" "+s.At.Format("2006-01-02T15:04Z")+" ("+s.Actor+")")
	}
	fmt.Fprintf(w, "  timeline: %s\n", strings.Join(steps, " → "))
	fmt.Fprintf(w, "  audit events %d–%d, covered by the checkpoint of size %d signed %s\n", r.FirstEvent, r.LastEvent, cp.Size, cp.Time.Format("2006-01-02T15:04:05Z"))
	if !pinned {
		fmt.Fprintf(c.stderr, "warning: checked against %s beside the signing key, not a key kept apart: pass --verifier-key\n", keyFrom)
	}
	return nil
}
