package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/config"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/webhook"
)

// Admin commands print their answer on stdout and nothing on stderr unless
// something is wrong: they log through quietLogger, and check their
// arguments before they open (and so create) anything.

func cmdMigrate(ctx context.Context, c *call) error {
	db, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	migrate := func(ctx context.Context) error {
		return jobs.Migrate(ctx, db.SQL(), db.Dialect(), quietLogger(c.stderr))
	}
	if err := db.WithMigrationLock(ctx, migrate); err != nil {
		return fmt.Errorf("migrate the job queue: %w", err)
	}
	fmt.Fprintln(c.stdout, "database is up to date")
	return nil
}

func cmdAPIKeyCreate(ctx context.Context, c *call) error {
	name := c.args[0]
	if err := auth.CheckAPIKeyName(name); err != nil {
		return usagef("apikey create: %s", kakunin.ErrorMessage(err))
	}
	db, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	k, secret, err := auth.CreateAPIKey(ctx, db, name, time.Now().UTC())
	if err != nil {
		return failure("create API key", err)
	}
	if err := cliAudit(db).Append(ctx, audit.Event{Action: audit.APIKeyCreated, Actor: "cli", Subject: k.ID}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	fmt.Fprintf(c.stdout, "API key %s (%s) created. It is shown only this once; store it in the host platform's secrets:\n%s\n", k.ID, k.Name, secret)
	return nil
}

func cmdAPIKeyList(ctx context.Context, c *call) error {
	db, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	keys, err := db.APIKeys(ctx)
	if err != nil {
		return fmt.Errorf("list API keys: %w", err)
	}
	for _, k := range keys {
		state := "live"
		if k.RevokedAt != nil {
			state = "revoked " + k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(c.stdout, "%s\t%s\tcreated %s\t%s\n", k.ID, k.Name, k.CreatedAt.Format(time.RFC3339), state)
	}
	return nil
}

func cmdAPIKeyRevoke(ctx context.Context, c *call) error {
	id := c.args[0]
	db, err := openStore(ctx, c.cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RevokeAPIKey(ctx, id, time.Now().UTC()); err != nil {
		return failure("revoke", err)
	}
	if err := cliAudit(db).Append(ctx, audit.Event{Action: audit.APIKeyRevoked, Actor: "cli", Subject: id}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	fmt.Fprintf(c.stdout, "API key %s revoked\n", id)
	return nil
}

func defineStaffAdd(fs *flag.FlagSet) action {
	role := fs.String("role", "reviewer", "`ROLE`: reviewer, support, responder, admin or auditor")
	return func(ctx context.Context, c *call) error {
		email := c.args[0]
		r, err := kakunin.ParseRole(*role)
		if err != nil {
			return usagef("staff add: %s", kakunin.ErrorMessage(err))
		}
		if err := auth.CheckStaffEmail(email); err != nil {
			return usagef("staff add: %s", kakunin.ErrorMessage(err))
		}
		a, err := openApp(ctx, c.cfg, quietLogger(c.stderr), false)
		if err != nil {
			return err
		}
		defer a.close()
		acct, err := a.staff.Add(audit.WithActor(ctx, "cli"), email, r)
		if err != nil {
			return failure("add staff", err)
		}
		fmt.Fprintf(c.stdout, `Staff account created: %s (%s)
One-time password (must be changed at first sign-in): %s
Add this to an authenticator app (scan the URI as a QR code, or type the secret):
  secret: %s
  %s
Sign in at %s/console/login
`, acct.Staff.Email, acct.Staff.Role, acct.Password, acct.Secret, acct.TOTPURI, c.cfg.PublicURL)
		return nil
	}
}

func cmdStaffUnlock(ctx context.Context, c *call) error {
	// The address is found through its blind index: the keys are needed.
	a, err := openApp(ctx, c.cfg, quietLogger(c.stderr), false)
	if err != nil {
		return err
	}
	defer a.close()
	ctx = audit.WithActor(ctx, "cli")
	st, err := a.db.StaffByEmail(ctx, c.args[0])
	if err != nil {
		return failure("unlock", err)
	}
	if err := auth.NewStaff(a.db, a.vault, cliAudit(a.db)).Unlock(ctx, st.ID); err != nil {
		return fmt.Errorf("unlock: %w", err)
	}
	fmt.Fprintf(c.stdout, "%s unlocked\n", st.Email)
	return nil
}

func cmdKeysList(ctx context.Context, c *call) error {
	a, err := openApp(ctx, c.cfg, quietLogger(c.stderr), false)
	if err != nil {
		return err
	}
	defer a.close()
	epochs, err := a.vault.Epochs(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	fmt.Fprintf(c.stdout, "%d epoch key(s) exist (one per UTC day with readable documents):\n", len(epochs))
	for _, e := range epochs {
		fmt.Fprintln(c.stdout, e)
	}
	return nil
}

func cmdWebhookSecret(_ context.Context, c *call) error {
	fmt.Fprintln(c.stdout, webhook.NewSecret())
	return nil
}

func defineSecretRotate(fs *flag.FlagSet) action {
	alerts := fs.Bool("alerts", false, "the alert webhook's secrets, not the host's")
	return func(ctx context.Context, c *call) error {
		a, err := openApp(ctx, c.cfg, quietLogger(c.stderr), false)
		if err != nil {
			return err
		}
		defer a.close()
		target, configured := webhook.TargetHost, c.cfg.WebhookSecret
		if *alerts {
			target, configured = webhook.TargetAlerts, c.cfg.AlertWebhookSecret
		}
		secret, err := (&webhook.SecretRing{DB: a.db, Keys: a.vault}).Rotate(ctx, target, configured)
		if err != nil {
			return failure("rotate", err)
		}
		fmt.Fprintf(c.stdout, "%s\nDeliveries are now signed with this secret and the older one(s). Once the receiver uses it, run: kakunin webhook-secret retire%s\n",
			secret, map[bool]string{true: " --alerts"}[*alerts])
		return nil
	}
}

func defineSecretRetire(fs *flag.FlagSet) action {
	alerts := fs.Bool("alerts", false, "the alert webhook's secrets, not the host's")
	return func(ctx context.Context, c *call) error {
		a, err := openApp(ctx, c.cfg, quietLogger(c.stderr), false)
		if err != nil {
			return err
		}
		defer a.close()
		target := webhook.TargetHost
		if *alerts {
			target = webhook.TargetAlerts
		}
		n, err := (&webhook.SecretRing{DB: a.db, Keys: a.vault}).Retire(ctx, target)
		if err != nil {
			return failure("retire", err)
		}
		fmt.Fprintf(c.stdout, "%d older secret(s) retired; deliveries are signed with the newest only.\n", n)
		return nil
	}
}

// openStore opens (and migrates) the database, for commands that need no
// keys and no job queue.
func openStore(ctx context.Context, cfg *config.Config) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	return db, nil
}

// useStaffEmailsIfKeys gives db the keys of staff addresses when the
// keyset and key directory exist, and makes none when they do not.
func useStaffEmailsIfKeys(ctx context.Context, cfg *config.Config, db *store.DB) error {
	if _, err := os.Stat(cfg.Keyset); err != nil || !vault.HasKeys(cfg.KeyDir) {
		return nil
	}
	kek, err := vault.OpenLocalKeyset(cfg.Keyset)
	if err != nil {
		return fmt.Errorf("key-encryption keyset: %w", err)
	}
	v, err := vault.New(ctx, kek, cfg.KeyDir)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	db.UseStaffEmails(auth.StaffEmails{Keys: v})
	return nil
}

// cliAudit is the audit log as a CLI command appends to it: directly, with
// no group committer running.
func cliAudit(db *store.DB) *audit.Log { return &audit.Log{DB: db, Now: time.Now} }

// failure wraps err with what was being done: a domain error in its own
// words, an internal one with its detail (the operator reads it, not a
// client).
func failure(what string, err error) error {
	if kakunin.ErrorCode(err) == kakunin.EINTERNAL {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %s", what, kakunin.ErrorMessage(err))
}
