package pages

import "github.com/kakunin/kakunin/internal/portal"

// Signin is "signin": the members' sign-in form. Like Check it never shows
// what was typed. ErrorCode is "" | invalid (400) | rate_limited (429).
// BadLink: the visitor came from a sign-in link that cannot be used (used,
// revoked, expired or unknown, all alike).
type Signin struct {
	Base
	ErrorCode string
	BadLink   bool
	MaxLength int
	// Unavailable: no mail server is configured, so no link could be
	// mailed; the page says so, the same for everyone, and has no form.
	Unavailable bool
}

// SigninSent is "signin_sent": the one answer every accepted request
// gets, member or not.
type SigninSent struct{ Base }

// SigninConfirm is "signin_confirm": a working link asks for one press of
// a button, so a mail scanner that fetches links cannot use it up.
type SigninConfirm struct {
	Base
	Action string
}

// SignedOut is "signed_out".
type SignedOut struct{ Base }

// Portal is "portal": what kakunin holds about the signed-in member. The
// export is the same View as JSON.
type Portal struct {
	Base
	View *portal.View
	// Home is the page's own address, /me/{key}: personal to the session
	// (see the web package's memberPageKey), and the export posts below it.
	Home string
}
