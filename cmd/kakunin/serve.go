package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

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
		DB: a.db, Verifications: a.verifications, Documents: a.documents, Review: a.review, Staff: a.staff,
		Audit: a.audit, OriginOf: a.originOf, Pages: renderer, Log: a.log, MaxUploadBytes: int64(a.cfg.MaxUploadMB) << 20,
		SecureCookies: strings.HasPrefix(a.cfg.PublicURL, "https://"), KeepBirthDate: a.cfg.KeepBirthDate, Now: time.Now,
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
