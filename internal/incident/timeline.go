package incident

import (
	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
)

// The timeline entries the desk writes itself, as catalogue codes; their
// wording is in catalogue/locales/incident.*.json. Stored entries refer to
// them: never change one (migration 00014 turned the English sentences
// written before into these).
const (
	TimelineOpened              = "incident.timeline.opened"               // no arguments
	TimelineStatus              = "incident.timeline.status"               // From, To: statuses
	TimelinePreliminaryReported = "incident.timeline.preliminary_reported" // At: RFC 3339
	TimelineFinalReported       = "incident.timeline.final_reported"       // At
	TimelineIndividualsNotified = "incident.timeline.individuals_notified" // At
)

// TimelineCodes lists every code above.
var TimelineCodes = []string{TimelineOpened, TimelineStatus, TimelinePreliminaryReported, TimelineFinalReported, TimelineIndividualsNotified}

// UpdateMessage is what a desk-written entry says, for the catalogue;
// ok is false for text a person typed (u.Text).
func UpdateMessage(u kakunin.IncidentUpdate) (m catalogue.Message, ok bool) {
	if u.Code == "" {
		return catalogue.Message{}, false
	}
	m.ID = u.Code
	if len(u.Args) > 0 {
		m.Args = make(map[string]any, len(u.Args))
		for k, v := range u.Args {
			m.Args[k] = v
		}
	}
	return m, true
}

// UpdateText is an entry as a reader of lang sees it: a desk-written entry
// in lang, a typed one as typed.
func UpdateText(lang kakunin.Locale, u kakunin.IncidentUpdate) string {
	if m, ok := UpdateMessage(u); ok {
		return catalogue.Localize(lang, m)
	}
	return u.Text
}
