package kakunin

import (
	"errors"
	"fmt"
)

// Error codes. The web layer maps each to one HTTP status in one place.
const (
	EINVALID      = "invalid"              // 400: bad input
	EUNSUPPORTED  = "unsupported"          // 415: a file type we do not take
	ETOOLARGE     = "too_large"            // 413: over a size or pixel limit
	ENOTFOUND     = "not_found"            // 404
	ECONFLICT     = "conflict"             // 409: the state forbids it
	EIDEMPOTENCY  = "idempotency_conflict" // 409: an Idempotency-Key reused for another request
	EGONE         = "gone"                 // 410: a link that expired or was used
	EUNAUTHORIZED = "unauthorized"         // 401
	EFORBIDDEN    = "forbidden"            // 403
	ERATELIMIT    = "rate_limited"         // 429
	EUNAVAILABLE  = "unavailable"          // 503: busy for now; try again shortly (Retry-After)
	ENOSPACE      = "no_space"             // 507: storage is full; the operator has been alerted
	EINTERNAL     = "internal"             // 500: details are logged, never shown
)

// Error is an error meant for the person at the other end: Code says what
// kind of failure it is, Message says it in words safe to show.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("kakunin: %s: %s", e.Code, e.Message) }

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the safe message of err, or a generic one for
// internal errors so that no detail leaks to a client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred."
}
