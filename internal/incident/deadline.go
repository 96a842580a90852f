package incident

import (
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
)

// The clock of an incident: what Japanese rules require of the business
// and by when, computed from the record alone so that it can be tested
// line by line and shown with its reasons.
//
// The rules (the README cites them):
//
//   - APPI (Act on the Protection of Personal Information) Art. 26(1): a
//     leak, loss or damage of personal data, or the possibility of one
//     (「おそれ」), that is likely to harm individuals' rights and
//     interests, as the Enforcement Rules define it, must be reported to
//     the Personal Information Protection Commission (PPC).
//   - Enforcement Rules Art. 7: the cases that are reportable, among them
//     (ii) personal data whose misuse may cause property damage, (iii) a
//     leak that may have been caused with a wrongful purpose (unauthorised
//     access), (iv) more than 1,000 people.
//   - Enforcement Rules Art. 8: a preliminary report "promptly" (速やかに;
//     the PPC guidelines say about 3–5 days), and a final report within 30
//     days of learning of it, 60 days in case (iii).
//   - APPI Art. 26(2), Enforcement Rules Art. 10: the people affected are
//     notified "promptly, according to the situation" when a report is
//     required.
//   - PPC Guidelines (General Rules) 3-5-3-1 ※: personal data protected by
//     advanced encryption whose key was not leaked is not "leaked" in the
//     sense of these rules.

// Obligation kinds. An obligation's Key is its kind, or for a certifier
// item "certifier:" and the item's ID: the watch job remembers alerts by it.
const (
	ObligationPreliminary = "ppc_preliminary"
	ObligationFinal       = "ppc_final"
	ObligationIndividuals = "individuals"
	ObligationCertifier   = "certifier"
)

// ObligationStatus is where one obligation stands.
type ObligationStatus string

const (
	StatusDone        ObligationStatus = "done"
	StatusDue         ObligationStatus = "due"
	StatusOverdue     ObligationStatus = "overdue"
	StatusNotRequired ObligationStatus = "not_required"
)

// Reason is a plain-language sentence, as a catalogue message: its code
// (the ID) is what tests and callers decide on, its wording lives in
// internal/catalogue/locales/deadline.*.json, where a lawyer can edit it
// without touching Go.
type Reason = catalogue.Message

// Obligation is one thing the business owes, by when, and why.
type Obligation struct {
	Key    string // ObligationPreliminary… or "certifier:" + item ID
	Kind   string // ObligationPreliminary, ObligationFinal, ObligationIndividuals or ObligationCertifier
	Text   string // a certifier item's text; "" for the others
	DueAt  time.Time
	DoneAt *time.Time
	Status ObligationStatus
	Reason Reason
}

// Facts are what the record alone does not say, counted from the window
// (Service.Count). Without them (Counted false) the assessment says what
// it does not know instead of guessing low.
type Facts struct {
	Counted    bool  // the window is known and was scoped
	People     int64 // distinct members with a document in the window
	StaffReads int64 // document images opened by staff in the window
}

// Assessment is whether a report is required, why, and every obligation.
type Assessment struct {
	// Required: the report to the PPC (and the notification of
	// individuals) is required, or presumed so while what the intruder
	// held is not recorded. False means "probably not required", with the
	// reasons: the responder decides, the desk only explains.
	Required    bool
	Verdict     Reason
	Reasons     []Reason
	Obligations []Obligation
}

// Overdue returns the obligations past due and not done.
func (a Assessment) Overdue() []Obligation {
	var out []Obligation
	for _, o := range a.Obligations {
		if o.Status == StatusOverdue {
			out = append(out, o)
		}
	}
	return out
}

// Deadline constants: the preliminary report is shown as due 5 days after
// discovery (the PPC's "about 3–5 days", read at its latest), the final
// one 30 or 60 days after.
const (
	PreliminaryWithin    = 5 * 24 * time.Hour
	FinalWithin          = 30 * 24 * time.Hour
	FinalWithinMalicious = 60 * 24 * time.Hour
	// ManyPeople is the "more than 1,000 people" of Enforcement Rules Art. 7(iv).
	ManyPeople = 1000
)

// Assess computes, from the record, the certifier's items, the facts
// counted from the window and now, whether a report is required and every
// obligation with its due date, status and reason.
func Assess(in *kakunin.Incident, items []kakunin.CertifierItem, f Facts, now time.Time) Assessment {
	a := Assessment{}
	a.Required, a.Verdict, a.Reasons = reportable(in, f)

	prelimDue := in.DiscoveredAt.Add(PreliminaryWithin)
	finalDue, finalWhy := in.DiscoveredAt.Add(FinalWithin), catalogue.M("deadline.final.30")
	if in.Malicious {
		finalDue, finalWhy = in.DiscoveredAt.Add(FinalWithinMalicious), catalogue.M("deadline.final.60")
	}
	a.Obligations = []Obligation{
		obligation(ObligationPreliminary, prelimDue, in.PreliminaryReportedAt, a.Required, now, catalogue.M("deadline.preliminary")),
		obligation(ObligationFinal, finalDue, in.FinalReportedAt, a.Required, now, finalWhy),
		obligation(ObligationIndividuals, prelimDue, in.IndividualsNotifiedAt, a.Required, now, catalogue.M("deadline.individuals")),
	}
	for _, it := range items {
		a.Obligations = append(a.Obligations, obligation(ObligationCertifier, it.DueAt, it.DoneAt, true, now, catalogue.M("deadline.certifier")))
		o := &a.Obligations[len(a.Obligations)-1]
		o.Key, o.Text = ObligationCertifier+":"+it.ID, it.Text
	}
	return a
}

