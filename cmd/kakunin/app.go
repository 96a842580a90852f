package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	netmail "net/mail"
	"os"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/blobstore"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/bymail"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/config"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/inquiry"
	"github.com/kakunin/kakunin/internal/intake"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/portal"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
	"github.com/kakunin/kakunin/internal/web"
	"github.com/kakunin/kakunin/internal/webhook"
)

// app is every part of kakunin wired together from one Config.
type app struct {
	cfg           *config.Config
	log           *slog.Logger
	db            *store.DB
	vault         *vault.Vault
	blobs         *blobstore.Store
	queue         *jobs.Queue
	documents     *document.Service
	verifications *verification.Service
	review        *review.Service
	staff         *auth.Staff
	audit         *audit.Log
	incidents     *incident.Service
	exposure      *exposure.Service
	portal        *portal.Service
	desk          *inquiry.Service
	requests      *bymail.Committer // the public forms' group committer
	mailer        mail.Mailer       // nil without workers; the mass notification's sender uses it
	budget        *intake.Budget    // memory that uploads and decodes hold at once
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// quietLogger is the logger of admin commands: their answer is what they
// print, so only warnings and errors are logged (not River's migration
// steps, for one).
func quietLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openApp opens the database (applying migrations), the keys and the blob
// store, and wires the services. With workers, the job queue can run jobs
// (serve); without, it can only enqueue (CLI commands).
func openApp(ctx context.Context, cfg *config.Config, log *slog.Logger, withWorkers bool) (*app, error) {
	a := &app{cfg: cfg, log: log}
	var err error
	// A replica may start before its database: wait for it (--database-wait).
	if a.db, err = store.OpenWait(ctx, cfg.Database, cfg.DatabaseWait, log); err != nil {
		return nil, err
	}
	// The job queue's tables migrate under the same lock as the store's, so
	// replicas starting together run them once.
	if err := a.db.WithMigrationLock(ctx, func(ctx context.Context) error {
		return jobs.Migrate(ctx, a.db.SQL(), a.db.Dialect(), log)
	}); err != nil {
		a.close()
		return nil, err
	}
	if err := checkKeys(ctx, cfg, a.db, log); err != nil {
		a.close()
		return nil, err
	}
	kek, err := vault.OpenLocalKeyset(cfg.Keyset)
	if err != nil {
		a.close()
		return nil, fmt.Errorf("key-encryption keyset: %w", err)
	}
	if a.vault, err = vault.New(ctx, kek, cfg.KeyDir); err != nil {
		a.close()
		return nil, fmt.Errorf("keys: %w", err)
	}
	// Staff addresses are sealed like members'; rows of an install older
	// than migration 00012 are sealed now (SQL cannot do it).
	a.db.UseStaffEmails(auth.StaffEmails{Keys: a.vault})
	if n, err := a.db.SealStaffEmails(ctx); err != nil {
		a.close()
		return nil, err
	} else if n > 0 {
		log.Info("staff e-mail addresses sealed", "accounts", n)
	}
	if a.blobs, err = blobstore.Open(ctx, cfg.Blobs); err != nil {
		a.close()
		return nil, err
	}
	a.audit = &audit.Log{DB: a.db, Now: time.Now}
	limits := intake.DefaultLimits()
	limits.MaxBytes = int64(cfg.MaxUploadMB) << 20
	limits.MaxPixels = int64(cfg.MaxMegapixels) * 1_000_000
	a.budget = intake.NewBudget(int64(cfg.MemoryBudgetMB) << 20)
	limits.Budget = a.budget
	// The pixel limit in bytes: a decode must fit in the budget beside one
	// upload, and at most 4 bytes for each allowed pixel.
	limits.MaxDecodeBytes = min(limits.MaxPixels*4, a.budget.Size()-intake.UploadCost)
	a.documents = &document.Service{DB: a.db, Vault: a.vault, Blobs: a.blobs, Limits: limits,
		RetainUnreviewed: cfg.RetainUnreviewed, AbandonAfter: cfg.UploadAbandonAfter, Audit: a.audit, Now: time.Now, Log: log}
	a.verifications = &verification.Service{DB: a.db, Keys: a.vault, Audit: a.audit, Documents: a.documents,
		PublicURL: cfg.PublicURL, LinkTTL: cfg.UploadLinkTTL, Now: time.Now}
	a.documents.Events = a.verifications
	a.review = &review.Service{DB: a.db, Documents: a.documents, RetainAfterDecision: cfg.RetainAfterDecision,
		KeepBirthDate: cfg.KeepBirthDate, MaxPixels: limits.MaxPixels, MaxAssigned: 5, Now: time.Now, Log: log,
		Audit: a.audit, ReadQuota: cfg.ReadQuota, ReadQuotaWindow: cfg.ReadQuotaWindow}
	a.staff = auth.NewStaff(a.db, a.vault, a.audit)
	a.staff.IdleTimeout, a.staff.ReauthAfter = cfg.StaffIdleTimeout, cfg.ReauthWindow

	a.incidents = &incident.Service{DB: a.db, Audit: a.audit, Now: time.Now, StaleAfter: cfg.NoticeStaleAfter}
	// The exposure check: answer jobs start up to --check-spread after the
	// request, at random, so a member's extra work is not timed from the form.
	a.exposure = &exposure.Service{DB: a.db, Keys: a.vault, Audit: a.audit, PublicURL: cfg.PublicURL, Brand: cfg.Brand,
		Limits:        exposure.Limits{Client: cfg.CheckRateClient, Address: cfg.CheckRateAddress},
		NoAccountMail: cfg.CheckNoAccountMail, Spread: cfg.CheckSpread, Now: time.Now, Log: log}
	// The members' portal: its sign-in mails are spread like the check's
	// answers, for the same reason.
	a.portal = &portal.Service{DB: a.db, Keys: a.vault, Audit: a.audit, PublicURL: cfg.PublicURL, Brand: cfg.Brand,
		Spread: cfg.CheckSpread, Now: time.Now, Log: log}

	// The inquiry desk: /contact jobs are spread like the check's.
	a.desk = &inquiry.Service{DB: a.db, Keys: a.vault, Audit: a.audit, PublicURL: cfg.PublicURL,
		MailDomain: mailDomain(cfg.MailFrom), Spread: cfg.CheckSpread, Now: time.Now, Log: log}
	if cfg.InquirySLA != "" {
		if a.desk.SLA, err = inquiry.LoadSLA(cfg.InquirySLA); err != nil {
			a.close()
			return nil, err
		}
	}

	var workers *river.Workers
	var jcfg jobs.Config
	jcfg.Log = log
	if withWorkers {
		workers = river.NewWorkers()
		document.Register(workers, a.documents)
		mailer, err := mail.NewSMTPMailer(cfg.SMTPURL, cfg.MailFrom, log)
		if err != nil {
			a.close()
			return nil, err
		}
		hook, err := webhook.NewRoutingWorker(
			webhook.Endpoint{URL: cfg.WebhookURL, Secret: cfg.WebhookSecret},
			webhook.Endpoint{URL: cfg.AlertWebhookURL, Secret: cfg.AlertWebhookSecret}, log)
		if err != nil {
			a.close()
			return nil, err
		}
		hook.Events = a.db // every attempt noted in the event log (GET /api/v1/events)
		// Rotated secrets are read at each delivery, so every replica
		// signs with the same ones as soon as kakunin webhook-secret
		// rotate or retire has run.
		hook.Secrets = (&webhook.SecretRing{DB: a.db, Keys: a.vault}).Active
		river.AddWorker(workers, hook)
		river.AddWorker(workers, &webhook.PruneWorker{DB: a.db, EventRetention: cfg.EventRetention,
			IdempotencyWindow: web.IdempotencyWindow, Log: log})
		// Alerts are written in every language at once, and signed so.
		alert.Register(workers, brand.Mailer{Next: mailer, Brand: cfg.Brand, Langs: catalogue.Languages}, a.db, log)
		a.mailer = mailer
		jcfg.PeriodicJobs = []*river.PeriodicJob{document.SweepJob(cfg.RetentionInterval), webhook.PruneJob(time.Hour)}
		jcfg.Queues = map[string]int{document.VerifyQueue: cfg.VerifyWorkers}
		// The incident desk's hourly watch: overdue deadlines and stale
		// public notices, mailed to responders.
		incident.RegisterWatch(workers, a.incidents, log)
		jcfg.PeriodicJobs = append(jcfg.PeriodicJobs, incident.WatchJob())
		exposure.Register(workers, a.exposure, mailer)
		jcfg.PeriodicJobs = append(jcfg.PeriodicJobs, exposure.PruneJob(time.Hour))
		portal.Register(workers, a.portal, mailer)
		inquiry.Register(workers, a.desk, mailer)
		jcfg.PeriodicJobs = append(jcfg.PeriodicJobs, inquiry.WatchJob(5*time.Minute))
		jcfg.PeriodicJobs = append(jcfg.PeriodicJobs, portal.PruneJob(time.Hour))
	}
	if a.queue, err = jobs.New(ctx, a.db.SQL(), a.db.Dialect(), workers, jcfg); err != nil {
		a.close()
		return nil, err
	}
	a.verifications.Jobs = a.queue
	a.documents.Jobs = a.queue // each upload's full decode runs as a job
	a.incidents.Queue = a.queue
	a.exposure.Jobs = a.queue
	a.portal.Jobs = a.queue
	a.desk.Jobs = a.queue
	// The public forms' requests share transactions while serve runs
	// the committer (one fsync for a burst of /check requests).
	a.requests = &bymail.Committer{DB: a.db, Jobs: a.queue, Audit: a.audit}
	a.exposure.Requests, a.portal.Requests, a.desk.Requests = a.requests, a.requests, a.requests
	a.review.Jobs = a.queue
	a.review.Alert = func(ctx context.Context, tx *store.Tx, kind, staffID string, detail map[string]string) error {
		return alert.Raise(ctx, a.queue, tx.SQL(), alert.Alert{Kind: kind, StaffID: staffID, At: time.Now(), Detail: detail})
	}
	// Sign-in throttling and second-factor locks alert admins the same way.
	a.staff.Alert = a.review.Alert
	return a, nil
}

// checkKeys says where the keys are and refuses to make new ones where
// they would do harm: inside the data directory (a backup of it would hold
// them, invariant 2), or for a database that already holds data (new keys
// open none of it: the old ones are elsewhere, or lost).
func checkKeys(ctx context.Context, cfg *config.Config, db *store.DB, log *slog.Logger) error {
	for _, w := range cfg.Warnings {
		log.Warn("WARNING: " + w)
	}
	_, statErr := os.Stat(cfg.Keyset)
	if statErr == nil && vault.HasKeys(cfg.KeyDir) {
		return nil
	}
	held, err := db.HoldsData(ctx)
	if err != nil {
		return err
	}
	if held {
		return fmt.Errorf("keys: the database holds data, but the keys that sealed it are not at %s (keyset %s). "+
			"kakunin will not make new keys: they could open none of it. Pass --key-dir and --keyset where this database's keys are. "+
			"If they are lost, every stored image and sealed field (addresses, second factors) is lost with them; "+
			"restore the key directory from where you keep it apart from the data", cfg.KeyDir, cfg.Keyset)
	}
	if cfg.KeysInsideData {
		return fmt.Errorf("keys: refusing to create keys inside the data directory %s, where any backup of it would take them: "+
			"leave --key-dir, --keyset and --audit-key unset (they go to %s) or set them outside --data", cfg.Data, config.DefaultKeyDir(cfg.Data))
	}
	log.Info("creating the keys of a new install; keep this directory apart from the data and its backups", "key_dir", cfg.KeyDir, "keyset", cfg.Keyset)
	return nil
}

// originOf is the keyed hash the audit log records for a client address:
// enough to see that two events came from the same place, or to check one
// given address, without keeping addresses.
func (a *app) originOf(ip string) string {
	return hex.EncodeToString(a.vault.BlindIndex(vault.PurposeAuditOrigin, []byte(ip))[:12])
}

func (a *app) close() {
	if a.blobs != nil {
		a.blobs.Close()
	}
	if a.db != nil {
		a.db.Close()
	}
}

// mailDomain is the domain of the sender's address, the right-hand side of
// the mailer's Message-IDs ("" when there is none).
func mailDomain(from string) string {
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return "localhost"
	}
	return a.Address[strings.LastIndexByte(a.Address, '@')+1:]
}
