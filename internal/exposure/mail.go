package exposure

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/mail"
)

// The mails' words are in the catalogue, catalogue/locales/exposure.*.json.

func base(publicURL string) string { return strings.TrimSuffix(publicURL, "/") }

// mailLang is the language a mail is written in: a member's own if the
// catalogue has it, else the catalogue's first (Japanese).
func mailLang(lang kakunin.Locale) kakunin.Locale {
	langs := catalogue.Default().Languages()
	if slices.Contains(langs, lang) {
		return lang
	}
	return langs[0]
}

// answerMessage is the answer mail of one member. id makes its Message-ID
// stable, so a mail sent again after a retry shows as one.
func answerMessage(br brand.Brand, lang kakunin.Locale, to string, answers []Answer, link Link, publicURL, id string) mail.Message {
	lang = mailLang(lang)
	cat := catalogue.Default()
	var b strings.Builder
	line := func(id string, pairs ...any) { b.WriteString(cat.Text(lang, catalogue.M(id, pairs...)) + "\n") }
	line("exposure.mail.intro", "CheckURL", base(publicURL)+"/check")
	b.WriteString("\n")
	line("exposure.mail.result_heading")
	anyReadable := false
	if len(answers) == 0 {
		line("exposure.mail.no_incident")
	}
	for _, a := range answers {
		in := a.Incident
		line("exposure.mail.incident", "Discovered", in.DiscoveredAt, "From", in.WindowFrom, "To", in.WindowTo)
		if !a.Exposure.Affected {
			line("exposure.mail.not_affected")
			b.WriteString("\n")
			continue
		}
		line("exposure.mail.affected")
		for _, d := range a.Exposure.Documents {
			line("exposure.mail.document", "Type", sentenceCase(catalogue.DocumentName(lang, d.Type)), "Month", d.Month)
			if d.Readable {
				anyReadable = true
				line("exposure.mail.readable")
			} else {
				line("exposure.mail.sealed_only")
			}
		}
		b.WriteString("\n")
	}
	if anyReadable {
		line("exposure.mail.readable_advice")
	}
	b.WriteString("\n")
	line("exposure.mail.advice_heading")
	line("exposure.mail.advice.phishing")
	line("exposure.mail.advice.never_ask")
	line("exposure.mail.advice.support")
	line("exposure.mail.advice.notices", "NoticesURL", base(publicURL)+"/notices")
	// Questions about the incident go to the inquiry desk, its category preset.
	line("desk.link.incident", "ContactURL", base(publicURL)+"/contact?category=incident")
	b.WriteString("\n")
	line("exposure.mail.link_heading")
	line("exposure.mail.link", "Expires", link.ExpiresAt)
	b.WriteString(link.URL + "\n\n")
	b.WriteString("-- \n")
	line("exposure.mail.footer")
	return br.Sign(mail.Message{To: []string{to}, Subject: cat.Text(lang, catalogue.M("exposure.mail.subject")), Text: b.String(), ID: id,
		Headers: map[string]string{"Auto-Submitted": "auto-generated"}}, lang)
}

// noAccountMessage tells the typed address that no account uses it.
func noAccountMessage(br brand.Brand, lang kakunin.Locale, to, publicURL, id string) mail.Message {
	lang = mailLang(lang)
	cat := catalogue.Default()
	text := cat.Text(lang, catalogue.M("exposure.mail.no_account", "CheckURL", base(publicURL)+"/check")) +
		"\n\n-- \n" + cat.Text(lang, catalogue.M("exposure.mail.footer")) + "\n"
	return br.Sign(mail.Message{To: []string{to}, Subject: cat.Text(lang, catalogue.M("exposure.mail.no_account_subject")), Text: text, ID: id,
		Headers: map[string]string{"Auto-Submitted": "auto-generated"}}, lang)
}

// sentenceCase capitalises a document's name where it starts a line.
func sentenceCase(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
