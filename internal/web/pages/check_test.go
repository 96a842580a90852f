package pages

import (
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/portal"
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

// The members' portal's pages, in every state they have.
func init() {
	moreRepresentativePages = append(moreRepresentativePages, func(add func(name string, f func(b Base) any)) {
		for _, code := range []string{"", "invalid", "rate_limited"} {
			add("signin", func(b Base) any { return Signin{Base: b, ErrorCode: code, MaxLength: 254} })
		}
		add("signin", func(b Base) any { return Signin{Base: b, BadLink: true, MaxLength: 254} })
		add("signin", func(b Base) any { return Signin{Base: b, Unavailable: true, MaxLength: 254} })
		add("signin_sent", func(b Base) any { return SigninSent{b} })
		add("signin_confirm", func(b Base) any { return SigninConfirm{Base: b, Action: "/signin/abc"} })
		add("signed_out", func(b Base) any { return SignedOut{b} })
		add("portal", func(b Base) any { return Portal{Base: b, View: samplePortalView(b.Lang)} })
		add("portal", func(b Base) any {
			return Portal{Base: b, View: &portal.View{Member: portal.MemberData{Email: "a@example.jp"}}}
		})
	})
}

func samplePortalView(lang kakunin.Locale) *portal.View {
	name, issuer, title := "運転免許証", "東京都公安委員会", "お知らせ"
	if lang == kakunin.LocaleEN {
		name, issuer, title = "Driver's licence", "Tokyo Public Safety Commission", "Notice"
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	later := at.Add(7 * 24 * time.Hour)
	return &portal.View{Member: portal.MemberData{ID: "mem_1", Email: "a@example.jp", RegisteredAt: at},
		Verifications: []portal.Verification{
			{ID: "ver_1", CreatedAt: at, Method: "photo", Status: "approved", DecidedAt: &later, Result: &portal.Result{Adult: kakunin.Bool(true),
				DocumentType: "drivers_licence", DocumentName: name, Issuer: issuer, BirthDate: "1990-01-01", DecidedBy: "reviewer"}},
			{ID: "ver_2", CreatedAt: at, Method: "photo", Status: "rejected", DecidedAt: &later, Result: &portal.Result{DocumentType: "passport",
				RejectReason: "unreadable", DecidedBy: "reviewer"}},
			{ID: "ver_3", CreatedAt: at, Method: "photo", Status: "submitted"},
		},
		Documents: []portal.Document{
			{ID: "doc_1", Type: "drivers_licence", ReceivedAt: at, Image: portal.DocumentImage{State: "destroyed", DestroyedAt: &later}},
			{ID: "doc_2", Type: "passport", ReceivedAt: at, Image: portal.DocumentImage{State: "held", DestroyBy: &later}},
		},
		KeptFields: []portal.KeptField{{Field: "email", Reason: "contact"}, {Field: "adult", Reason: "dating_site_law"}, {Field: "birth_date", Reason: "operator"}, {Field: "reject_reason", Reason: "answer"}},
		Incidents: []portal.Incident{{ID: "inc_1", DiscoveredAt: later, WindowFrom: at, WindowTo: later,
			Documents: []portal.IncidentImage{{Type: "passport", Month: "2026-11", Readable: true}},
			Notices:   []portal.Notice{{ID: "ntc_1", Title: title}}}},
	}
}
