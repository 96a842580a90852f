package jpki

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/kakunin/kakunin"
)

// Claims are the ID token's (or UserInfo's) claims this package reads
// beyond what go-oidc checks. Birthdate stays raw JSON until
// ParseBirthdate, so a number or an object is refused, not coerced.
type Claims struct {
	AuthorizedParty string          `json:"azp"`
	Birthdate       json.RawMessage `json:"birthdate"`
}

// ParseBirthdate reads the OpenID Connect birthdate claim (Core §5.1:
// ISO 8601 YYYY-MM-DD) as a calendar date in Japan. It accepts exactly
// that form: the spec's other forms (a year alone, or 0000 for an omitted
// year) cannot say whether someone is 18 and are refused, as are dates that
// do not exist, dates before 1900 and dates after now. Its errors say what
// was wrong, never the value (they are logged).
func ParseBirthdate(raw json.RawMessage, now time.Time) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, errors.New("birthdate: missing")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, errors.New("birthdate: not a JSON string")
	}
	if len(s) != len("2006-01-02") {
		return time.Time{}, errors.New("birthdate: not YYYY-MM-DD")
	}
	for i := 0; i < len(s); i++ {
		if i == 4 || i == 7 {
			if s[i] != '-' {
				return time.Time{}, errors.New("birthdate: not YYYY-MM-DD")
			}
		} else if s[i] < '0' || s[i] > '9' {
			return time.Time{}, errors.New("birthdate: not YYYY-MM-DD")
		}
	}
	d, err := time.ParseInLocation("2006-01-02", s, kakunin.JST)
	if err != nil {
		return time.Time{}, errors.New("birthdate: not a real date")
	}
	if d.Year() < 1900 {
		return time.Time{}, errors.New("birthdate: before 1900 (a year left out?)")
	}
	if !d.Before(now) {
		return time.Time{}, errors.New("birthdate: in the future")
	}
	return d, nil
}
