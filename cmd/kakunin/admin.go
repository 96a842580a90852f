package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/webhook"
)

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, _, code := parseCommon("migrate", args, stderr, nil)
	if cfg == nil {
		return code
	}
	a, err := openApp(ctx, cfg, newLogger(cfg, stderr), false)
	if err != nil {
		return fail("migrate: %v", err)
	}
	a.close()
	fmt.Fprintln(stdout, "database is up to date")
	return 0
}

func cmdAPIKey(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, pos, code := parseCommon("apikey", args, stderr, nil)
	if cfg == nil {
		return code
	}
	if len(pos) == 0 {
		return fail("usage: kakunin apikey create NAME | list | revoke ID")
	}
	a, err := openApp(ctx, cfg, newLogger(cfg, stderr), false)
	if err != nil {
		return fail("%v", err)
	}
	defer a.close()
	switch {
	case pos[0] == "create" && len(pos) == 2:
		k, secret, err := auth.CreateAPIKey(ctx, a.db, pos[1], time.Now().UTC())
		if err != nil {
			return fail("create API key: %s", kakunin.ErrorMessage(err))
		}
		if err := a.audit.Append(ctx, audit.Event{Action: audit.APIKeyCreated, Actor: "cli", Subject: k.ID}); err != nil {
			return fail("audit: %v", err)
		}
		fmt.Fprintf(stdout, "API key %s (%s) created. It is shown only this once; store it in the host platform's secrets:\n%s\n", k.ID, k.Name, secret)
	case pos[0] == "list" && len(pos) == 1:
		keys, err := a.db.APIKeys(ctx)
		if err != nil {
			return fail("list API keys: %v", err)
		}
		for _, k := range keys {
			state := "live"
			if k.RevokedAt != nil {
				state = "revoked " + k.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%s\t%s\tcreated %s\t%s\n", k.ID, k.Name, k.CreatedAt.Format(time.RFC3339), state)
		}
	case pos[0] == "revoke" && len(pos) == 2:
		if err := a.db.RevokeAPIKey(ctx, pos[1], time.Now().UTC()); err != nil {
			return fail("revoke: %s", kakunin.ErrorMessage(err))
		}
		if err := a.audit.Append(ctx, audit.Event{Action: audit.APIKeyRevoked, Actor: "cli", Subject: pos[1]}); err != nil {
			return fail("audit: %v", err)
		}
		fmt.Fprintf(stdout, "API key %s revoked\n", pos[1])
	default:
		return fail("usage: kakunin apikey create NAME | list | revoke ID")
	}
	return 0
}

func cmdStaff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var role string
	cfg, pos, code := parseCommon("staff", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&role, "role", "reviewer", "the staff member's role: reviewer, support, responder, admin or auditor")
	})
	if cfg == nil {
		return code
	}
	if len(pos) != 2 || (pos[0] != "add" && pos[0] != "unlock") {
		return fail("usage: kakunin staff add EMAIL --role ROLE | unlock EMAIL")
	}
	a, err := openApp(ctx, cfg, newLogger(cfg, stderr), false)
	if err != nil {
		return fail("%v", err)
	}
	defer a.close()
	ctx = audit.WithActor(ctx, "cli")
	if pos[0] == "unlock" {
		st, err := a.db.StaffByEmail(ctx, pos[1])
		if err != nil {
			return fail("unlock: %s", kakunin.ErrorMessage(err))
		}
		if err := a.staff.Unlock(ctx, st.ID); err != nil {
			return fail("unlock: %v", err)
		}
		fmt.Fprintf(stdout, "%s unlocked\n", st.Email)
		return 0
	}
	r, err := kakunin.ParseRole(role)
	if err != nil {
		return fail("%s", kakunin.ErrorMessage(err))
	}
	acct, err := a.staff.Add(ctx, pos[1], r)
	if err != nil {
		return fail("add staff: %s", kakunin.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, `Staff account created: %s (%s)
One-time password (must be changed at first sign-in): %s
Add this to an authenticator app (scan the URI as a QR code, or type the secret):
  secret: %s
  %s
Sign in at %s/console/login
`, acct.Staff.Email, acct.Staff.Role, acct.Password, acct.Secret, acct.TOTPURI, cfg.PublicURL)
	return 0
}

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// rotate-kek has a flag of its own, which the parse below would refuse.
	if len(args) > 0 {
		switch args[0] {
		case "rotate-kek":
			return cmdKeysRotateKEK(ctx, args[1:], stdout, stderr)
		}
	}
	cfg, pos, code := parseCommon("keys", args, stderr, nil)
	if cfg == nil {
		return code
	}
	if len(pos) != 1 || pos[0] != "list" {
		return fail("usage: kakunin keys list | rotate-kek [--retire-old]")
	}
	a, err := openApp(ctx, cfg, newLogger(cfg, stderr), false)
	if err != nil {
		return fail("%v", err)
	}
	defer a.close()
	epochs, err := a.vault.Epochs(ctx)
	if err != nil {
		return fail("list keys: %v", err)
	}
	fmt.Fprintf(stdout, "%d epoch key(s) exist (one per UTC day with readable documents):\n", len(epochs))
	for _, e := range epochs {
		fmt.Fprintln(stdout, e)
	}
	return 0
}

func cmdWebhookSecret(stdout io.Writer) int {
	fmt.Fprintln(stdout, webhook.NewSecret())
	return 0
}
