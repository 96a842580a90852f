package alert

import (
	"maps"
	"slices"
	"strings"
	"unicode"

	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/mail"
)

// Everything an alert mail says is in the catalogue
// (catalogue/locales/alert.*.json): per kind "alert.kind.<kind>.subject",
// ".summary" ({{.Staff}}: the staff ID it is about) and ".action"; a kind
// without them is written with "alert.kind.unknown.*".

// detailOrder is the Detail keys in the order a reader wants them, each
// named by "alert.detail.<key>"; other keys follow by name.
var detailOrder = []string{"reads", "quota", "window", "refused_document", "reason", "scope", "attempts", "failures",
	"max_delay", "incident", "obligation", "due", "last_public_update", "stale_after", "replica", "free_bytes"}

// detailKeys returns the keys of detail, known ones first.
func detailKeys(detail map[string]string) []string {
	var keys []string
	for _, k := range detailOrder {
		if _, ok := detail[k]; ok {
			keys = append(keys, k)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(detail)) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// alertMessage writes the mail of one alert to one admin, in every
// language of the catalogue: staff are mostly Japanese, so Japanese comes
// first and English follows in full.
func alertMessage(a MailArgs, to string) mail.Message {
	al := a.Alert
	cat := catalogue.Default()
	kind := "alert.kind." + al.Kind
	if !cat.Has(cat.Languages()[0], kind+".subject") {
		kind = "alert.kind." + "unknown" // a prefix of messages, not one
	}
	staff := clean(al.StaffID)
	if staff == "" {
		staff = "-"
	}
	keys := detailKeys(al.Detail)
	args := []any{"Kind", clean(al.Kind), "Staff", staff, "Role", string(recipients(al)), "At", al.At}

	var b strings.Builder
	var subjects []string
	for i, lang := range cat.Languages() {
		say := func(id string) string { return cat.Text(lang, catalogue.M(id, args...)) }
		line := func(label, value string) {
			b.WriteString(cat.Text(lang, catalogue.M("alert.mail.line", "Label", label, "Value", value)) + "\n")
		}
		if i > 0 {
			b.WriteString("----------------------------------------\n\n")
		}
		subjects = append(subjects, say(kind+".subject"))
		b.WriteString(say("alert.mail.intro") + "\n\n")
		b.WriteString(say(kind+".summary") + "\n\n")
		line(say("alert.mail.kind"), clean(al.Kind))
		line(say("alert.mail.staff"), staff)
		line(say("alert.mail.time"), say("alert.mail.at"))
		for _, k := range keys {
			label := clean(k)
			if cat.Has(lang, "alert.detail."+k) {
				label = say("alert.detail." + k)
			}
			line(label, clean(al.Detail[k]))
		}
		line(say("alert.mail.alert_id"), a.AlertID)
		b.WriteString("\n" + say(kind+".action") + "\n")
		if i < len(cat.Languages())-1 {
			b.WriteString("\n")
		}
	}

	return mail.Message{
		To:      []string{to},
		Subject: "[kakunin] " + strings.Join(subjects, " / "),
		Text:    b.String(),
		Headers: map[string]string{
			// RFC 3834: no vacation replies or read receipts to a robot.
			"Auto-Submitted":     "auto-generated",
			"X-Kakunin-Alert":    clean(al.Kind),
			"X-Kakunin-Alert-Id": a.AlertID,
		},
		// Stable across retries: a copy sent twice shows as one.
		ID: a.AlertID + "." + a.RecipientID,
	}
}

// clean keeps a value on its line and short: Detail comes from the caller
// and ends up in a mail body.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}
