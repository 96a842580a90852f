package pages

import (
	"time"

	"github.com/kakunin/kakunin"
)

// Check is "check": the public exposure-check form. It never shows what
// was typed, so its bytes cannot depend on the address. ErrorCode is "" |
// invalid (400) | rate_limited (429). BadLink: the visitor came from an
// answer link that cannot be used (expired, altered or unknown, all
// alike), and is offered the form instead.
type Check struct {
	Base
	ErrorCode string
	BadLink   bool
	MaxLength int
	// Unavailable: no mail server is configured, so no answer could be
	// mailed; the page says so, the same for everyone, and has no form.
	Unavailable bool
}

// CheckSent is "check_sent": the one answer every accepted check gets,
// member or not.
type CheckSent struct{ Base }

// CheckDocument is one of the member's documents an incident reached.
type CheckDocument struct {
	Type     kakunin.DocumentType
	Month    string // when it was submitted, written out in the page's language
	Readable bool   // the image could have been seen, not only its ciphertext
}

// CheckIncident is what one incident means for the member.
type CheckIncident struct {
	DiscoveredAt         time.Time
	WindowFrom, WindowTo time.Time
	Affected             bool
	Documents            []CheckDocument
}

// CheckResult is "check_result": a member's own answer, opened through
// the link in their answer mail or the host's hand-off. No incident at all
// is said as such.
type CheckResult struct {
	Base
	Incidents   []CheckIncident
	AnyReadable bool
	ExpiresAt   time.Time // when the link stops working
}
