package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/kakunin/kakunin/internal/config"
)

// The HTTP server's timeouts are per request and follow the body, instead
// of one ReadTimeout long enough for the slowest phone (which let a
// stalled or trickling upload hold its connection, and its share of the
// memory budget, for ten minutes) and a WriteTimeout shorter than it
// (which cut off the answer to a slow but honest upload after it had been
// committed):
//
//   - the headers must arrive within headerTimeout;
//   - the body's read deadline starts at readIdle and is renewed as bytes
//     arrive: each byte buys 1/minRate s, never beyond readIdle ahead, so an
//     upload at minRate or faster never times out and one that stalls or
//     trickles slower loses its connection within about readIdle;
//   - the write deadline is always writeAfterBody past the body's read
//     deadline, and writeAfterBody again once the body has been read, so
//     however long the upload took, the answer has that long to be sent;
//   - at most MaxConnections connections are open; further ones wait in
//     the listen backlog.
type httpLimits struct {
	headerTimeout  time.Duration
	readIdle       time.Duration
	minRate        float64 // bytes a second
	writeAfterBody time.Duration
	idleTimeout    time.Duration
	maxConnections int
}

func defaultHTTPLimits(cfg *config.Config) httpLimits {
	return httpLimits{
		headerTimeout:  10 * time.Second,
		readIdle:       30 * time.Second,
		minRate:        4 << 10, // 4 KiB/s: a 20 MiB photo in 85 minutes
		writeAfterBody: 2 * time.Minute,
		idleTimeout:    time.Minute,
		maxConnections: cfg.MaxConnections,
	}
}

// newHTTPServer returns the server for h with the limits above.
func newHTTPServer(h http.Handler, lim httpLimits) *http.Server {
	return &http.Server{
		Handler:           lim.deadlines(h),
		ReadHeaderTimeout: lim.headerTimeout,
		IdleTimeout:       lim.idleTimeout,
		MaxHeaderBytes:    32 << 10,
		// No ReadTimeout or WriteTimeout: deadlines sets both per request.
	}
}

// listen wraps ln with the connection cap.
func (lim httpLimits) listen(ln net.Listener) net.Listener {
	if lim.maxConnections <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, lim.maxConnections)
}

// deadlines sets each request's read and write deadlines and renews them
// as its body arrives.
func (lim httpLimits) deadlines(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		b := &deadlineBody{rc: rc, body: r.Body, lim: lim, deadline: time.Now().Add(lim.readIdle)}
		b.apply()
		r.Body = b
		h.ServeHTTP(w, r)
	})
}

// deadlineBody renews its connection's deadlines as bytes arrive.
type deadlineBody struct {
	rc       *http.ResponseController
	body     io.ReadCloser
	lim      httpLimits
	mu       sync.Mutex
	deadline time.Time
	done     bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if n > 0 {
		b.deadline = b.deadline.Add(time.Duration(float64(n) / b.lim.minRate * float64(time.Second)))
		if limit := now.Add(b.lim.readIdle); b.deadline.After(limit) {
			b.deadline = limit
		}
		b.apply()
	}
	if err == io.EOF && !b.done {
		// The whole body is in: the answer gets its full window from now.
		b.done = true
		b.rc.SetWriteDeadline(now.Add(b.lim.writeAfterBody))
	}
	return n, err
}

// apply sets the read deadline and the write deadline behind it. Errors
// (a connection that does not support deadlines, as in some tests) leave
// the server's own defaults.
func (b *deadlineBody) apply() {
	if b.done {
		return
	}
	b.rc.SetReadDeadline(b.deadline)
	b.rc.SetWriteDeadline(b.deadline.Add(b.lim.writeAfterBody))
}

func (b *deadlineBody) Close() error { return b.body.Close() }

// gomemlimitHeadroom is what the Go runtime may use above the memory
// budget: the heap outside uploads and decodes (pages, the database
// driver, the job queue) and the collector's working room.
const gomemlimitHeadroom = 64 << 20

// setMemoryLimit makes the garbage collector work harder as the process
// nears the memory budget plus its headroom, unless the operator set
// GOMEMLIMIT. It returns the limit in force.
func setMemoryLimit(budgetMB int) int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1)
	}
	limit := int64(budgetMB)<<20 + gomemlimitHeadroom
	debug.SetMemoryLimit(limit)
	return limit
}
