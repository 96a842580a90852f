package web

import (
	"fmt"
	"net/http"
	"time"
)

// contentSecurityPolicy allows nothing but this origin's stylesheets,
// images and form targets: the pages use no script at all.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// scriptPolicy is contentSecurityPolicy plus this origin's script files
// (never inline script) and fetches back to this origin: what passkey.js
// needs to run a WebAuthn ceremony. Only the pages that offer a passkey
// ask for it, through allowScript.
const scriptPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// allowScript lets the page of this one response load this origin's
// scripts. securityHeaders set the script-free policy before the handler
// ran; a handler calls this before writing its page to replace it.
func allowScript(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", scriptPolicy)
}

// securityHeaders sets the headers every response carries. Cache-Control
// defaults to no-store, private: a response is cacheable only where a
// handler says so explicitly (static files), never by accident
// (invariant 7; the Omiai contact form leaked through a cache).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()")
		h.Set("Cache-Control", "no-store, private")
		h.Set("Pragma", "no-cache")
		h.Set("Vary", "Cookie, Authorization")
		next.ServeHTTP(w, r)
	})
}

// strictTransport tells browsers to reach this host only over https for a
// year (HSTS), so a staff member's first plain-http request cannot be
// downgraded by someone on the network. Set only when the public URL is
// https: an http install would lock itself out. Subdomains are not
// included: they belong to the operator, not to kakunin.
func strictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests logs each request by its route pattern, never its path: an
// upload link's path is a bearer token and an API path names a member.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		took := time.Since(start)
		s.Log.Info("http", "request_id", requestID(r), "method", r.Method, "route", r.Pattern, "status", rec.status,
			"bytes", rec.bytes, "ms", took.Milliseconds())
		s.observe(r, rec.status, took)
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.Error("panic", "request_id", requestID(r), "route", r.Pattern, "err", fmt.Sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
