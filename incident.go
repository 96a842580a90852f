package kakunin

import "time"

// IncidentStatus is where a breach investigation stands. It only moves
// forward, in the order of IncidentStatuses.
type IncidentStatus string

const (
	IncidentInvestigating IncidentStatus = "investigating"
	IncidentIdentified    IncidentStatus = "identified" // the window and what was held are known
	IncidentNotifying     IncidentStatus = "notifying"  // members are being told
	IncidentMonitoring    IncidentStatus = "monitoring"
	IncidentClosed        IncidentStatus = "closed"
)

// IncidentStatuses lists the statuses in the order an incident moves through them.
var IncidentStatuses = []IncidentStatus{IncidentInvestigating, IncidentIdentified, IncidentNotifying, IncidentMonitoring, IncidentClosed}

// Rank is the status's place in IncidentStatuses, -1 when unknown.
func (s IncidentStatus) Rank() int {
	for i, t := range IncidentStatuses {
		if t == s {
			return i
		}
	}
	return -1
}

// Scoped reports whether the window and what the intruder held are settled
// enough to tell members whether they are affected.
func (s IncidentStatus) Scoped() bool { return s.Rank() >= IncidentIdentified.Rank() }

// IncidentHeld is what the intruder may have held: each changes what could
// be read and therefore what must be reported.
type IncidentHeld struct {
	Database     bool `json:"database"`      // the SQL database (sealed fields, wrapped keys)
	Blobs        bool `json:"blobs"`         // the blob store (encrypted images)
	Keys         bool `json:"keys"`          // the key-encryption keyset and epoch key files
	StaffAccount bool `json:"staff_account"` // a staff account (reads are in the audit log)
}

// Incident is one breach (or suspected breach) the responders work on. It
// holds no personal data: the affected set is computed from the window.
type Incident struct {
	ID           string // inc_…
	Title        string // internal, for staff
	Summary      string // what is known, internal
	DiscoveredAt time.Time
	WindowFrom   time.Time // zero until known
	WindowTo     time.Time
	Held         IncidentHeld
	Malicious    bool // an attack, not an accident: the final report is due in 60 days, not 30
	Status       IncidentStatus
	// Dates the desk records as things are done; nil until done.
	PreliminaryReportedAt *time.Time // first report to the PPC
	FinalReportedAt       *time.Time // final report to the PPC
	IndividualsNotifiedAt *time.Time // members told (the mass notification finished)
	CreatedBy             string     // audit actor
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// IncidentUpdate is one entry of an incident's timeline.
type IncidentUpdate struct {
	ID         string
	IncidentID string
	At         time.Time
	Actor      string         // audit actor
	Status     IncidentStatus // the status after this update
	// An entry the desk wrote itself is a catalogue message, Code and
	// Args, written in the reader's language when shown; one a person
	// typed is Text, shown as typed. Exactly one of Code and Text is set.
	Code string
	Args map[string]string
	Text string
}

// CertifierItem is a corrective recommendation from a privacy certifier
// (e.g. the Privacy Mark's JIPDEC) with the date it is due.
type CertifierItem struct {
	ID         string
	IncidentID string
	Text       string
	DueAt      time.Time
	DoneAt     *time.Time
	CreatedAt  time.Time
}
