package pages

import (
	"time"

	"github.com/kakunin/kakunin"
)

// The mass notification page, in each state and with each error code. The
// letters are ASCII so that English pages carry no Japanese.
func init() {
	moreRepresentativePages = append(moreRepresentativePages, func(add func(name string, f func(b Base) any)) {
		responder := func(b Base) Base {
			b.Staff = &StaffNav{Email: "responder@example.jp", Role: kakunin.RoleResponder}
			return b
		}
		form := NotificationForm{SubjectJA: "Subject ja", BodyJA: "Body {{.NoticesURL}}", SubjectEN: "Subject en",
			BodyEN: "Body {{range .Documents}}{{.Type}}{{end}}", MaxSubject: 200, MaxBody: 20000}
		letter := NotificationLetter{Lang: "en", Subject: []Segment{{Text: "Important"}},
			Body: []Segment{{Text: "Dear member,\n\n- passport (submitted March 2026)\nKeys replaced on "}, {Text: "[to fill in]", Mark: true}}, Placeholder: true}
		progress := func(enqueuing bool, finished *time.Time) *NotificationProgress {
			p := &NotificationProgress{Enqueuing: enqueuing, Target: "1,710,000", Enqueued: "20,000", Sent: "1,200", Failed: "1",
				Bounced: "3", Skipped: "2", Pending: "18,794", PerMinute: "1200", HasRemaining: !enqueuing, RemainingHours: 3,
				RemainingMinutes: 5, StartedAt: received, FinishedAt: finished,
				Chart: NotificationChart{Width: 600, Height: 160, BaseY: 140, BucketMinutes: 1, Max: 1200, Total: 1200}}
			p.Chart.Bars = []NotificationBar{{Start: received, X: 1, Y: 140, W: 298, H: 0}, {Start: received.Add(time.Minute), X: 301, Y: 10, W: 298, H: 130, Sent: 1200}}
			return p
		}
		for _, code := range []string{"", "invalid", "conflict", "no_window", "not_previewed", "started", "no_mail", "placeholder"} {
			add("notification", func(b Base) any {
				return ConsoleNotification{Base: responder(b), IncidentID: "inc_1", IncidentTitle: "Test incident", WindowKnown: code != "no_window",
					CanEdit: true, State: "draft", Form: form, ErrorCode: code, ErrorDetail: "body_en:1: function \"x\" not defined"}
			})
		}
		add("notification", func(b Base) any {
			return ConsoleNotification{Base: responder(b), IncidentID: "inc_1", IncidentTitle: "Test incident", CanEdit: true, Form: form}
		})
		for _, sample := range []bool{true, false} {
			add("notification", func(b Base) any {
				b.Notice = "notification.done.saved"
				return ConsoleNotification{Base: responder(b), IncidentID: "inc_1", IncidentTitle: "Test incident", WindowKnown: true,
					CanEdit: true, State: "draft", Form: form, Previewed: true,
					Preview: &NotificationPreview{Sample: sample, Documents: 1, JA: NotificationLetter{Lang: "ja", Subject: []Segment{{Text: "S"}}, Body: []Segment{{Text: "B"}}}, EN: letter}}
			})
		}
		for _, st := range []string{"sending", "paused"} {
			for _, notice := range []string{"notification.done.started", "notification.done.paused", "notification.done.resumed"} {
				add("notification", func(b Base) any {
					b.Notice = notice
					return ConsoleNotification{Base: responder(b), IncidentID: "inc_1", IncidentTitle: "Test incident", WindowKnown: true,
						CanEdit: true, State: st, Form: form, Progress: progress(st == "sending", nil), Refresh: 30}
				})
			}
		}
		// Without a mail server: the banner, "not sending", no start.
		for _, st := range []string{"draft", "sending", "paused"} {
			add("notification", func(b Base) any {
				b.MailOff = true
				return ConsoleNotification{Base: responder(b), IncidentID: "inc_1", IncidentTitle: "Test incident", WindowKnown: true,
					CanEdit: true, State: st, Form: form, Previewed: true, Progress: progress(false, nil)}
			})
		}
		add("notification", func(b Base) any {
			return ConsoleNotification{Base: responder(b), IncidentID: "inc_1", IncidentTitle: "Test incident", WindowKnown: true,
				CanEdit: true, State: "draft", Form: form, Previewed: true, Placeholder: true}
		})
		for _, code := range []string{"", "count", "code", "rate_limited"} {
			for _, resume := range []bool{false, true} {
				add("notification_confirm", func(b Base) any {
					return NotificationConfirm{Base: responder(b), IncidentID: "inc_1", IncidentTitle: "Test incident", Resume: resume,
						Action: "/console/incidents/inc_1/notification/start", JA: "1,200", EN: "34", Total: "1,234",
						SubjectJA: "S", SubjectEN: "Important", ErrorCode: code, Count: "12"}
				})
			}
		}
		done := received.Add(3 * time.Hour)
		add("notification", func(b Base) any {
			b.Staff = &StaffNav{Email: "auditor@example.jp", Role: kakunin.RoleAuditor}
			return ConsoleNotification{Base: b, IncidentID: "inc_1", IncidentTitle: "Test incident", WindowKnown: true,
				State: "done", Form: form, Progress: progress(false, &done)}
		})
		add("notification", func(b Base) any {
			b.Staff = &StaffNav{Email: "auditor@example.jp", Role: kakunin.RoleAuditor}
			return ConsoleNotification{Base: b, IncidentID: "inc_1", IncidentTitle: "Test incident", Form: form}
		})
	})
}
