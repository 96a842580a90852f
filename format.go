package kakunin

import (
	"strconv"
	"time"
)

// JST is Japan Standard Time, UTC+9, the zone every page, mail, report and
// deadline shows and the zone the adult-age rule counts days in. A fixed
// zone rather than Asia/Tokyo: Japan has had no daylight saving since 1951,
// so it is exact for every date kakunin handles, and it needs no tzdata on
// the host.
var JST = time.FixedZone("JST", 9*60*60)

// FormatCount writes n with thousands separators (1,234,567), as Japanese
// and English text both write counts.
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
