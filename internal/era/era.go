// Package era converts dates written in a Japanese era (和暦), as identity
// documents print them (平成2年4月12日), to calendar dates. The reviewer
// types what the card says; the server converts, so no one converts by hand.
package era

import (
	"errors"
	"fmt"
	"time"
)

// Era is one way of numbering years.
type Era struct {
	Code string // form value: reiwa | heisei | showa | taisho | western
	// First and Last are the era's first and last days (Last zero: it
	// has not ended). Western has neither.
	First, Last time.Time
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// Eras lists the eras a document can give, newest first, then the
// Western calendar (西暦). The days are those the eras officially began
// and ended.
var Eras = []Era{
	{Code: "reiwa", First: day(2019, time.May, 1)},
	{Code: "heisei", First: day(1989, time.January, 8), Last: day(2019, time.April, 30)},
	{Code: "showa", First: day(1926, time.December, 25), Last: day(1989, time.January, 7)},
	{Code: "taisho", First: day(1912, time.July, 30), Last: day(1926, time.December, 24)},
	{Code: "western"},
}

// Errors Date returns, for the form to say which part is wrong.
var (
	ErrUnknownEra = errors.New("unknown era")
	ErrNoSuchDate = errors.New("no such date")                // e.g. 31 April, or 29 February in a common year
	ErrOutsideEra = errors.New("the date is outside the era") // e.g. 平成32年, 昭和64年2月
)

// ByCode returns the era of a form value.
func ByCode(code string) (Era, bool) {
	for _, e := range Eras {
		if e.Code == code {
			return e, true
		}
	}
	return Era{}, false
}

// Date returns the calendar date of year (of the era; 1 is 元年) month and
// day, at midnight UTC. It refuses a day that does not exist and a date
// outside the era, such as 平成32年 (平成 ended in its 31st year).
func Date(code string, year, month, dayOf int) (time.Time, error) {
	e, ok := ByCode(code)
	if !ok {
		return time.Time{}, ErrUnknownEra
	}
	if year < 1 || month < 1 || month > 12 || dayOf < 1 || dayOf > 31 {
		return time.Time{}, ErrNoSuchDate
	}
	y := year
	if !e.First.IsZero() {
		y = e.First.Year() + year - 1
	}
	t := day(y, time.Month(month), dayOf)
	if t.Day() != dayOf || t.Month() != time.Month(month) {
		return time.Time{}, ErrNoSuchDate // time.Date normalised it: 31 April is 1 May
	}
	if !e.First.IsZero() && t.Before(e.First) || !e.Last.IsZero() && t.After(e.Last) {
		return time.Time{}, fmt.Errorf("%w: %s %d", ErrOutsideEra, code, year)
	}
	return t, nil
}
