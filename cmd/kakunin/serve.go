package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/webhook"

	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/publicnotice"
	"github.com/kakunin/kakunin/internal/web"
	"github.com/kakunin/kakunin/internal/web/pages"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, _, code := parseCommon("serve", args, stderr, nil)
	if cfg == nil {
		return code
	}
	log := newLogger(cfg, stderr)
	a, err := openApp(ctx, cfg, log, true)
	if err != nil {
		return fail("start: %v", err)
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fail("listen on %s: %v", cfg.Addr, err)
	}
	if err := a.serve(ctx, ln); err != nil {
		return fail("%v", err)
	}
	return 0
}

// serve runs the job queue and the HTTP server on ln until ctx ends, then
// stops both, letting requests and jobs in flight finish.
func (a *app) serve(ctx context.Context, ln net.Listener) error {
	renderer, err := pages.New()
	if err != nil {
		return fmt.Errorf("pages: %w", err)
	}
	srv := &web.Server{
		APIKeys: &auth.APIKeys{DB: a.db}, Verifications: a.verifications, Documents: a.documents, Review: a.review, Staff: a.staff,
		Audit: a.audit, OriginOf: a.originOf, Pages: renderer, Log: a.log, MaxUploadBytes: int64(a.cfg.MaxUploadMB) << 20,
		Notices: &publicnotice.Service{DB: a.db, Audit: a.audit, Now: time.Now}, PublicURL: a.cfg.PublicURL, Incidents: a.incidents,
		SecureCookies: strings.HasPrefix(a.cfg.PublicURL, "https://"), KeepBirthDate: a.cfg.KeepBirthDate, Now: time.Now,
		Exposure: a.exposure,
		// The relying party of passkeys is the public URL's host.
		Passkeys: auth.NewPasskeys(a.staff, a.cfg.PublicURL),
		MassMail: &massmail.Service{DB: a.db, Audit: a.audit, Log: a.log, Now: time.Now, PublicURL: a.cfg.PublicURL, Contact: a.cfg.NotifyContact,
			OnStart: a.incidents.NotificationStarted},
	}
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Minute, // a slow phone uploading 20 MiB
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
	}
	if err := a.queue.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	// The audit log's group committer and checkpointer stop with ctx; the
	// checkpointer signs a last checkpoint on the way out, so they are
	// waited for after the HTTP server has drained.
	signer, err := audit.LoadOrCreateSigner(a.cfg.AuditKey)
	if err != nil {
		return fmt.Errorf("audit checkpoint key: %w", err)
	}
	cp := &audit.Checkpointer{DB: a.db, Signer: signer, Every: a.cfg.AuditCheckpointEvery,
		Interval: a.cfg.AuditCheckpointInterval, File: a.cfg.AuditCheckpointFile, Publish: a.publishCheckpoint, Log: a.log}
	a.audit.OnCommit = cp.Nudge
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	var auditDone sync.WaitGroup
	auditDone.Go(func() { a.audit.Run(auditCtx) })
	auditDone.Go(func() { cp.Run(auditCtx) })
	defer func() { stopAudit(); auditDone.Wait() }()
	// The mass notification's sender enqueues started campaigns and sends
	// their mail at --notify-rate. It records the batch in flight when
	// stopped, and is waited for before the audit committer stops.
	sender := &massmail.Sender{DB: a.db, Keys: a.vault, Limiter: massmail.NewLimiter(a.cfg.NotifyRate),
		Connections: a.cfg.NotifyConnections, MaxAttempts: a.cfg.NotifyMaxAttempts, Audit: a.audit, Log: a.log,
		PublicURL: a.cfg.PublicURL, Contact: a.cfg.NotifyContact, OnFinish: a.incidents.NotificationFinished}
	if a.cfg.SMTPURL != "" {
		sender.Mailer = a.mailer // without a mail server, nothing is sent (and nothing marked sent)
	}
	senderCtx, stopSender := context.WithCancel(ctx)
	var senderDone sync.WaitGroup
	senderDone.Go(func() { sender.Run(senderCtx) })
	defer func() { stopSender(); senderDone.Wait() }()
	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(ln) }()
	a.log.Info("kakunin listening", "addr", ln.Addr().String(), "public_url", a.cfg.PublicURL,
		"database", string(a.db.Dialect()), "data", a.cfg.Data)
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	herr := httpServer.Shutdown(shutdown)
	qerr := a.queue.Stop(shutdown)
	if err := errors.Join(herr, qerr); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	return nil
}

// publishCheckpoint sends a signed audit checkpoint to the operator's alert
// webhook, so a copy lives outside the database.
func (a *app) publishCheckpoint(ctx context.Context, cp audit.Checkpoint) error {
	if a.cfg.AlertWebhookURL == "" {
		return nil
	}
	ev, err := webhook.NewEvent("audit.checkpoint", map[string]any{"size": cp.Size, "time": cp.Time, "note": cp.Note})
	if err != nil {
		return err
	}
	return a.db.WithTx(ctx, func(tx *store.Tx) error {
		return webhook.EnqueueTo(ctx, a.queue, tx.SQL(), webhook.TargetAlerts, ev)
	})
}
