package incident

import (
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
)

var discovered = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

func day(n int) time.Time { return discovered.Add(time.Duration(n) * 24 * time.Hour) }

// everything held: database, blobs and keys, so the images were readable.
var allHeld = kakunin.IncidentHeld{Database: true, Blobs: true, Keys: true}

func find(t *testing.T, a Assessment, key string) Obligation {
	t.Helper()
	for _, o := range a.Obligations {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no obligation %s in %+v", key, a.Obligations)
	return Obligation{}
}

// codes are the verdict's and the reasons' codes, one per line.
func codes(a Assessment) string {
	out := []string{a.Verdict.ID}
	for _, r := range a.Reasons {
		out = append(out, r.ID)
	}
	return strings.Join(out, "\n")
}

// reasons is the verdict and the reasons as a reader of lang sees them.
func reasons(t *testing.T, a Assessment, lang kakunin.Locale) string {
	t.Helper()
	var b strings.Builder
	for _, r := range append([]Reason{a.Verdict}, a.Reasons...) {
		s, err := catalogue.Default().Localize(lang, r)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(s + "\n")
	}
	return b.String()
}

func TestTheFinalReportIsDueIn60DaysWhenMaliciousAnd30Otherwise(t *testing.T) {
	for _, tt := range []struct {
		malicious bool
		due       time.Time
		why       string
	}{
		{false, day(30), "deadline.final.30"},
		{true, day(60), "deadline.final.60"},
	} {
		in := &kakunin.Incident{ID: "inc_1", DiscoveredAt: discovered, Held: allHeld, Malicious: tt.malicious, Status: kakunin.IncidentInvestigating}
		a := Assess(in, nil, Facts{}, day(1))
		final := find(t, a, ObligationFinal)
		if !final.DueAt.Equal(tt.due) || final.Status != StatusDue || final.Reason.ID != tt.why {
			t.Errorf("malicious %v: final %+v", tt.malicious, final)
		}
		prelim := find(t, a, ObligationPreliminary)
		if !prelim.DueAt.Equal(day(5)) || prelim.Reason.ID != "deadline.preliminary" {
			t.Errorf("preliminary %+v", prelim)
		}
		if ind := find(t, a, ObligationIndividuals); !ind.DueAt.Equal(prelim.DueAt) || ind.Reason.ID != "deadline.individuals" {
			t.Errorf("individuals %+v, want due with the preliminary report", ind)
		}
	}
}

// The report rule, row by row: what was held and counted, and the verdict
// and reasons it gives, by code.
func TestTheReportRuleDecidesOnWhatWasHeldAndCounted(t *testing.T) {
	db, blobs, keys, staff := true, true, true, true
	for _, tt := range []struct {
		name      string
		held      kakunin.IncidentHeld
		malicious bool
		f         Facts
		required  bool
		want      []string // the verdict, then the reasons after personal_data
	}{
		{"nothing recorded", kakunin.IncidentHeld{}, false, Facts{}, true,
			[]string{"deadline.verdict.held_unknown", "deadline.reason.held_unknown"}},
		{"keys not taken", kakunin.IncidentHeld{Database: db, Blobs: blobs}, true, Facts{Counted: true, People: 1_710_000}, false,
			[]string{"deadline.verdict.not_required", "deadline.reason.keys_not_taken", "deadline.reason.not_a_decision"}},
		{"keys without the images", kakunin.IncidentHeld{Keys: keys, Database: db}, false, Facts{}, false,
			[]string{"deadline.verdict.not_required", "deadline.reason.keys_without_blobs", "deadline.reason.not_a_decision"}},
		{"keys without the wrapped data keys", kakunin.IncidentHeld{Keys: keys, Blobs: blobs}, false, Facts{}, false,
			[]string{"deadline.verdict.not_required", "deadline.reason.keys_without_database", "deadline.reason.not_a_decision"}},
		{"a staff account that opened nothing", kakunin.IncidentHeld{Database: db, StaffAccount: staff}, false, Facts{Counted: true, People: 3}, false,
			[]string{"deadline.verdict.not_required", "deadline.reason.keys_not_taken", "deadline.reason.staff_no_reads", "deadline.reason.not_a_decision"}},
		{"a staff account that opened images", kakunin.IncidentHeld{StaffAccount: staff}, true, Facts{Counted: true, People: 3, StaffReads: 2}, true,
			[]string{"deadline.verdict.required", "deadline.reason.staff_reads", "deadline.reason.property_damage", "deadline.reason.malicious", "deadline.reason.few_people"}},
		{"a staff account, reads not counted", kakunin.IncidentHeld{StaffAccount: staff}, false, Facts{}, true,
			[]string{"deadline.verdict.required", "deadline.reason.staff_may_have_read", "deadline.reason.property_damage", "deadline.reason.accident", "deadline.reason.people_uncounted"}},
		{"everything, many people", allHeld, false, Facts{Counted: true, People: 1001}, true,
			[]string{"deadline.verdict.required", "deadline.reason.store_readable", "deadline.reason.property_damage", "deadline.reason.accident", "deadline.reason.many_people"}},
		{"everything, exactly 1,000 people", allHeld, true, Facts{Counted: true, People: 1000}, true,
			[]string{"deadline.verdict.required", "deadline.reason.store_readable", "deadline.reason.property_damage", "deadline.reason.malicious", "deadline.reason.few_people"}},
	} {
		in := &kakunin.Incident{ID: "inc_1", DiscoveredAt: discovered, Held: tt.held, Malicious: tt.malicious, Status: kakunin.IncidentIdentified}
		a := Assess(in, nil, tt.f, day(1))
		want := strings.Join(append([]string{tt.want[0], "deadline.reason.personal_data"}, tt.want[1:]...), "\n")
		if a.Required != tt.required || codes(a) != want {
			t.Errorf("%s: required %v, want %v; codes\n%s\nwant\n%s", tt.name, a.Required, tt.required, codes(a), want)
		}
		for _, k := range []string{ObligationPreliminary, ObligationFinal, ObligationIndividuals} {
			o := find(t, a, k)
			if tt.required == (o.Status == StatusNotRequired) {
				t.Errorf("%s: %s is %s", tt.name, k, o.Status)
			}
			if !tt.required && (o.Reason.ID != "deadline.not_required" || o.Reason.Args["Why"] == "") {
				t.Errorf("%s: %s's reason %+v", tt.name, k, o.Reason)
			}
		}
		if !tt.required && len(a.Overdue()) != 0 {
			t.Errorf("%s: not-required obligations are overdue: %+v", tt.name, a.Overdue())
		}
	}
}

func TestTheReasonsReadInBothLanguagesWithTheirCounts(t *testing.T) {
	in := &kakunin.Incident{ID: "inc_1", DiscoveredAt: discovered, Held: kakunin.IncidentHeld{StaffAccount: true, Database: true, Blobs: true, Keys: true},
		Status: kakunin.IncidentIdentified}
	a := Assess(in, nil, Facts{Counted: true, People: 1001, StaffReads: 1}, day(1))
	en, ja := reasons(t, a, kakunin.LocaleEN), reasons(t, a, kakunin.LocaleJA)
	for _, want := range []string{"opened 1 time in the window", "applies. 1,001 people had a document", "(ii) Property damage: applies"} {
		if !strings.Contains(en, want) {
			t.Errorf("English lacks %q:\n%s", want, en)
		}
	}
	for _, want := range []string{"1 回開かれています", "本人は 1,001 人です", "財産的被害"} {
		if !strings.Contains(ja, want) {
			t.Errorf("Japanese lacks %q:\n%s", want, ja)
		}
	}
	a = Assess(in, nil, Facts{Counted: true, People: 1, StaffReads: 2}, day(1))
	if en := reasons(t, a, kakunin.LocaleEN); !strings.Contains(en, "opened 2 times") || !strings.Contains(en, "1 person had") {
		t.Errorf("plural forms:\n%s", en)
	}
	in.Held = kakunin.IncidentHeld{Database: true}
	a = Assess(in, nil, Facts{}, day(1))
	if ja := reasons(t, a, kakunin.LocaleJA); !strings.Contains(ja, "3-5-3-1") {
		t.Errorf("the Japanese reasoning does not cite the guideline:\n%s", ja)
	}
	o := find(t, a, ObligationFinal)
	got, err := catalogue.Default().Localize(kakunin.LocaleEN, o.Reason)
	if err != nil || !strings.HasPrefix(got, "Probably not required") || !strings.Contains(got, "within 30 days") {
		t.Errorf("a deadline not required still names its rule: %q, %v", got, err)
	}
}

func TestObligationsAreDoneDueOrOverdue(t *testing.T) {
	reported := day(3)
	in := &kakunin.Incident{ID: "inc_1", DiscoveredAt: discovered, Held: allHeld, Malicious: true, Status: kakunin.IncidentNotifying,
		PreliminaryReportedAt: &reported}
	itemDone := day(8)
	items := []kakunin.CertifierItem{
		{ID: "cit_late", Text: "Publish an erasure policy", DueAt: day(7)},
		{ID: "cit_done", Text: "Set up complaint handling", DueAt: day(7), DoneAt: &itemDone},
		{ID: "cit_later", Text: "Audit access", DueAt: day(90)},
	}
	a := Assess(in, items, Facts{}, day(10))
	for key, want := range map[string]ObligationStatus{
		ObligationPreliminary: StatusDone,
		ObligationIndividuals: StatusOverdue, // due with the preliminary report, day 5
		ObligationFinal:       StatusDue,     // day 60
		"certifier:cit_late":  StatusOverdue,
		"certifier:cit_done":  StatusDone,
		"certifier:cit_later": StatusDue,
	} {
		if got := find(t, a, key); got.Status != want {
			t.Errorf("%s: %s, want %s", key, got.Status, want)
		}
	}
	if o := find(t, a, "certifier:cit_late"); o.Text != "Publish an erasure policy" || o.Kind != ObligationCertifier || !o.DueAt.Equal(day(7)) {
		t.Errorf("certifier obligation %+v", o)
	}
	var overdue []string
	for _, o := range a.Overdue() {
		overdue = append(overdue, o.Key)
	}
	if strings.Join(overdue, ",") != "individuals,certifier:cit_late" {
		t.Errorf("overdue %v", overdue)
	}
	// On the due instant itself, nothing is overdue yet.
	if o := find(t, Assess(in, items, Facts{}, day(5)), ObligationIndividuals); o.Status != StatusDue {
		t.Errorf("at the due time: %s", o.Status)
	}
}

func TestPublicNoticesGoStaleAfterTheConfiguredTimeOrWhenThereAreNone(t *testing.T) {
	last := day(1)
	for _, tt := range []struct {
		status kakunin.IncidentStatus
		last   *time.Time
		now    time.Time
		stale  bool
	}{
		{kakunin.IncidentInvestigating, nil, day(10), false},
		{kakunin.IncidentIdentified, nil, day(1), true},
		{kakunin.IncidentNotifying, &last, day(3), false},
		{kakunin.IncidentNotifying, &last, day(4).Add(time.Second), true},
		{kakunin.IncidentClosed, nil, day(30), false},
	} {
		in := &kakunin.Incident{ID: "inc_1", DiscoveredAt: discovered, Status: tt.status}
		st := PublicStatus(in, tt.last, 72*time.Hour, tt.now)
		if st.Stale != tt.stale || !strings.HasPrefix(st.Reason.ID, "deadline.public.") {
			t.Errorf("%s last %v now %v: %+v", tt.status, tt.last, tt.now, st)
		}
	}
}
