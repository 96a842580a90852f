package web

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Observer receives what /metrics counts (internal/metrics implements it).
// It is given route patterns, never paths: an upload path is a bearer token.
type Observer interface {
	ObserveRequest(route, method string, status int, d time.Duration)
	ObserveUpload(bytes int64)
	ObserveDiskFull()
}

// ReadyCheck is one dependency /readyz probes: the database, the blob store,
// the disk. Name is shown to the prober; the error is only logged.
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// readyTimeout bounds each probe: a load balancer's health check must get an
// answer before its own timeout, even when a dependency hangs.
const readyTimeout = 3 * time.Second

// readyz answers 200 when every dependency answers, else 503 naming the ones
// that did not. /healthz stays a liveness probe (the process serves HTTP):
// a replica whose database is down should leave the pool, not be restarted.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	var failed []string
	for _, c := range s.Ready {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		err := c.Check(ctx)
		cancel()
		if err != nil {
			s.Log.Warn("not ready", "check", c.Name, "err", err)
			failed = append(failed, c.Name)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("not ready: " + strings.Join(failed, ", ") + "\n"))
		return
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) observe(r *http.Request, status int, d time.Duration) {
	if s.Metrics != nil {
		s.Metrics.ObserveRequest(r.Pattern, r.Method, status, d)
	}
}
