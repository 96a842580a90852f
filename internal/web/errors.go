package web

import (
	"net/http"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// statusOf maps an error code to its HTTP status: the one place this is
// decided.
func statusOf(code string) int {
	switch code {
	case kakunin.EINVALID:
		return http.StatusBadRequest
	case kakunin.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case kakunin.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case kakunin.ENOTFOUND:
		return http.StatusNotFound
	case kakunin.ECONFLICT, kakunin.EIDEMPOTENCY:
		return http.StatusConflict
	case kakunin.EGONE:
		return http.StatusGone
	case kakunin.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case kakunin.EFORBIDDEN:
		return http.StatusForbidden
	case kakunin.ERATELIMIT:
		return http.StatusTooManyRequests
	case kakunin.ENOSPACE:
		return http.StatusInsufficientStorage
	case kakunin.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// logInternal logs an internal error's detail; clients see only its code.
func (s *Server) logInternal(r *http.Request, err error) {
	if kakunin.ErrorCode(err) == kakunin.EINTERNAL {
		s.Log.Error("request failed", "request_id", requestID(r), "route", r.Pattern, "err", err)
	}
}

// page adapts an HTML page handler (every console page, the public
// notices) that returns its error, as api does for the JSON API: the error
// is shown once, as the error page, with the staff navigation when signed
// in. A handler that answers a refused form itself (the form again, with
// what was wrong and a 4xx) renders it and returns nil.
func (s *Server) page(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.consoleError(w, r, err)
		}
	})
}

// consoleError renders the error page for err: the status from its code,
// its internal details logged, never shown.
func (s *Server) consoleError(w http.ResponseWriter, r *http.Request, err error) {
	s.logInternal(r, err)
	code := kakunin.ErrorCode(err)
	page := code
	switch code {
	case kakunin.EUNSUPPORTED, kakunin.ETOOLARGE:
		page = "invalid"
	}
	var n *pages.StaffNav
	if st := staffFrom(r.Context()); st != nil {
		n = nav(st)
	}
	s.errorPage(w, r, statusOf(code), page, n)
}
