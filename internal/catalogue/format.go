package catalogue

import (
	"fmt"
	"strconv"
	"time"

	"github.com/kakunin/kakunin"
)

// Dates as members and staff read them in mail and in messages: Japan
// time, in their language. Pages format their own dates (internal/web/pages)
// in a shorter form.

// FormatMonth writes a month ("2006-01") as "January 2006" or "2006年1月";
// anything else is returned as it is.
func FormatMonth(lang kakunin.Locale, month string) string {
	t, err := time.Parse("2006-01", month)
	if err != nil {
		return month
	}
	if lang == kakunin.LocaleEN {
		return t.Format("January 2006")
	}
	return t.Format("2006年1月")
}

// FormatDate writes t's day in Japan time; "" for the zero time.
func FormatDate(lang kakunin.Locale, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(kakunin.JST)
	if lang == kakunin.LocaleEN {
		return t.Format("2 January 2006")
	}
	return t.Format("2006年1月2日")
}

// FormatDateTime writes t to the minute in Japan time; "" for the zero time.
func FormatDateTime(lang kakunin.Locale, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(kakunin.JST)
	if lang == kakunin.LocaleEN {
		return t.Format("2 January 2006, 15:04") + " JST"
	}
	return t.Format("2006年1月2日 15:04")
}

// FormatStamp writes t to the minute in Japan time as a record does,
// "2006-01-02 15:04 JST"; "" for the zero time.
func FormatStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(kakunin.JST).Format("2006-01-02 15:04 JST")
}

func formatIn(t time.Time, zone *time.Location, layout string) string {
	if t.IsZero() {
		return ""
	}
	return t.In(zone).Format(layout)
}

// asTime reads a message argument as a time: a time.Time, a *time.Time or
// an RFC 3339 string (arguments stored as JSON are strings). Anything else
// is the zero time, written as "".
func asTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case *time.Time:
		if t != nil {
			return *t
		}
	case string:
		if p, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return p
		}
	}
	return time.Time{}
}

// formatCount writes an integer argument with thousands separators; a
// string holding one is read first (stored arguments are strings).
func formatCount(v any) string {
	switch n := v.(type) {
	case int:
		return kakunin.FormatCount(int64(n))
	case int64:
		return kakunin.FormatCount(n)
	case string:
		if i, err := strconv.ParseInt(n, 10, 64); err == nil {
			return kakunin.FormatCount(i)
		}
		return n
	}
	return fmt.Sprint(v)
}
