package inquiry

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/jp"
)

// JST is Japan Standard Time: UTC+9 all year, no daylight saving (so the
// desk's clock needs no time-zone database).
var JST = time.FixedZone("JST", 9*60*60)

// Policy is one category's targets, in business hours.
type Policy struct {
	FirstResponse time.Duration `json:"-"` // from the person's first message to the desk's first reply
	NextUpdate    time.Duration `json:"-"` // from the person's later message to the desk's next reply
	Solution      time.Duration `json:"-"` // from opening to closing, paused while waiting for the person
}

// Closure is a run of days the desk is closed every year besides public
// holidays, given as month and day (From to To inclusive; a run across
// the new year, 12-29 to 01-03, is allowed).
type Closure struct {
	From, To string // "MM-DD"
}

// SLA is the desk's service levels: the targets per category, counted in
// business hours (Start to End on weekdays, JST) that are neither a
// Japanese public holiday nor a closure day.
type SLA struct {
	Policies map[string]Policy
	Start    time.Duration // the business day's start after midnight JST
	End      time.Duration
	Closures []Closure
	// WarnBefore: a target this close (in wall-clock time) is warned of.
	WarnBefore time.Duration
	holidays   *cal.Calendar
}

// DefaultSLA is the desk's defaults: 9:00–18:00 JST, the New Year break
// (29 Dec – 3 Jan) closed, incident questions first answered within 4
// business hours, other categories within 2 business days.
func DefaultSLA() *SLA {
	day := 9 * time.Hour
	return &SLA{
		Policies: map[string]Policy{
			CategoryIncident:     {FirstResponse: 4 * time.Hour, NextUpdate: day, Solution: 5 * day},
			CategoryVerification: {FirstResponse: 2 * day, NextUpdate: 2 * day, Solution: 10 * day},
			CategoryMyData:       {FirstResponse: 2 * day, NextUpdate: 2 * day, Solution: 10 * day},
			CategoryOther:        {FirstResponse: 2 * day, NextUpdate: 2 * day, Solution: 10 * day},
		},
		Start: 9 * time.Hour, End: 18 * time.Hour,
		Closures:   []Closure{{From: "12-29", To: "01-03"}},
		WarnBefore: 2 * time.Hour,
	}
}

// slaFile is the JSON form of an SLA file: durations as Go durations of
// business time ("4h", "18h"), hours as "09:00".
type slaFile struct {
	Start    string `json:"day_start"`
	End      string `json:"day_end"`
	Warn     string `json:"warn_before"`
	Closures []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"closures"`
	Policies map[string]struct {
		First    string `json:"first_response"`
		Next     string `json:"next_update"`
		Solution string `json:"solution"`
	} `json:"policies"`
}

// LoadSLA reads an SLA file (see the README): every field is optional and
// takes the default's value when left out.
func LoadSLA(path string) (*SLA, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("SLA file: %w", err)
	}
	return ParseSLA(b)
}

// ParseSLA parses an SLA file's contents.
func ParseSLA(b []byte) (*SLA, error) {
	var f slaFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("SLA file: %w", err)
	}
	s := DefaultSLA()
	clock := func(v string, dst *time.Duration) error {
		if v == "" {
			return nil
		}
		t, err := time.Parse("15:04", v)
		if err != nil {
			return fmt.Errorf("SLA file: %q is not a time of day like 09:00", v)
		}
		*dst = time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
		return nil
	}
	dur := func(v string, dst *time.Duration) error {
		if v == "" {
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("SLA file: %q is not a positive duration like 4h", v)
		}
		*dst = d
		return nil
	}
	if err := clock(f.Start, &s.Start); err != nil {
		return nil, err
	}
	if err := clock(f.End, &s.End); err != nil {
		return nil, err
	}
	if s.End <= s.Start {
		return nil, fmt.Errorf("SLA file: the business day ends before it starts")
	}
	if err := dur(f.Warn, &s.WarnBefore); err != nil {
		return nil, err
	}
	if f.Closures != nil {
		s.Closures = nil
		for _, c := range f.Closures {
			for _, v := range []string{c.From, c.To} {
				if _, err := time.Parse("01-02", v); err != nil {
					return nil, fmt.Errorf("SLA file: closure day %q is not MM-DD", v)
				}
			}
			s.Closures = append(s.Closures, Closure{From: c.From, To: c.To})
		}
	}
	for cat, p := range f.Policies {
		if !ValidCategory(cat) {
			return nil, fmt.Errorf("SLA file: no category %q (the categories are %v)", cat, Categories)
		}
		pol := s.Policies[cat]
		for _, x := range []struct {
			v   string
			dst *time.Duration
		}{{p.First, &pol.FirstResponse}, {p.Next, &pol.NextUpdate}, {p.Solution, &pol.Solution}} {
			if err := dur(x.v, x.dst); err != nil {
				return nil, err
			}
		}
		s.Policies[cat] = pol
	}
	return s, nil
}

// Policy returns category's targets (other's for an unknown one).
func (s *SLA) Policy(category string) Policy {
	if p, ok := s.Policies[category]; ok {
		return p
	}
	return s.Policies[CategoryOther]
}

func (s *SLA) calendar() *cal.Calendar {
	if s.holidays == nil {
		c := &cal.Calendar{}
		c.AddHoliday(jp.Holidays...)
		s.holidays = c
	}
	return s.holidays
}

// Workday reports whether the JST date of t is a business day.
func (s *SLA) Workday(t time.Time) bool {
	t = t.In(JST)
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	if actual, observed, _ := s.calendar().IsHoliday(t); actual || observed {
		return false
	}
	md := t.Format("01-02")
	for _, c := range s.Closures {
		if c.From <= c.To && md >= c.From && md <= c.To || c.From > c.To && (md >= c.From || md <= c.To) {
			return false
		}
	}
	return true
}

// dayBounds returns the business hours of t's JST day.
func (s *SLA) dayBounds(t time.Time) (time.Time, time.Time) {
	t = t.In(JST)
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, JST)
	return midnight.Add(s.Start), midnight.Add(s.End)
}

// Add returns the moment d of business time after start.
func (s *SLA) Add(start time.Time, d time.Duration) time.Time {
	cur := start.In(JST)
	for range 3660 { // ten years of days: a calendar with no business day ends here
		open, shut := s.dayBounds(cur)
		if s.Workday(cur) && cur.Before(shut) {
			if cur.Before(open) {
				cur = open
			}
			if left := shut.Sub(cur); d <= left {
				return cur.Add(d).UTC()
			} else {
				d -= left
			}
		}
		y, m, dd := cur.Date()
		cur = time.Date(y, m, dd+1, 0, 0, 0, 0, JST)
	}
	return cur.UTC()
}

// Between returns the business time from a to b (0 when b is not after a).
func (s *SLA) Between(a, b time.Time) time.Duration {
	var total time.Duration
	cur := a.In(JST)
	for range 3660 {
		if !cur.Before(b) {
			break
		}
		open, shut := s.dayBounds(cur)
		if s.Workday(cur) {
			from, to := maxTime(cur, open), minTime(b, shut)
			if to.After(from) {
				total += to.Sub(from)
			}
		}
		y, m, dd := cur.Date()
		cur = time.Date(y, m, dd+1, 0, 0, 0, 0, JST)
	}
	return total
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
