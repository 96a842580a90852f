package jpki

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
)

// FuzzParseBirthdate: whatever the provider sends as birthdate, the parser
// never panics, and what it accepts is exactly a real YYYY-MM-DD date from
// 1900 up to now, which it returns unchanged as a date in Japan.
func FuzzParseBirthdate(f *testing.F) {
	for _, s := range []string{`"2000-01-02"`, `"2008-02-29"`, `"1990/01/02"`, `"1990"`, `"0000-03-04"`, `null`, `19900102`,
		`{"y":1990}`, `"2000-13-01"`, `"2000-02-30"`, `"\u0032000-01-02"`, `"1899-12-31"`, `"9999-12-31"`, `"2000-01-02T00:00:00Z"`} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte) {
		d, err := ParseBirthdate(json.RawMessage(raw), now)
		if err != nil {
			return
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			t.Fatalf("accepted %q, which is not a JSON string", raw)
		}
		if d.Format("2006-01-02") != s || d.Location() != kakunin.JST || d.Year() < 1900 || !d.Before(now) {
			t.Fatalf("accepted %q as %v", s, d)
		}
	})
}
