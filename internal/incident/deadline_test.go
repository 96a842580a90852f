package incident

import (
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
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

func reasons(a Assessment, lang kakunin.Locale) string {
	var b strings.Builder
	b.WriteString(a.Verdict.Text(lang) + "\n")
	for _, r := range a.Reasons {
		b.WriteString(r.Text(lang) + "\n")
	}
	return b.String()
}

func TestTheFinalReportIsDueIn60DaysWhenMaliciousAnd30Otherwise(t *testing.T) {
	for _, tt := range []struct {
		malicious bool
		due       time.Time
		why       string
	}{
		{false, day(30), "within 30 days"},
		{true, day(60), "60 days"},
	} {
		in := &kakunin.Incident{ID: "inc_1", DiscoveredAt: discovered, Held: allHeld, Malicious: tt.malicious, Status: kakunin.IncidentInvestigating}
		a := Assess(in, nil, Facts{}, day(1))
		final := find(t, a, ObligationFinal)
		if !final.DueAt.Equal(tt.due) || final.Status != StatusDue || !strings.Contains(final.Reason.EN, tt.why) || final.Reason.JA == "" {
			t.Errorf("malicious %v: final %+v", tt.malicious, final)
		}
		prelim := find(t, a, ObligationPreliminary)
		if !prelim.DueAt.Equal(day(5)) || !strings.Contains(prelim.Reason.EN, "3–5 days") {
			t.Errorf("preliminary %+v", prelim)
		}
		if ind := find(t, a, ObligationIndividuals); !ind.DueAt.Equal(prelim.DueAt) {
			t.Errorf("individuals due %v, want with the preliminary report", ind.DueAt)
		}
	}
}

func TestKeysNotTakenMeansAReportIsProbablyNotRequiredAndSaysWhy(t *testing.T) {
	in := &kakunin.Incident{ID: "inc_1", DiscoveredAt: discovered, Held: kakunin.IncidentHeld{Database: true, Blobs: true},
		Malicious: true, Status: kakunin.IncidentIdentified}
	a := Assess(in, nil, Facts{Counted: true, People: 1_710_000}, day(40))
	if a.Required {
		t.Fatal("encrypted data with the key not taken was judged reportable")
	}
	why := reasons(a, kakunin.LocaleEN)
	for _, want := range []string{"probably not required", "advanced encryption", "3-5-3-1", "not a decision"} {
		if !strings.Contains(why, want) {
			t.Errorf("the reasoning lacks %q:\n%s", want, why)
		}
	}
	if !strings.Contains(reasons(a, kakunin.LocaleJA), "3-5-3-1") {
		t.Error("the Japanese reasoning does not cite the guideline")
	}
	for _, k := range []string{ObligationPreliminary, ObligationFinal, ObligationIndividuals} {
		o := find(t, a, k)
		if o.Status != StatusNotRequired || !strings.Contains(o.Reason.EN, "Probably not required") {
			t.Errorf("%s: %+v", k, o)
		}
	}
	if len(a.Overdue()) != 0 {
		t.Errorf("not-required obligations are overdue: %+v", a.Overdue())
	}

	// A staff account that opened images changes the answer…
	in.Held.StaffAccount = true
	if a := Assess(in, nil, Facts{Counted: true, People: 3, StaffReads: 2}, day(1)); !a.Required {
		t.Error("images opened through a staff account were judged not reportable")
	}
	// …one that opened none does not, and says so.
	a = Assess(in, nil, Facts{Counted: true, People: 3, StaffReads: 0}, day(1))
	if a.Required || !strings.Contains(reasons(a, kakunin.LocaleEN), "opened no document image") {
		t.Errorf("staff account without reads: required %v\n%s", a.Required, reasons(a, kakunin.LocaleEN))
	}
	// Uncounted (window unknown), a staff account counts as having read.
	if a := Assess(in, nil, Facts{}, day(1)); !a.Required {
		t.Error("a staff account with unknown reads was presumed harmless")
	}

	// Keys without the images or the wrapped data keys: nothing decryptable.
	in.Held = kakunin.IncidentHeld{Keys: true, Database: true}
	a = Assess(in, nil, Facts{}, day(1))
	if a.Required || !strings.Contains(reasons(a, kakunin.LocaleEN), "encrypted images") {
		t.Errorf("keys without blobs: required %v\n%s", a.Required, reasons(a, kakunin.LocaleEN))
	}
}

func TestNothingRecordedAsHeldIsTreatedAsReportable(t *testing.T) {
	in := &kakunin.Incident{ID: "inc_1", DiscoveredAt: discovered, Status: kakunin.IncidentInvestigating}
	a := Assess(in, nil, Facts{}, day(1))
	if !a.Required || !strings.Contains(a.Verdict.EN, "not recorded yet") {
		t.Fatalf("unknown holdings: %+v", a)
	}
}

func TestTheThousandPeopleRuleUsesTheCountedScope(t *testing.T) {
	for _, tt := range []struct {
		f    Facts
		want string
	}{
		{Facts{}, "not counted yet"},
		{Facts{Counted: true, People: 1000}, "does not apply. 1,000 people"},
		{Facts{Counted: true, People: 1001}, "applies. 1,001 people"},
	} {
		in := &kakunin.Incident{ID: "inc_1", DiscoveredAt: discovered, Held: allHeld, Status: kakunin.IncidentIdentified}
		a := Assess(in, nil, tt.f, day(1))
		why := reasons(a, kakunin.LocaleEN)
		if !a.Required || !strings.Contains(why, tt.want) {
			t.Errorf("%+v: required %v, reasoning lacks %q:\n%s", tt.f, a.Required, tt.want, why)
		}
		// An accident is said to be one, and property damage always applies to ID images.
		if !strings.Contains(why, "(iii) Wrongful purpose: not recorded") || !strings.Contains(why, "(ii) Property damage: applies") {
			t.Errorf("reasoning:\n%s", why)
		}
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
		if st.Stale != tt.stale || st.Reason.EN == "" || st.Reason.JA == "" {
			t.Errorf("%s last %v now %v: %+v", tt.status, tt.last, tt.now, st)
		}
	}
}
