// Package web serves kakunin over HTTP: the host platform's JSON API, the
// member's upload pages and the staff console. It owns the rules every
// response follows: security headers, CSRF protection on forms, and
// Cache-Control no-store on everything personal (invariant 7).
package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/verification"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// Server holds what the handlers need.
type Server struct {
	DB             *store.DB
	Verifications  *verification.Service
	Documents      *document.Service
	Review         *review.Service
	Staff          *auth.Staff
	Pages          *pages.Renderer
	Log            *slog.Logger
	MaxUploadBytes int64
	SecureCookies  bool // the public URL is https
	KeepBirthDate  bool
	Now            func() time.Time
}

// Handler returns the whole service as one handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("GET /static/", staticCache(pages.Static()))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /{$}", s.home)

	mux.Handle("PUT /api/v1/members/{external_id}", s.api(s.putMember))
	mux.Handle("DELETE /api/v1/members/{external_id}", s.api(s.deleteMember))
	mux.Handle("POST /api/v1/verifications", s.api(s.createVerification))
	mux.Handle("GET /api/v1/verifications/{id}", s.api(s.getVerification))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeJSONError(w, http.StatusNotFound, "not_found", "no such API route")
	})

	mux.HandleFunc("GET /u/{token}", s.uploadPage)
	mux.HandleFunc("POST /u/{token}", s.upload)

	mux.HandleFunc("GET /console/login", s.loginPage)
	mux.HandleFunc("POST /console/login", s.login)
	mux.HandleFunc("GET /console/login/totp", s.totpPage)
	mux.HandleFunc("POST /console/login/totp", s.totp)
	mux.HandleFunc("POST /console/logout", s.logout)
	mux.Handle("GET /console/password", s.console(s.passwordPage, nil))
	mux.Handle("POST /console/password", s.console(s.changePassword, nil))
	mux.Handle("GET /console", s.console(s.queue, review.CanReview))
	mux.Handle("POST /console/tasks/next", s.console(s.nextTask, review.CanReview))
	mux.Handle("GET /console/tasks/{id}", s.console(s.task, review.CanReview))
	mux.Handle("GET /console/tasks/{id}/image", s.console(s.taskImage, review.CanReview))
	mux.Handle("POST /console/tasks/{id}/approve", s.console(s.approve, review.CanReview))
	mux.Handle("POST /console/tasks/{id}/reject", s.console(s.reject, review.CanReview))
	mux.Handle("POST /console/tasks/{id}/release", s.console(s.release, review.CanReview))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "not_found", nil)
	})

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, "forbidden", nil)
	}))
	return s.recoverPanics(s.logRequests(securityHeaders(csrf.Handler(mux))))
}

func staticCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Static files carry a content hash in their URL and nothing personal.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		h.ServeHTTP(w, r)
	})
}
