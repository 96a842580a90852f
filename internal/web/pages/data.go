package pages

import (
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/brand"
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
	// MailOff: no mail server is configured; console pages show a banner.
	MailOff bool
	// Brand is who runs the service, shown in every page's header, title
	// and footer (the server fills it, per request).
	Brand brand.Brand
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
	// JPKIURL, when set, offers the My Number card check (no photo) first.
	JPKIURL string
	// NoPhoto: the host did not offer the photo upload for this
	// verification; only the methods above are shown.
	NoPhoto bool
	// JPKIRefused is why the last My Number card check was refused
	// (jpki.Reason*), "" when none was.
	JPKIRefused string
}

// JPKIRefused is "jpki_refused": a provider's answer that names no
// verification kakunin knows (a spent, unknown or expired state).
type JPKIRefused struct {
	Base
	Reason string
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
	ErrorCode string // "" | bad_credentials | locked | rate_limited | stale_form
	// Action is where the form posts: /console/login?form=TOKEN, a token
	// good for one sign-in (staleLoginForm), or /console/login.
	Action string
}

// TOTP is "totp". ErrorCode is "" | bad_code | passkey. Passkey offers
// "Use a passkey" beside the code (the account has one; the button needs
// JavaScript, and the page then loads passkey.js).
type TOTP struct {
	Base
	ErrorCode string
	Passkey   bool
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

// Queue is "queue": tasks assigned to me, how many wait, and my recent
// decisions.
type Queue struct {
	Base
	Mine    []Task
	Waiting int
	Recent  []Decision
	// Decided is the decision just recorded, said back in the
	// confirmation; nil otherwise.
	Decided *Decision
}

// Decision is one of the reviewer's decisions: the document, the outcome
// (approved | rejected), a rejection's reason and when.
type Decision struct {
	DocumentType kakunin.DocumentType
	ReceivedAt   time.Time
	Outcome      kakunin.VerificationStatus
	Reason       string // reject reason code; "" when approved
	DecidedAt    time.Time
}

// TaskView is "task": one review task.
type TaskView struct {
	Base
	Task          Task
	ImageURL      string
	RejectReasons []string // unreadable | wrong_document | back_side | expired_document | incomplete | other
	KeepBirthDate bool     // false: the page says the date of birth is not stored
	ErrorCode     string   // "" | invalid_date | outside_era | missing_fields | conflict
	DocumentName  string   // refill after an error
	Issuer        string
	// The date of birth as the document prints it: an era of Eras
	// (era.Eras' codes), the year in it, month and day.
	Eras                                      []string
	BirthEra, BirthYear, BirthMonth, BirthDay string
}

// Error is "error": the generic error page, message "error.<code>".
type Error struct {
	Base
	Status int
	Code   string // not_found | forbidden | unauthorized | internal | invalid | conflict | rate_limited | gone
}

// NavLink is one entry of a console start page: where to go and why.
type NavLink struct {
	URL     string
	LabelID string // message ID of the link text
	HintID  string // message ID of a one-line explanation
}

// ConsoleHome is "console_home": the start page of staff whose role has no
// review queue (support, responder, admin, auditor): their sections.
type ConsoleHome struct {
	Base
	Links []NavLink
}

// Reauth is "reauth": prove the second factor again before a sensitive
// action. Next is the console path to return to. ErrorCode is "" |
// bad_code | passkey. Passkey offers a passkey beside the code, as on TOTP.
type Reauth struct {
	Base
	Next      string
	ErrorCode string
	Passkey   bool
}

// StaffRow is one staff account in the admin's list.
type StaffRow struct {
	ID           string
	Email        string
	Role         kakunin.Role
	LockedAt     *time.Time // nil: not locked
	FailedLogins int
	CreatedAt    time.Time
	Self         bool // the admin looking at the page (cannot unlock themself)
}

// StaffList is "staff_list": every staff account, locked ones first, with
// an unlock button (a sensitive action). Notice may be notice.unlocked.
type StaffList struct {
	Base
	Staff []StaffRow
}

// VerificationRow is what support may see of a verification: its status
// and dates, never an image or what was read off the document.
type VerificationRow struct {
	ID           string
	ExternalID   string
	Status       kakunin.VerificationStatus
	RejectReason string
	Adult        *bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	ExpiresAt    time.Time
	MemberLeft   bool
}

// VerificationLookup is "verification_lookup": support looks a member's
// verifications up by verification ID or the host's member ID. ErrorCode is
// "" | not_found | invalid.
type VerificationLookup struct {
	Base
	Query     string
	ErrorCode string
	Results   []VerificationRow
}

// KV is one key and value of an audit event's detail.
type KV struct{ Key, Value string }

// AuditRow is one audit event as shown to an auditor.
type AuditRow struct {
	Seq         int64
	At          time.Time
	Action      string // the code, as stored and exported
	ActionLabel string // its name in the page's language
	Actor       string
	Subject     string
	Origin      string // keyed hash of the client address
	Detail      []KV
	Hash        string // hex prefix of the chain hash
}

// AuditAction is an audit action in the filter's select: its code and
// its name in the page's language.
type AuditAction struct{ Code, Label string }

// AuditFilter is the auditor's filter form, as typed (the page refills it).
// From/To are datetime-local values (JST), IP is a client address the
// server turns into its keyed hash.
type AuditFilter struct {
	From, To, Action, Actor, Subject, IP string
}

// AuditLog is "audit_log": the newest events matching the filter, a link
// to older ones, the chain's state and a link to export the filtered range.
// ErrorCode is "" | invalid (a bad filter value).
type AuditLog struct {
	Base
	Filter         AuditFilter
	Actions        []AuditAction // every action, for the filter's select
	Events         []AuditRow
	OlderURL       string // "" when there is nothing older
	ExportURL      string // JSON lines download of the filtered range (asks for the second factor)
	TotalEvents    int64
	CheckpointSize int64      // size of the newest signed checkpoint, 0 if none
	CheckpointAt   *time.Time // when it was signed
	ErrorCode      string
}

// ScopeType is one document type's row of an incident scope.
type ScopeType struct {
	Type     kakunin.DocumentType
	Existed  int64
	Readable int64
}

// ScopeRead is one image read by staff inside the window.
type ScopeRead struct {
	StaffEmail   string
	Role         kakunin.Role
	DocumentID   string
	DocumentType kakunin.DocumentType
	At           time.Time
	Origin       string
}

// ScopeStaff is how many images one staff member read in the window.
type ScopeStaff struct {
	StaffEmail string
	Role       kakunin.Role
	Reads      int64
}

// ScopeReport is the answer to "what was exposed between From and To".
type ScopeReport struct {
	From, To          time.Time
	KeysExposed       bool
	ComputedAt        time.Time
	Elapsed           time.Duration
	Existed           int64 // documents that existed as ciphertext in the window
	Readable          int64 // of them, readable with what the intruder held
	Members           int64 // distinct members with a document in the window
	MembersLeftBefore int64 // of them, had left the platform before the window ended
	MembersLeftSince  int64 // of them, left after the window
	ByType            []ScopeType
	ReadsByStaff      []ScopeStaff
	Reads             []ScopeRead // newest first, at most ReadsShown
	ReadsTotal        int64
	JSONURL           string // the same report as JSON
}

// Scope is "scope": the incident-scoping form (From/To as datetime-local
// values in JST, keys exposed or not) and, once submitted, the report.
// ErrorCode is "" | invalid | range.
type Scope struct {
	Base
	From, To    string
	KeysExposed bool
	ErrorCode   string
	Report      *ScopeReport
}

// PasskeyRow is one of the signed-in staff member's passkeys.
type PasskeyRow struct {
	ID         string
	Name       string
	CreatedAt  time.Time
	LastUsedAt *time.Time // nil: never used
}

// PasskeyList is "passkeys": the staff member's own passkeys, a button to
// remove each, and a form to add one (shown only when JavaScript runs: the
// page loads passkey.js). Available is false when this installation cannot
// offer passkeys (reached by IP address). MaxName and Limit bound a name's
// length and the number of passkeys. ErrorCode is "" | name | failed |
// cancelled | limit | unavailable.
type PasskeyList struct {
	Base
	Available bool
	Passkeys  []PasskeyRow
	MaxName   int
	Limit     int
	ErrorCode string
}

// NoticeView is a notice as the public reads it, in one language. The body
// is plain text: Paragraphs are its blank-line-separated parts, each a
// list of lines, and the template escapes every one.
type NoticeView struct {
	ID          string
	Lang        kakunin.Locale // the language of Title and Paragraphs
	Title       string
	Paragraphs  [][]string
	PublishedAt time.Time
	UpdatedAt   time.Time
	URL         string
}

// NoticesPublic is "notices_public": the published notices, the most
// recently updated first, and a link to the Atom feed.
type NoticesPublic struct {
	Base
	Notices []NoticeView
	FeedURL string
}

// NoticePublic is "notice_public": one published notice.
type NoticePublic struct {
	Base
	Item    NoticeView
	FeedURL string
}

// NoticeForm is the text of a notice as a responder typed it (the page
// refills it after an error), with the limits the form states.
type NoticeForm struct {
	TitleJA, TitleEN, BodyJA, BodyEN string
	MaxTitle, MaxBody                int
	IncidentID                       string           // the incident it is about, "" for none
	Incidents                        []IncidentChoice // what the incident select offers
}

// NoticeRow is one notice in the responder's list.
type NoticeRow struct {
	ID          string
	TitleJA     string
	TitleEN     string
	PublishedAt *time.Time // nil: a draft
	UpdatedAt   time.Time
}

// ConsoleNotices is "console_notices": every notice with its status, and a
// form to write a new draft. ErrorCode is "" | invalid.
type ConsoleNotices struct {
	Base
	Notices   []NoticeRow
	Form      NoticeForm
	ErrorCode string
}

// ConsoleNoticeEdit is "console_notice_edit": one notice's edit form, a
// publish button while it is a draft, and a preview of both languages as
// the public will see them. ErrorCode is "" | invalid.
type ConsoleNoticeEdit struct {
	Base
	ID          string
	Form        NoticeForm
	PublishedAt *time.Time
	UpdatedAt   time.Time
	PreviewJA   NoticeView
	PreviewEN   NoticeView
	ErrorCode   string
}
