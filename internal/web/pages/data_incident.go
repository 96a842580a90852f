package pages

import (
	"time"

	"github.com/kakunin/kakunin"
)

// IncidentChoice is one incident a notice may be about, in the notice
// form's select.
type IncidentChoice struct {
	ID    string
	Title string
}

// IncidentForm is an incident record as typed (datetime-local values in
// JST), refilled after an error.
type IncidentForm struct {
	Title, Summary                           string
	DiscoveredAt, WindowFrom, WindowTo       string
	Database, Blobs, Keys, StaffAccount      bool
	Malicious                                bool
	MaxTitle, MaxSummary, MaxUpdate, MaxItem int
	// Errors maps a field's name (title, summary, discovered_at,
	// window_from, window_to) to the message ID saying what is wrong with
	// it; only those fields are marked invalid.
	Errors map[string]string
}

// IncidentRow is one incident in the list.
type IncidentRow struct {
	ID           string
	Title        string
	Status       kakunin.IncidentStatus
	DiscoveredAt time.Time
	Required     bool       // a report is required (or presumed so)
	Overdue      int        // obligations past due
	NextDue      *time.Time // the soonest open obligation's due date
	LastPublic   *time.Time // newest change of a published notice about it
	Stale        bool       // no public update for too long
}

// ConsoleIncidents is "console_incidents": every incident, and for
// responders a form to open one. ErrorCode is "" | invalid.
type ConsoleIncidents struct {
	Base
	Incidents []IncidentRow
	CanEdit   bool // responders; auditors only read
	Form      IncidentForm
	ErrorCode string
}

// ObligationRow is one deadline on the incident page and the report.
type ObligationRow struct {
	Key    string
	Kind   string // ppc_preliminary | ppc_final | individuals | certifier
	Text   string // a certifier item's text
	DueAt  time.Time
	DoneAt *time.Time
	Status string // done | due | overdue | not_required
	Reason string // in the page's language
}

// TimelineRow is one entry of an incident's timeline.
type TimelineRow struct {
	At     time.Time
	Actor  string
	Status kakunin.IncidentStatus
	Text   string
}

// CertifierRow is one corrective item.
type CertifierRow struct {
	ID      string
	Text    string
	DueAt   time.Time
	DoneAt  *time.Time
	Overdue bool
}

// IncidentNoticeRow is a notice about the incident.
type IncidentNoticeRow struct {
	ID, TitleJA, TitleEN string
	PublishedAt          *time.Time // nil: a draft
	UpdatedAt            time.Time
}

// IncidentScope is the scope of the incident's window, counted.
type IncidentScope struct {
	People         int64 // distinct members with a document in the window
	PeopleReadable int64 // of them, with a readable document (keys taken)
	Documents      int64
	Readable       int64
	StaffReads     int64
	ByType         []ScopeType
	URL            string // the full scope page for the window
}

// IncidentRecord is what the incident page and the report show of the
// record.
type IncidentRecord struct {
	ID                                    string
	Title, Summary                        string
	Status                                kakunin.IncidentStatus
	DiscoveredAt                          time.Time
	WindowFrom, WindowTo                  *time.Time // nil while not known
	Held                                  kakunin.IncidentHeld
	Malicious                             bool
	PreliminaryAt, FinalAt, IndividualsAt *time.Time
	CreatedAt, UpdatedAt                  time.Time
}

// Deadlines is the assessment: whether a report is required, why, and
// each obligation.
type Deadlines struct {
	Required    bool
	Verdict     string
	Reasons     []string
	Obligations []ObligationRow
	Overdue     int
}

// ConsoleIncident is "console_incident": one incident's record, edit form,
// status buttons, timeline, scope, deadlines, certifier items and notices.
// ErrorCode is "" | invalid | window_required | status_order | done_already.
type ConsoleIncident struct {
	Base
	// Inquiries: the incident questions the inquiry desk received since
	// the incident was discovered, and how many of them are overdue (nil:
	// no desk).
	Inquiries    *IncidentInquiries
	Record       IncidentRecord
	CanEdit      bool
	NextStatuses []kakunin.IncidentStatus
	Form         IncidentForm
	ErrorCode    string
	Deadlines    Deadlines
	Scope        *IncidentScope // nil while the window is not known
	LastPublic   *time.Time
	Stale        bool
	StaleReason  string
	Notices      []IncidentNoticeRow
	Timeline     []TimelineRow
	Items        []CertifierRow
	Now          string // datetime-local "now", default of the date fields
	NotifyURL    string // the mass notification of this incident
	ReportURL    string
	NewNoticeURL string
}

// PublishedRow is a published notice listed in the report.
type PublishedRow struct {
	ID          string
	Title       string // in the report's language
	PublishedAt time.Time
	UpdatedAt   time.Time
}

// IncidentReport is "incident_report": the printable draft of the report
// to the PPC, in one language.
type IncidentReport struct {
	Base
	Record     IncidentRecord
	Deadlines  Deadlines
	Scope      *IncidentScope
	Cause      string
	Held       []string
	Published  []PublishedRow
	Timeline   []TimelineRow
	ComputedAt time.Time
	PageURL    string // back to the incident
}

// IncidentInquiries counts an incident's inquiries (the certifier asks
// about delays in answering them).
type IncidentInquiries struct{ Drawn, Overdue int }
