package web

import (
	"net/http"

	"github.com/kakunin/kakunin"
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
	case kakunin.ECONFLICT:
		return http.StatusConflict
	case kakunin.EGONE:
		return http.StatusGone
	case kakunin.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case kakunin.EFORBIDDEN:
		return http.StatusForbidden
	case kakunin.ERATELIMIT:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// logInternal logs an internal error's detail; clients see only its code.
func (s *Server) logInternal(r *http.Request, err error) {
	if kakunin.ErrorCode(err) == kakunin.EINTERNAL {
		s.Log.Error("request failed", "route", r.Pattern, "err", err)
	}
}
