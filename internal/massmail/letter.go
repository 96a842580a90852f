package massmail

import (
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/incident"
)

// Letter is everything a campaign's templates can use: the fields below
// and nothing else (an unknown field is refused when the template is
// saved). Text is already in the letter's language; dates are Japan time.
//
//	{{.DiscoveredOn}}  the date the incident was discovered
//	{{.WindowFrom}}    when the intruder's access began (date and time)
//	{{.WindowTo}}      when it ended
//	{{.Documents}}     the member's documents it reached, oldest first; each has
//	                   {{.Type}} (the document's name), {{.Month}} (month submitted)
//	                   and {{.Readable}} (true: the image could be read; false:
//	                   only its ciphertext was reached)
//	{{.AnyReadable}}   whether any of them could be read
//	{{.NoticesURL}}    the public notices page, where updates are published
//	{{.Contact}}       where members can ask questions
type Letter struct {
	DiscoveredOn string
	WindowFrom   string
	WindowTo     string
	Documents    []LetterDocument
	AnyReadable  bool
	NoticesURL   string
	Contact      string
}

// LetterDocument is one of the member's documents an incident reached.
type LetterDocument struct {
	Type     string
	Month    string
	Readable bool
}

// Text is a campaign's templates: a subject and a body per language.
type Text struct {
	SubjectJA, BodyJA string
	SubjectEN, BodyEN string
}

// Limits on a template's source, in characters.
const (
	MaxSubject = 200
	MaxBody    = 20000
)

// templates is a Text parsed.
type templates struct {
	subject, body map[kakunin.Locale]*template.Template
}

// parse parses and checks t: each template must parse, stay within its
// limits, and run over sample letters (with readable, encrypted-only and
// no documents) without referring to a field Letter does not have.
func parse(t Text) (*templates, error) {
	ts := &templates{subject: map[kakunin.Locale]*template.Template{}, body: map[kakunin.Locale]*template.Template{}}
	for _, f := range []struct {
		name, src string
		lang      kakunin.Locale
		subject   bool
	}{
		{"subject_ja", t.SubjectJA, kakunin.LocaleJA, true},
		{"body_ja", t.BodyJA, kakunin.LocaleJA, false},
		{"subject_en", t.SubjectEN, kakunin.LocaleEN, true},
		{"body_en", t.BodyEN, kakunin.LocaleEN, false},
	} {
		limit := MaxBody
		if f.subject {
			limit = MaxSubject
		}
		if !utf8.ValidString(f.src) {
			return nil, kakunin.Errorf(kakunin.EINVALID, "%s is not valid UTF-8", f.name)
		}
		if n := utf8.RuneCountInString(f.src); strings.TrimSpace(f.src) == "" || n > limit {
			return nil, kakunin.Errorf(kakunin.EINVALID, "%s must be 1 to %d characters", f.name, limit)
		}
		for _, r := range f.src {
			if unicode.IsControl(r) && !(!f.subject && (r == '\n' || r == '\t')) {
				return nil, kakunin.Errorf(kakunin.EINVALID, "%s holds a control character or, in a subject, a line break", f.name)
			}
		}
		tmpl, err := template.New(f.name).Option("missingkey=error").Parse(f.src)
		if err != nil {
			return nil, kakunin.Errorf(kakunin.EINVALID, "%s does not parse: %s", f.name, templateError(err))
		}
		for _, sample := range sampleLetters(f.lang) {
			if err := tmpl.Execute(io.Discard, sample); err != nil {
				return nil, kakunin.Errorf(kakunin.EINVALID, "%s cannot be written: %s", f.name, templateError(err))
			}
		}
		if f.subject {
			ts.subject[f.lang] = tmpl
		} else {
			ts.body[f.lang] = tmpl
		}
	}
	return ts, nil
}

// templateError keeps text/template's message, which names the template,
// line and what is wrong, and nothing else (it holds no personal data: the
// templates are the responder's own text).
func templateError(err error) string {
	return strings.TrimPrefix(err.Error(), "template: ")
}

// render writes the letter in lang; a locale other than English gets
// Japanese.
func (ts *templates) render(lang kakunin.Locale, l Letter) (subject, body string, err error) {
	if lang != kakunin.LocaleEN {
		lang = kakunin.LocaleJA
	}
	var sb, bb strings.Builder
	if err := ts.subject[lang].Execute(&sb, l); err != nil {
		return "", "", fmt.Errorf("write subject: %w", err)
	}
	if err := ts.body[lang].Execute(&bb, l); err != nil {
		return "", "", fmt.Errorf("write body: %w", err)
	}
	// A field cannot hold a line break, but be sure no header is split.
	subject = strings.Join(strings.Fields(sb.String()), " ")
	return subject, bb.String(), nil
}

