// Package brand is who runs a kakunin instance, as members see it: the
// operator's and the service's names and links, shown on every page, in
// the Atom feed and in every mail.
//
// A Brand is one value passed into page data (pages.Base) and into each
// mail's rendering, never read from a global, so that an instance serving
// several hosts can later hand each host's pages and mails its own.
package brand

import (
	"context"
	"net/url"
	"strings"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/mail"
)

// DefaultService is the service's name when none is configured.
const DefaultService = "kakunin"

// Brand names the operator and the service. Operator and Service are shown
// as configured, in every language (a company's name is not translated).
type Brand struct {
	Operator   string // the company or person responsible: 株式会社サンプル
	Service    string // the service members know: SampleMatch
	ServiceURL string // the service's home page
	ContactURL string // where members ask the operator (a URL or mailto:)
	PrivacyURL string // the operator's privacy policy
}

// Name is the brand as one line: "SampleMatch (株式会社サンプル)", or the
// service alone when no operator is configured.
func (b Brand) Name() string {
	s := b.ServiceName()
	if b.Operator == "" || b.Operator == s {
		return s
	}
	return s + " (" + b.Operator + ")"
}

// ServiceName is the service's name, kakunin when none is configured.
func (b Brand) ServiceName() string {
	if b.Service == "" {
		return DefaultService
	}
	return b.Service
}

// Signature is the block that ends every mail, after the "-- " line: who
// sends it and where to reach them, in lang.
func (b Brand) Signature(lang kakunin.Locale) string {
	cat := catalogue.Default()
	say := func(id string, pairs ...any) string { return cat.Text(lang, catalogue.M(id, pairs...)) + "\n" }
	var s strings.Builder
	if b.Operator != "" {
		s.WriteString(say("brand.mail.sent_by", "Operator", b.Operator, "Service", b.ServiceName()))
	} else {
		s.WriteString(say("brand.mail.sent_by_service", "Service", b.ServiceName()))
	}
	if b.ServiceURL != "" {
		s.WriteString(b.ServiceURL + "\n")
	}
	if b.ContactURL != "" {
		s.WriteString(say("brand.mail.contact", "URL", strings.TrimPrefix(b.ContactURL, "mailto:")))
	}
	if b.PrivacyURL != "" {
		s.WriteString(say("brand.mail.privacy", "URL", b.PrivacyURL))
	}
	return s.String()
}

// Sign sets msg's From display name to the brand and appends the signature
// block in lang (a mail written in several languages passes them all).
// A body without a "-- " separator gets one.
func (b Brand) Sign(msg mail.Message, langs ...kakunin.Locale) mail.Message {
	msg.FromName = b.Name()
	msg.Text = b.SignText(msg.Text, langs...)
	return msg
}

// SignText is text with the signature block appended, as Sign writes it
// (a letter's preview shows it so).
func (b Brand) SignText(text string, langs ...kakunin.Locale) string {
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	if !strings.Contains(text, "\n-- \n") && !strings.HasPrefix(text, "-- \n") {
		text += "\n-- \n"
	}
	for _, l := range langs {
		text += b.Signature(l)
	}
	return text
}

// Validate checks the configured links: each empty, or an absolute http(s)
// URL (the contact link may also be mailto:). It names the flag at fault.
func (b Brand) Validate() []string {
	var bad []string
	check := func(flag, v string, mailto bool) {
		if v == "" {
			return
		}
		u, err := url.Parse(v)
		switch {
		case err != nil:
			bad = append(bad, flag)
		case mailto && u.Scheme == "mailto" && u.Opaque != "":
		case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "":
		default:
			bad = append(bad, flag)
		}
	}
	check("--service-url", b.ServiceURL, false)
	check("--contact-url", b.ContactURL, true)
	check("--privacy-policy-url", b.PrivacyURL, false)
	for _, f := range []struct{ flag, v string }{{"--operator-name", b.Operator}, {"--service-name", b.Service}} {
		if strings.ContainsAny(f.v, "\r\n\t") || len(f.v) > 200 {
			bad = append(bad, f.flag)
		}
	}
	return bad
}

// Mailer signs every message with Brand, its signature in each of Langs,
// and hands it to Next: for mail written in all languages at once (the
// alerts to staff).
type Mailer struct {
	Next  mail.Mailer
	Brand Brand
	Langs []kakunin.Locale
}

// Send implements mail.Mailer.
func (m Mailer) Send(ctx context.Context, msgs ...mail.Message) error {
	signed := make([]mail.Message, len(msgs))
	for i, msg := range msgs {
		signed[i] = m.Brand.Sign(msg, m.Langs...)
	}
	return m.Next.Send(ctx, signed...)
}