func obligation(kind string, due time.Time, done *time.Time, required bool, now time.Time, why Reason) Obligation {
	o := Obligation{Key: kind, Kind: kind, DueAt: due, DoneAt: done, Reason: why}
	switch {
	case done != nil:
		o.Status = StatusDone
	case !required:
		o.Status = StatusNotRequired
		// The obligation's own reason follows, so the reader still sees
		// the rule that would apply.
		o.Reason = catalogue.M("deadline.not_required", "Why", why.ID)
	case now.After(due):
		o.Status = StatusOverdue
	default:
		o.Status = StatusDue
	}
	return o
}

// The report rule as a decision table: the first row whose case holds
// decides whether the PPC report is required, its verdict, and the
// reasons given after the one every row shares.
var reportRules = []struct {
	name     string
	holds    func(h kakunin.IncidentHeld, f Facts) bool
	required bool
	verdict  string
	reasons  func(in *kakunin.Incident, f Facts) []Reason
}{
	// Nothing recorded: a possible leak must be reported too, so the
	// deadlines run until what was held is known.
	{"held_unknown", heldUnknown, true, "deadline.verdict.held_unknown",
		func(*kakunin.Incident, Facts) []Reason { return []Reason{catalogue.M("deadline.reason.held_unknown")} }},
	// Nothing the intruder held could be read: not "leaked" (PPC
	// guidelines 3-5-3-1 ※).
	{"not_readable", func(h kakunin.IncidentHeld, f Facts) bool { return !viaStore(h) && !viaStaff(h, f) }, false,
		"deadline.verdict.not_required", notReadableReasons},
	{"readable", func(kakunin.IncidentHeld, Facts) bool { return true }, true, "deadline.verdict.required", readableReasons},
}

func heldUnknown(h kakunin.IncidentHeld, _ Facts) bool {
	return !h.Database && !h.Blobs && !h.Keys && !h.StaffAccount
}

// viaStore: the database, the images and the keys together decrypt.
func viaStore(h kakunin.IncidentHeld) bool { return h.Database && h.Blobs && h.Keys }

// viaStaff: a staff account that opened images, or may have (not counted).
func viaStaff(h kakunin.IncidentHeld, f Facts) bool {
	return h.StaffAccount && (!f.Counted || f.StaffReads > 0)
}

// reportable decides, with reasons, whether the PPC report is required.
func reportable(in *kakunin.Incident, f Facts) (bool, Reason, []Reason) {
	why := []Reason{catalogue.M("deadline.reason.personal_data")}
	for _, rule := range reportRules {
		if rule.holds(in.Held, f) {
			return rule.required, catalogue.M(rule.verdict), append(why, rule.reasons(in, f)...)
		}
	}
	panic("incident: the last report rule always holds")
}

func notReadableReasons(in *kakunin.Incident, _ Facts) []Reason {
	h := in.Held
	var why []Reason
	switch {
	case !h.Keys:
		why = append(why, catalogue.M("deadline.reason.keys_not_taken"))
	case h.Blobs:
		why = append(why, catalogue.M("deadline.reason.keys_without_database"))
	default:
		why = append(why, catalogue.M("deadline.reason.keys_without_blobs"))
	}
	if h.StaffAccount {
		why = append(why, catalogue.M("deadline.reason.staff_no_reads"))
	}
	return append(why, catalogue.M("deadline.reason.not_a_decision"))
}

func readableReasons(in *kakunin.Incident, f Facts) []Reason {
	var why []Reason
	if viaStore(in.Held) {
		why = append(why, catalogue.M("deadline.reason.store_readable"))
	}
	if viaStaff(in.Held, f) {
		if f.Counted {
			why = append(why, catalogue.M("deadline.reason.staff_reads", "Reads", f.StaffReads))
		} else {
			why = append(why, catalogue.M("deadline.reason.staff_may_have_read"))
		}
	}
	why = append(why, catalogue.M("deadline.reason.property_damage"))
	if in.Malicious {
		why = append(why, catalogue.M("deadline.reason.malicious"))
	} else {
		why = append(why, catalogue.M("deadline.reason.accident"))
	}
	switch {
	case !f.Counted:
		why = append(why, catalogue.M("deadline.reason.people_uncounted"))
	case f.People > ManyPeople:
		why = append(why, catalogue.M("deadline.reason.many_people", "People", f.People))
	default:
		why = append(why, catalogue.M("deadline.reason.few_people", "People", f.People))
	}
	return why
}

// Staleness is what the public last heard of an incident.
type Staleness struct {
	Last   *time.Time // newest change of a published notice about it; nil: none
	Stale  bool
	Reason Reason
}

// PublicStatus says whether an incident's public notices are stale: an
// open incident whose newest published notice is older than staleAfter,
// or that has none once identified. A closed incident is never stale.
func PublicStatus(in *kakunin.Incident, last *time.Time, staleAfter time.Duration, now time.Time) Staleness {
	st := Staleness{Last: last}
	hours := fmt.Sprintf("%g", staleAfter.Hours())
	switch {
	case in.Status == kakunin.IncidentClosed:
		st.Reason = catalogue.M("deadline.public.closed")
	case last == nil && in.Status.Scoped():
		st.Stale, st.Reason = true, catalogue.M("deadline.public.identified_unpublished")
	case last == nil:
		st.Reason = catalogue.M("deadline.public.investigating")
	case now.Sub(*last) > staleAfter:
		st.Stale, st.Reason = true, catalogue.M("deadline.public.stale", "Hours", hours)
	default:
		st.Reason = catalogue.M("deadline.public.fresh", "Hours", hours)
	}
	return st
}
