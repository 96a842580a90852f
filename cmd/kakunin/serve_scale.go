package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/metrics"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/web"
)

// scaleOut sets what running as one of several replicas needs on the web
// server: the trusted proxies whose header names the client, /readyz's
// checks, the disk-full alert and, with --metrics-addr, the metrics and
// their own listener. Kept apart from serve.go's wiring so the two change
// independently. The returned stop ends the metrics listener.
func (a *app) scaleOut(srv *web.Server) (stop func(), err error) {
	srv.Proxies = web.ProxyTrust{Proxies: a.cfg.TrustedProxies, Header: a.cfg.ProxyHeader}
	host, _ := os.Hostname()
	full := &alert.DiskFull{Now: time.Now, Log: a.log, Free: a.blobs.FreeBytes, Need: int64(a.cfg.MaxUploadMB) << 21,
		Raise: func(ctx context.Context) error {
			return a.db.WithTx(ctx, func(tx *store.Tx) error {
				return alert.Raise(ctx, a.queue, tx.SQL(), alert.Alert{Kind: alert.KindStorageFull, At: time.Now(),
					Detail: map[string]string{"replica": host}})
			})
		}}
	srv.Ready = []web.ReadyCheck{{Name: "database", Check: a.db.Ping}, {Name: "blobs", Check: a.blobs.Ping}, {Name: "storage", Check: full.Ready}}
	if a.cfg.MetricsAddr == "" {
		a.documents.OnNoSpace = full.Noticed
		return func() {}, nil
	}
	m := metrics.New(a.db, a.log)
	srv.Metrics = m
	a.documents.OnNoSpace = func(ctx context.Context) { m.ObserveDiskFull(); full.Noticed(ctx) }
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("listen on --metrics-addr %s: %w", a.cfg.MetricsAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	go ms.Serve(ln)
	a.log.Info("metrics listening", "addr", ln.Addr().String())
	return func() { ms.Close() }, nil
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
