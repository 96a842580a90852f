package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/config"
	"github.com/kakunin/kakunin/internal/erasure"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/webhook"

	"github.com/kakunin/kakunin/internal/jpki"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/publicnotice"
	"github.com/kakunin/kakunin/internal/web"
	"github.com/kakunin/kakunin/internal/web/pages"
)

const serveAbout = `
Listens on --addr; members and staff reach it at --public-url. Applies the
database migrations, and creates the keyset and the key directory on first
start: in DATA-keys, beside the data directory, so that a backup of the data
(kakunin backup) never holds the keys. It refuses to make new keys for a
database that already holds data. Logs go to stderr: text on a terminal, JSON lines otherwise (set
--log-format to choose).`

func cmdServe(ctx context.Context, c *call) error {
	cfg := c.cfg
	terminal := isTerminal(c.stderr)
	if terminal && !c.given["log-format"] {
		cfg.LogFormat = "text" // a person reads a terminal; a log stack reads the rest
	}
	a, err := openApp(ctx, cfg, newLogger(cfg, c.stderr), true)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer a.close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if terminal {
		admins, err := a.db.ActiveAdminIDs(ctx)
		welcome(c.stderr, cfg, ln.Addr().String(), string(a.db.Dialect()), err == nil && len(admins) == 0, c.given)
	}
	return a.serve(ctx, ln)
}

// welcome tells the person at the terminal where kakunin listens, where it
// keeps its data and keys, and what to do next. It names no secret: the
// database URL may hold a password, so only its kind is shown.
func welcome(w io.Writer, cfg *config.Config, addr, dialect string, noAdmin bool, given map[string]bool) {
	local := "http://" + addr
	fmt.Fprintf(w, "\nkakunin is listening on %s\n", local)
	if cfg.PublicURL != local {
		fmt.Fprintf(w, "  public URL  %s\n", cfg.PublicURL)
	}
	fmt.Fprintf(w, "  data        %s (%s database)\n", cfg.Data, dialect)
	fmt.Fprintf(w, "  keys        %s (keyset %s): back them up apart from the data\n", cfg.KeyDir, cfg.Keyset)
	for _, warning := range cfg.Warnings {
		fmt.Fprintf(w, "  WARNING     %s\n", warning)
	}
	if !noAdmin {
		fmt.Fprintf(w, "  console     %s/console/login\n\n", cfg.PublicURL)
		return
	}
	// No admin yet: the first account is the next step. The command names
	// the same data directory; other storage and key settings are only
	// pointed at (a database URL may hold a password).
	staffAdd := "kakunin staff add you@example.jp --role admin"
	if given["data"] {
		staffAdd += " --data " + cfg.Data
	}
	for _, name := range []string{"database", "keyset", "key-dir"} {
		if given[name] {
			staffAdd += " (with serve's --database and key settings)"
			break
		}
	}
	fmt.Fprintf(w, "next: %s, or try kakunin demo\n\n", staffAdd)
}

