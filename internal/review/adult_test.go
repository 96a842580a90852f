package review_test

import (
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/review"
)

func TestIsAdultFromTheEighteenthBirthdayInJapan(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, kakunin.JST) }
	at := func(y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, kakunin.JST)
	}
	cases := []struct {
		name  string
		birth time.Time
		now   time.Time
		adult bool
	}{
		{"on the eighteenth birthday, first minute", day(2008, 11, 24), at(2026, 11, 24, 0, 0), true},
		// Japanese law: one gets older at the very end of the day before
		// the birthday, so during that day one is still 17 (review.go).
		{"on the day before the eighteenth birthday, last minute", day(2008, 11, 25), at(2026, 11, 24, 23, 59), false},
		{"two days before the eighteenth birthday", day(2008, 11, 26), at(2026, 11, 24, 23, 59), false},
		{"a year after", day(2007, 11, 25), at(2026, 11, 24, 12, 0), true},
		{"long adult", day(1960, 1, 1), at(2026, 11, 24, 12, 0), true},
		{"a child", day(2016, 5, 5), at(2026, 11, 24, 12, 0), false},
		{"seventeen years and eleven months", day(2008, 12, 24), at(2026, 11, 24, 12, 0), false},
		{"a 1 January birthday, on 1 January", day(2009, 1, 1), at(2027, 1, 1, 0, 0), true},
		{"a 1 January birthday, on 31 December", day(2009, 1, 1), at(2026, 12, 31, 23, 0), false},
		{"born 29 Feb, 28 Feb of a common year", day(2008, 2, 29), at(2026, 2, 28, 12, 0), false},
		{"born 29 Feb, 1 Mar of a common year", day(2008, 2, 29), at(2026, 3, 1, 0, 0), true},
		{"born 29 Feb, 29 Feb of a leap year", day(2004, 2, 29), at(2022, 2, 28, 23, 0), false},
		{"born 1 Mar, 1 Mar", day(2008, 3, 1), at(2026, 3, 1, 0, 0), true},
		{"born 1 Mar, 28 Feb", day(2008, 3, 1), at(2026, 2, 28, 12, 0), false},
		// 2026-11-24T15:30Z is 25 November in Japan: a member born on
		// 25 November 2008 is 18 there although it is still 24 November in UTC.
		{"JST day already the birthday, UTC day not yet", day(2008, 11, 25), time.Date(2026, 11, 24, 15, 30, 0, 0, time.UTC), true},
		{"JST and UTC both still the day before", day(2008, 11, 25), time.Date(2026, 11, 24, 14, 59, 59, 0, time.UTC), false},
		{"birth date given at UTC midnight keeps its calendar day", time.Date(2008, 11, 25, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 24, 15, 30, 0, 0, time.UTC), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := review.IsAdult(c.birth, c.now); got != c.adult {
				t.Errorf("IsAdult(%s, %s) = %v, want %v", c.birth.Format(time.DateOnly), c.now.In(kakunin.JST).Format(time.DateTime), got, c.adult)
			}
		})
	}
}
