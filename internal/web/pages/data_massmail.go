package pages

import "time"

// ConsoleNotification is "notification": an incident's mass notification
// of its affected members. Responders write the letter, preview it, start
// it, pause and resume it; auditors read it and its progress.
type ConsoleNotification struct {
	Base
	IncidentID    string
	IncidentTitle string
	WindowKnown   bool // the incident's window is set: a preview and a start are possible
	CanEdit       bool // a responder (auditors read only)
	// State is "" (no campaign yet), draft, sending, paused or done.
	State string
	Form  NotificationForm
	// Previewed: the letter as it stands was previewed, so it can start.
	Previewed bool
	// Placeholder: the letter still holds a placeholder, so it cannot.
	Placeholder bool
	Preview     *NotificationPreview
	Progress    *NotificationProgress
	// ErrorCode is "" | invalid | conflict | no_window | not_previewed |
	// started; ErrorDetail is the template error of "invalid" (the
	// responder's own text, quoted by the parser).
	ErrorCode   string
	ErrorDetail string
	// Refresh, in seconds, reloads the page while sending (0: never).
	Refresh int
}

// NotificationForm is the letter's templates as the form shows them.
type NotificationForm struct {
	SubjectJA, BodyJA, SubjectEN, BodyEN string
	MaxSubject, MaxBody                  int
}

// NotificationPreview is the letter written for one affected member, in
// both languages, without their address.
type NotificationPreview struct {
	Sample    bool // false: no member is affected yet; example documents fill it
	Documents int
	JA, EN    NotificationLetter
}

// NotificationLetter is one language of a preview.
type NotificationLetter struct {
	Lang    string
	Subject []Segment
	Body    []Segment
	// Placeholder: a placeholder is left in it (the preview says what
	// the highlight means).
	Placeholder bool
}

// Segment is a piece of a previewed letter; Mark highlights a placeholder
// still to replace.
type Segment struct {
	Text string
	Mark bool
}

// NotificationProgress is how far sending has come. Counts are written
// out with thousands separators.
type NotificationProgress struct {
	Enqueuing        bool
	Target, Enqueued string
	Sent, Failed     string
	Bounced, Skipped string
	Pending          string
	PerMinute        string // messages a minute, recent
	HasRemaining     bool
	RemainingHours   int
	RemainingMinutes int
	StartedAt        time.Time
	FinishedAt       *time.Time
	Chart            NotificationChart
}

// NotificationChart is the sent-per-minute chart, drawn as an inline SVG
// (no script) with the same numbers in a table beside it.
type NotificationChart struct {
	Width, Height int
	BaseY         int // the x axis
	BucketMinutes int // minutes per bar
	Max           int64
	Total         int64
	Bars          []NotificationBar
}

// NotificationBar is one bar: the messages sent in BucketMinutes from Start.
type NotificationBar struct {
	Start      time.Time
	X, Y, W, H int
	Sent       int64
}

// NotificationConfirm is "notification_confirm": the last page before an
// irreversible send. It states the incident, how many members get the
// letter in each language and its subject lines, and asks for the count
// typed and the second factor, every time.
type NotificationConfirm struct {
	Base
	IncidentID    string
	IncidentTitle string
	Resume        bool   // resuming a paused campaign, rather than starting
	Action        string // the form's action: .../start or .../resume
	JA, EN, Total string // recipients, formatted
	SubjectJA     string
	SubjectEN     string
	// ErrorCode is "" | count | code | rate_limited: the field marked.
	ErrorCode string
	Count     string // what was typed, refilled after a wrong code
}
