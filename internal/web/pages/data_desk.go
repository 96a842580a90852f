package pages

import "github.com/kakunin/kakunin/internal/inquiry"

// Contact is "contact": the public contact form. Like Check it never shows
// an address back, and its answer is the same for every address.
// ErrorCode is "" | invalid_category | invalid_address | message_* (400) |
// rate_limited (429). Category is the preset one (?category=incident from
// a notice) or the one sent back with an error; Message is the text sent
// back with an error, shown escaped as text.
type Contact struct {
	Base
	ErrorCode   string
	Category    string
	Message     string
	Categories  []string
	MaxMessage  int
	MaxLength   int
	BadLink     bool // came from a thread link that opens nothing
	Unavailable bool // no mail server: the form is off, alike for everyone
}

// ContactSent is "contact_sent": the one answer every accepted message gets.
type ContactSent struct{ Base }

// ContactThread is "contact_thread": the person's own thread, behind its
// private link. Action is the link's own path (the reply form posts there).
type ContactThread struct {
	Base
	Thread     *inquiry.View
	Action     string
	ErrorCode  string
	MaxMessage int
	Sent       bool
}

// DeskQueue is "desk_queue": the support queue with its filters.
type DeskQueue struct {
	Base
	Threads    []*inquiry.View
	Categories []string
	Statuses   []string
	States     []string
	Category   string
	Status     string
	State      string
}

// DeskThread is "desk_thread": one thread for staff, with notes and actions.
type DeskThread struct {
	Base
	Thread     *inquiry.View
	Categories []string
	ErrorCode  string
	MaxMessage int
	StaffID    string
}
