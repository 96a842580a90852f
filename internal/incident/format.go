package incident

import (
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
)

// Dates as members read them in the mail the desk sends (the exposure
// check's answer, the notification letter): Japan time, in their language.
// The catalogue writes them (its messages use the same); pages have their
// own in internal/web/pages.

// FormatMonth writes an ExposedDocument's month ("2006-01") as
// "January 2006" or "2006年1月"; anything else is returned as it is.
func FormatMonth(lang kakunin.Locale, month string) string { return catalogue.FormatMonth(lang, month) }

// FormatDate writes t's day in Japan time; "" for the zero time.
func FormatDate(lang kakunin.Locale, t time.Time) string { return catalogue.FormatDate(lang, t) }

// FormatDateTime writes t to the minute in Japan time; "" for the zero time.
func FormatDateTime(lang kakunin.Locale, t time.Time) string {
	return catalogue.FormatDateTime(lang, t)
}
