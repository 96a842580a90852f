package pages

import (
	"time"

	"github.com/kakunin/kakunin"
)

// LangLink is one entry of the language switcher. The server builds the URL
// (same page, other language) because only it knows the route.
type LangLink struct {
	Lang    kakunin.Locale
	Label   string
	URL     string
	Current bool
}

// StaffNav is the signed-in staff member shown in the console navigation.
type StaffNav struct {
	Email string
	Role  kakunin.Role
}

// Base is embedded in every page's data. Lang picks the catalogue; an unknown
// or empty Lang renders in Japanese, the platform's default.
type Base struct {
	Lang      kakunin.Locale
	LangLinks []LangLink // language switcher (links, no JS)
	Staff     *StaffNav  // non-nil on console pages after login: nav with queue + logout form
	Notice    string     // optional message ID shown as a calm notice banner (role="status")
}

// pageLocale lets Render find the language of any page type that embeds Base.
func (b Base) pageLocale() kakunin.Locale { return b.Lang }

// Home is "home": GET /, what kakunin is, for a member who lands there.
type Home struct{ Base }

// Upload is "upload": the member's upload form.
type Upload struct {
	Base
	Action        string // form action (the same hand-off URL)
	DocumentTypes []kakunin.DocumentType
	Selected      kakunin.DocumentType
	ErrorCode     string // "" | missing_type | missing_file | unsupported | too_large | invalid | gone | internal
	ExpiresAt     time.Time
	MaxMB         int
}

// UploadStatus is "upload_status": after upload, and when the link is reopened.
type UploadStatus struct {
	Base
	Status       kakunin.VerificationStatus // submitted | approved | rejected | expired
	RejectReason string                     // unreadable | wrong_document | back_side | expired_document | incomplete | other
}

// LinkProblem is "link_problem". Reason is "expired" or "invalid"; a used or
// unknown link says the same as invalid, so the page leaks nothing.
type LinkProblem struct {
	Base
	Reason string
}

// Login is "login". ErrorCode is "" | bad_credentials | locked | rate_limited.
type Login struct {
	Base
	Email     string
	ErrorCode string
}

// TOTP is "totp". ErrorCode is "" | bad_code.
type TOTP struct {
	Base
	ErrorCode string
}

// ChangePassword is "password". ErrorCode is "" | mismatch | too_short | bad_current.
type ChangePassword struct {
	Base
	ErrorCode string
	MinLength int
}

// Task is one review task as listed in the queue.
type Task struct {
	ID           string
	DocumentType kakunin.DocumentType
	ReceivedAt   time.Time
	AssignedTo   string
}

// Queue is "queue": tasks assigned to me, how many wait, and recent ones.
type Queue struct {
	Base
	Mine    []Task
	Waiting int
	Recent  []Task
}

// TaskView is "task": one review task.
type TaskView struct {
	Base
	Task          Task
	ImageURL      string
	RejectReasons []string // unreadable | wrong_document | back_side | expired_document | incomplete | other
	KeepBirthDate bool     // false: the page says the date of birth is not stored
	ErrorCode     string   // "" | invalid_date | missing_fields | conflict
	DocumentName  string   // refill after an error
	Issuer        string
	BirthDate     string
}

// Error is "error": the generic error page, message "error.<code>".
type Error struct {
	Base
	Status int
	Code   string // not_found | forbidden | unauthorized | internal | invalid | conflict | rate_limited | gone
}
