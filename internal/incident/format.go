package incident

import (
	"time"

	"github.com/kakunin/kakunin"
)

// Dates as members read them in the mail the desk sends (the exposure
// check's answer, the notification letter): Japan time, in their language.
// Pages have their own in internal/web/pages.

// FormatMonth writes an ExposedDocument's month ("2006-01") as
// "January 2006" or "2006年1月"; anything else is returned as it is.
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
