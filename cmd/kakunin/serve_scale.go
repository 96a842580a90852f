package main

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/kakunin/kakunin/internal/web"
)

// scaleOut sets what running behind a load balancer needs on the web
// server: the trusted proxies whose header names the client. Kept apart
// from serve.go's wiring so the two change independently.
func (a *app) scaleOut(srv *web.Server) {
	srv.Proxies = web.ProxyTrust{Proxies: a.cfg.TrustedProxies, Header: a.cfg.ProxyHeader}
}

// inflight counts the requests being served, so that a stop which had to
// cut some off can still wait until their handlers have cleaned up.
type inflight struct{ wg sync.WaitGroup }

func (f *inflight) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.wg.Add(1)
		defer f.wg.Done()
		h.ServeHTTP(w, r)
	})
}

// cleanupGrace bounds the wait for handlers after their connections were
// closed: reading a closed connection fails at once, so this is only a
// guard against a handler stuck elsewhere.
const cleanupGrace = 10 * time.Second

// drain stops srv for a routine stop (SIGTERM from systemd, a rolling
// deploy): it accepts nothing new and lets requests in flight finish until
// ctx ends. Then it closes the connections still open, so that a stalled
// upload's body read fails, its handler cancels the blob write (fileblob
// deletes the temp file on a cancelled write) and returns; drain waits for
// those handlers. Cutting off requests is what the timeout is for, so it is
// logged, not an error: the process still exits 0 with nothing left behind.
func (a *app) drain(ctx context.Context, srv *http.Server, f *inflight) error {
	err := srv.Shutdown(ctx)
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return err
	}
	a.log.Warn("requests still in flight at the shutdown timeout; cutting them off", "timeout", a.cfg.ShutdownTimeout.String())
	if err := srv.Close(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(cleanupGrace):
		return errors.New("requests cut off at shutdown did not return")
	}
}
