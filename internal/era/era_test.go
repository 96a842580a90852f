package era

import (
	"errors"
	"testing"
)

func TestDatesInEachEraConvertAndTheBoundariesHold(t *testing.T) {
	for _, tc := range []struct {
		era              string
		year, month, day int
		want             string // YYYY-MM-DD, or "" for an error
		err              error
	}{
		{"heisei", 2, 4, 12, "1990-04-12", nil},  // 平成2年4月12日, as a licence prints it
		{"heisei", 1, 1, 8, "1989-01-08", nil},   // 平成元年1月8日, its first day
		{"heisei", 1, 1, 7, "", ErrOutsideEra},   // still 昭和64年
		{"heisei", 31, 4, 30, "2019-04-30", nil}, // its last day
		{"heisei", 31, 5, 1, "", ErrOutsideEra},  // 令和元年 already
		{"heisei", 32, 1, 1, "", ErrOutsideEra},  // 平成32年 does not exist
		{"reiwa", 1, 5, 1, "2019-05-01", nil},
		{"reiwa", 1, 4, 30, "", ErrOutsideEra},
		{"reiwa", 6, 2, 29, "2024-02-29", nil}, // a leap year
		{"reiwa", 5, 2, 29, "", ErrNoSuchDate},
		{"showa", 1, 12, 25, "1926-12-25", nil},
		{"showa", 1, 12, 24, "", ErrOutsideEra},
		{"showa", 64, 1, 7, "1989-01-07", nil},
		{"showa", 64, 1, 8, "", ErrOutsideEra},
		{"showa", 45, 6, 31, "", ErrNoSuchDate},
		{"taisho", 1, 7, 30, "1912-07-30", nil},
		{"taisho", 1, 7, 29, "", ErrOutsideEra}, // 明治45年
		{"taisho", 15, 12, 24, "1926-12-24", nil},
		{"taisho", 15, 12, 25, "", ErrOutsideEra},
		{"western", 1990, 4, 12, "1990-04-12", nil},
		{"western", 2023, 2, 29, "", ErrNoSuchDate},
		{"heisei", 0, 1, 1, "", ErrNoSuchDate},
		{"heisei", 2, 13, 1, "", ErrNoSuchDate},
		{"heisei", 2, 4, 0, "", ErrNoSuchDate},
		{"meiji", 1, 1, 1, "", ErrUnknownEra},
		{"", 1, 1, 1, "", ErrUnknownEra},
	} {
		got, err := Date(tc.era, tc.year, tc.month, tc.day)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%s %d-%d-%d: %v, want %v", tc.era, tc.year, tc.month, tc.day, err, tc.err)
			}
			continue
		}
		if err != nil || got.Format("2006-01-02") != tc.want {
			t.Errorf("%s %d-%d-%d: %s %v, want %s", tc.era, tc.year, tc.month, tc.day, got.Format("2006-01-02"), err, tc.want)
		}
	}
}