// sampleLetters are what templates are tried on when saved.
func sampleLetters(lang kakunin.Locale) []Letter {
	at := time.Date(2026, 11, 20, 3, 4, 0, 0, time.UTC)
	base := Letter{DiscoveredOn: incident.FormatDate(lang, at), WindowFrom: incident.FormatDateTime(lang, at.Add(-48*time.Hour)),
		WindowTo: incident.FormatDateTime(lang, at), NoticesURL: "https://kakunin.example/notices", Contact: "support@example.jp"}
	docs := base
	docs.Documents = []LetterDocument{
		{Type: kakunin.DocDriversLicence.Name(lang), Month: incident.FormatMonth(lang, "2025-03"), Readable: true},
		{Type: kakunin.DocPassport.Name(lang), Month: incident.FormatMonth(lang, "2026-10")},
	}
	docs.AnyReadable = true
	return []Letter{base, docs}
}

// letterFor fills a Letter for one member.
func letterFor(lang kakunin.Locale, inc *kakunin.Incident, ex *incident.Exposure, noticesURL, contact string) Letter {
	l := Letter{DiscoveredOn: incident.FormatDate(lang, inc.DiscoveredAt), WindowFrom: incident.FormatDateTime(lang, inc.WindowFrom),
		WindowTo: incident.FormatDateTime(lang, inc.WindowTo), NoticesURL: noticesURL, Contact: contact}
	if ex != nil {
		for _, d := range ex.Documents {
			l.Documents = append(l.Documents, LetterDocument{Type: d.Type.Name(lang), Month: incident.FormatMonth(lang, d.Month), Readable: d.Readable})
			l.AnyReadable = l.AnyReadable || d.Readable
		}
	}
	return l
}

// DefaultText is the letter a new campaign starts from: calm and plain,
// for the responders to adjust to what is known.
func DefaultText() Text {
	return Text{
		SubjectJA: "【重要】本人確認書類の情報への不正アクセスについて",
		BodyJA: `会員の皆さまへ

本人確認サービスへの不正アクセスが{{.DiscoveredOn}}に判明しました。お客様の本人確認書類がその対象に含まれていたため、ご連絡いたします。ご心配をおかけしていることを深くお詫び申し上げます。

■ 何が起きたか
{{.WindowFrom}}から{{.WindowTo}}までの間、第三者が本人確認のためにお預かりしているデータにアクセスできる状態にありました。

■ 対象となったお客様の書類
{{range .Documents}}・{{.Type}}（{{.Month}}に提出）：{{if .Readable}}画像を見られた可能性があります{{else}}暗号化された状態のみで、画像を見ることはできません{{end}}
{{else}}・書類の画像は対象外です。対象は本人確認の記録（結果と日付）のみです。
{{end}}
■ 私たちが行ったこと
不正なアクセスの経路を遮断し、暗号鍵を交換しました。外部の専門家と調査を続けており、個人情報保護委員会に報告しています。

■ お客様へのお願い
漏えいした情報を悪用したフィッシングにご注意ください。私たちがメールやメッセージで本人確認書類の画像や写しを求めることはありません。そのような連絡には応じず、記載のリンクも開かないでください。
{{if .AnyReadable}}書類の番号を変更できる場合（運転免許証の再交付など）は、発行元にご相談ください。
{{end}}
■ 最新情報
調査の進み具合は {{.NoticesURL}} でお知らせします。

■ お問い合わせ
{{.Contact}}
`,
		SubjectEN: "Important: unauthorised access to your identity document data",
		BodyEN: `Dear member,

On {{.DiscoveredOn}} we found that someone had gained unauthorised access to our identity verification service. Your identity documents were among the data involved, so we are writing to tell you directly. We are sorry for the worry this causes.

What happened
From {{.WindowFrom}} to {{.WindowTo}}, an outside party could reach data we hold to verify members' identity.

Your documents
{{range .Documents}}- {{.Type}} (submitted {{.Month}}): {{if .Readable}}the image may have been seen{{else}}reached only in encrypted form; the image cannot be seen{{end}}
{{else}}- No image of your documents was involved, only the record of your verification (its result and date).
{{end}}
What we did
We closed the route the intruder used and replaced our encryption keys. We are investigating with outside specialists and have reported the incident to the Personal Information Protection Commission.

What you should do
Beware of phishing that uses the leaked data. We never ask for images or copies of identity documents by e-mail or message: do not answer such requests or open their links.
{{if .AnyReadable}}If your document's number can be changed (for example by having a licence reissued), ask its issuer.
{{end}}
Updates
We publish what we learn at {{.NoticesURL}}.

Contact
{{.Contact}}
`,
	}
}
