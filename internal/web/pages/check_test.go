package pages

import (
	"time"

	"github.com/kakunin/kakunin"
)

// The exposure check's pages, in every state they have.
func init() {
	moreRepresentativePages = append(moreRepresentativePages, func(add func(name string, f func(b Base) any)) {
		for _, code := range []string{"", "invalid", "rate_limited"} {
			add("check", func(b Base) any { return Check{Base: b, ErrorCode: code, MaxLength: 254} })
		}
		add("check", func(b Base) any { return Check{Base: b, BadLink: true, MaxLength: 254} })
		add("check", func(b Base) any { return Check{Base: b, Unavailable: true, MaxLength: 254} })
		add("check_sent", func(b Base) any { return CheckSent{b} })
		add("check_result", func(b Base) any {
			month := "2026年11月"
			if b.Lang == kakunin.LocaleEN {
				month = "November 2026"
			}
			from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			return CheckResult{Base: b, AnyReadable: true, ExpiresAt: from.Add(30 * 24 * time.Hour), Incidents: []CheckIncident{
				{DiscoveredAt: from.Add(21 * 24 * time.Hour), WindowFrom: from, WindowTo: from.Add(19 * 24 * time.Hour), Affected: true,
					Documents: []CheckDocument{{Type: kakunin.DocDriversLicence, Month: month, Readable: true},
						{Type: kakunin.DocMyNumberCard, Month: month}}},
				{DiscoveredAt: from.Add(-30 * 24 * time.Hour), WindowFrom: from.Add(-60 * 24 * time.Hour), WindowTo: from.Add(-40 * 24 * time.Hour)},
			}}
		})
		add("check_result", func(b Base) any { return CheckResult{Base: b, ExpiresAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)} })
	})
}