// isTerminal reports whether w is a terminal (a character device), where a
// person rather than a log collector reads.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
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
		Portal:   a.portal,
		Signer:   a.vault, // kakunin doctor's canary
		Desk:     a.desk,
		// The relying party of passkeys is the public URL's host.
		Passkeys: auth.NewPasskeys(a.staff, a.cfg.PublicURL),
		MassMail: &massmail.Service{DB: a.db, Audit: a.audit, Log: a.log, Now: time.Now, PublicURL: a.cfg.PublicURL, Contact: a.cfg.NotifyContact, Brand: a.cfg.Brand,
			OnStart: a.incidents.NotificationStarted, MailOff: a.cfg.SMTPURL == ""},
		MailOff: a.cfg.SMTPURL == "",
		Brand:   a.cfg.Brand,
	}
	if a.cfg.JPKIIssuer != "" {
		srv.JPKI = &jpki.Service{Config: jpki.Config{Issuer: a.cfg.JPKIIssuer, ClientID: a.cfg.JPKIClientID,
			ClientSecret: a.cfg.JPKIClientSecret, RedirectURL: a.cfg.PublicURL + jpki.CallbackPath},
			DB: a.db, Audit: a.audit, Jobs: a.queue, Now: time.Now, Log: a.log}
	}
	stopOps, err := a.scaleOut(srv) // serve_scale.go
	if err != nil {
		return err
	}
	defer stopOps()
	limits := defaultHTTPLimits(a.cfg)
	httpServer := newHTTPServer(srv.Handler(), limits)
	ln = limits.listen(ln)
	memLimit := setMemoryLimit(a.cfg.MemoryBudgetMB)
	var requests inflight // serve_scale.go: SIGTERM drains these
	httpServer.Handler = requests.track(httpServer.Handler)
	if err := a.queue.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	// The audit log's group committer and checkpointer stop with ctx; the
	// checkpointer signs a last checkpoint on the way out, so they are
	// waited for after the HTTP server has drained.
	signer, err := auditSigner(ctx, a.cfg, a.db, a.log)
	if err != nil {
		return fmt.Errorf("audit checkpoint key: %w", err)
	}
	cp := &audit.Checkpointer{DB: a.db, Signer: signer, Every: a.cfg.AuditCheckpointEvery,
		Interval: a.cfg.AuditCheckpointInterval, File: a.cfg.AuditCheckpointFile, Publish: a.publishCheckpoint, Log: a.log}
	a.audit.OnCommit = cp.Nudge
	// Erasure receipts are signed with the checkpoint key and carry a
	// checkpoint forced right after the erasure's last event.
	srv.Erasure = &erasure.Service{DB: a.db, Keys: a.vault, Docs: a.documents, Audit: a.audit, Signer: signer, Jobs: a.queue,
		Mailer: a.mailer, BaseURL: a.cfg.PublicURL, Deadline: a.cfg.ErasureDeadline, Now: time.Now, Log: a.log,
		Checkpoint: func(ctx context.Context) error { _, err := cp.Checkpoint(ctx, true); return err },
		Erasers:    []erasure.Eraser{erasure.EraserFunc("inquiry_thread", a.desk.EraseMember)}}
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	var auditDone sync.WaitGroup
	auditDone.Go(func() { a.audit.Run(auditCtx) })
	auditDone.Go(func() { cp.Run(auditCtx) })
	auditDone.Go(func() { a.requests.Run(auditCtx) })
	defer func() { stopAudit(); auditDone.Wait() }()
	// The mass notification's sender enqueues started campaigns and sends
	// their mail at --notify-rate. It records the batch in flight when
	// stopped, and is waited for before the audit committer stops.
	sender := &massmail.Sender{DB: a.db, Keys: a.vault, Limiter: massmail.NewSharedLimiter(a.db, "notify", a.cfg.NotifyRate),
		Connections: a.cfg.NotifyConnections, MaxAttempts: a.cfg.NotifyMaxAttempts, Audit: a.audit, Log: a.log,
		PublicURL: a.cfg.PublicURL, Contact: a.cfg.NotifyContact, Brand: a.cfg.Brand, OnFinish: a.incidents.NotificationFinished}
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
		"database", string(a.db.Dialect()), "data", a.cfg.Data, "memory_budget_mb", a.cfg.MemoryBudgetMB,
		"gomemlimit_mb", memLimit>>20, "max_connections", limits.maxConnections,
		"key_dir", a.cfg.KeyDir, "keyset", a.cfg.Keyset)
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	// Requests and running jobs drain side by side, each with the whole
	// timeout; a job cut off is retried by another replica.
	var qerr error
	var queueDone sync.WaitGroup
	queueDone.Go(func() { qerr = a.queue.Stop(shutdown) })
	herr := a.drain(shutdown, httpServer, &requests)
	queueDone.Wait()
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
