package inquiry

import (
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/store"
)

func jst(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, JST) }

// Business time is counted 9:00–18:00 JST on weekdays that are no public
// holiday and no closure day.
func TestTheSLAClockCountsBusinessHoursOnly(t *testing.T) {
	s := DefaultSLA()
	cases := []struct {
		name  string
		start time.Time
		d     time.Duration
		want  time.Time
	}{
		{"within a day", jst(2026, 12, 2, 10, 0), 4 * time.Hour, jst(2026, 12, 2, 14, 0)},
		{"before opening starts at 9", jst(2026, 12, 2, 6, 30), time.Hour, jst(2026, 12, 2, 10, 0)},
		{"after closing starts next morning", jst(2026, 12, 2, 19, 0), time.Hour, jst(2026, 12, 3, 10, 0)},
		{"across the night", jst(2026, 12, 2, 16, 0), 4 * time.Hour, jst(2026, 12, 3, 11, 0)},
		{"exactly at closing", jst(2026, 12, 2, 14, 0), 4 * time.Hour, jst(2026, 12, 2, 18, 0)},
		{"Friday afternoon over the weekend", jst(2026, 12, 4, 16, 0), 4 * time.Hour, jst(2026, 12, 7, 11, 0)},
		{"sent on a Saturday", jst(2026, 12, 5, 12, 0), time.Hour, jst(2026, 12, 7, 10, 0)},
		// 2026-11-23 (Mon) is Labour Thanksgiving Day.
		{"over a public holiday", jst(2026, 11, 20, 17, 0), 2 * time.Hour, jst(2026, 11, 24, 10, 0)},
		// 2027-01-11 (Mon) is Coming of Age Day; 2026-02-11 (Wed) National Foundation Day.
		{"a Monday holiday", jst(2027, 1, 8, 17, 0), 2 * time.Hour, jst(2027, 1, 12, 10, 0)},
		{"a midweek holiday", jst(2026, 2, 10, 17, 0), 2 * time.Hour, jst(2026, 2, 12, 10, 0)},
		// The New Year break: closed 29 Dec – 3 Jan; 2027-01-04 is a Monday.
		{"over the New Year break", jst(2026, 12, 28, 17, 0), 2 * time.Hour, jst(2027, 1, 4, 10, 0)},
		{"written during the break", jst(2026, 12, 31, 10, 0), time.Hour, jst(2027, 1, 4, 10, 0)},
		{"two business days", jst(2026, 12, 3, 12, 0), 18 * time.Hour, jst(2026, 12, 7, 12, 0)},
		{"from UTC: 23:30 UTC is 8:30 JST the next day", time.Date(2026, 12, 1, 23, 30, 0, 0, time.UTC), time.Hour, jst(2026, 12, 2, 10, 0)},
	}
	for _, c := range cases {
		if got := s.Add(c.start, c.d); !got.Equal(c.want) {
			t.Errorf("%s: %s + %s = %s, want %s", c.name, c.start.In(JST).Format(time.DateTime), c.d, got.In(JST).Format(time.DateTime), c.want.Format(time.DateTime))
		}
		if got := s.Between(c.start, c.want); got != c.d {
			t.Errorf("%s: between = %s, want %s", c.name, got, c.d)
		}
	}
	// JST has no daylight saving: the business day is 9:00–18:00 in every month.
	for m := time.January; m <= time.December; m++ {
		d := time.Date(2027, m, 15, 0, 0, 0, 0, JST)
		for !s.Workday(d) {
			d = d.AddDate(0, 0, 1)
		}
		if got := s.Add(d, time.Nanosecond); got.In(JST).Hour() != 9 {
			t.Errorf("%s: the day starts at %s", m, got.In(JST))
		}
	}
}

// The clock pauses while the desk waits for the person: the targets move
// by the business time it stood still.
func TestTheSLAClockPausesWhileWaitingForThePerson(t *testing.T) {
	now := jst(2026, 12, 3, 10, 0) // Thursday
	s := &Service{Now: func() time.Time { return now }}
	th := &store.InquiryThread{Category: CategoryIncident, Status: StatusOpen}
	s.personWrote(th, now)
	if want := jst(2026, 12, 3, 14, 0); !th.DueFirst.Equal(want) {
		t.Fatalf("first response due %s, want %s", th.DueFirst.In(JST), want)
	}
	solution := *th.DueSolution
	// The desk replies at 11:00 and waits; the person answers on Monday at
	// 11:00 (business time in between: 7 + 9 + 2 = 18 hours).
	paused := jst(2026, 12, 3, 11, 0)
	th.FirstReplyAt, th.DueFirst, th.Status = &paused, nil, StatusWaiting
	s.pause(th, paused)
	if got := s.State(th, jst(2026, 12, 20, 0, 0)); got != "paused" {
		t.Errorf("a paused thread long past its target is %q", got)
	}
	resumed := jst(2026, 12, 7, 11, 0)
	s.personWrote(th, resumed)
	if th.PausedAt != nil || th.Status != StatusOpen {
		t.Fatal("the clock did not resume")
	}
	if want := DefaultSLA().Add(solution, 18*time.Hour); !th.DueSolution.Equal(want) {
		t.Errorf("solution due %s, want %s (moved by the pause)", th.DueSolution.In(JST), want.In(JST))
	}
	if want := jst(2026, 12, 8, 11, 0); !th.DueNext.Equal(want) {
		t.Errorf("next update due %s, want %s", th.DueNext.In(JST), want)
	}
	for _, c := range []struct {
		at   time.Time
		want string
	}{{jst(2026, 12, 7, 12, 0), "ok"}, {jst(2026, 12, 8, 9, 30), "warning"}, {jst(2026, 12, 8, 11, 0), "breached"}} {
		if got := s.State(th, c.at); got != c.want {
			t.Errorf("at %s: %q, want %q", c.at, got, c.want)
		}
	}
}

func TestAnSLAFileOverridesTheDefaults(t *testing.T) {
	s, err := ParseSLA([]byte(`{"day_start": "10:00", "day_end": "17:00", "closures": [{"from": "08-13", "to": "08-16"}],
		"policies": {"incident": {"first_response": "2h"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Start != 10*time.Hour || s.End != 17*time.Hour || s.Policy(CategoryIncident).FirstResponse != 2*time.Hour ||
		s.Policy(CategoryIncident).Solution != DefaultSLA().Policy(CategoryIncident).Solution {
		t.Errorf("parsed %+v", s)
	}
	if s.Workday(jst(2027, 8, 13, 12, 0)) || !s.Workday(jst(2027, 12, 30, 12, 0)) {
		t.Error("the file's closures did not replace the default ones")
	}
	for _, bad := range []string{`{"policies": {"nope": {}}}`, `{"day_start": "9"}`, `{"day_start": "18:00", "day_end": "09:00"}`,
		`{"policies": {"other": {"solution": "-1h"}}}`, `{"closures": [{"from": "13-01", "to": "01-01"}]}`, `not json`} {
		if _, err := ParseSLA([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func TestCleanMessageRefusesWhatPlainTextHasNoUseFor(t *testing.T) {
	for in, want := range map[string]string{
		"  hello\r\nworld \r": "hello\nworld",
		"tab\there":           "tab\there",
		"日本語の問い合わせ":           "日本語の問い合わせ",
	} {
		if got, err := CleanMessage(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "  ", "a\x00b", "a\x1bb", "a\u202eb", "\xff", string(make([]byte, MaxMessage+1))} {
		if _, err := CleanMessage(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
