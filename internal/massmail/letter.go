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
	"github.com/kakunin/kakunin/internal/catalogue"
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
			return nil, textError(catalogue.M("massmail.error.utf8", "Field", f.name), "%s is not valid UTF-8", f.name)
		}
		if n := utf8.RuneCountInString(f.src); strings.TrimSpace(f.src) == "" || n > limit {
			return nil, textError(catalogue.M("massmail.error.length", "Field", f.name, "Limit", limit), "%s must be 1 to %d characters", f.name, limit)
		}
		for _, r := range f.src {
			if unicode.IsControl(r) && !(!f.subject && (r == '\n' || r == '\t')) {
				return nil, textError(catalogue.M("massmail.error.control", "Field", f.name), "%s holds a control character or, in a subject, a line break", f.name)
			}
		}
		tmpl, err := template.New(f.name).Option("missingkey=error").Parse(f.src)
		if err != nil {
			return nil, textError(catalogue.M("massmail.error.parse", "Field", f.name, "Detail", templateError(err)), "%s does not parse: %s", f.name, templateError(err))
		}
		for _, sample := range sampleLetters(f.lang) {
			if err := tmpl.Execute(io.Discard, sample); err != nil {
				return nil, textError(catalogue.M("massmail.error.execute", "Field", f.name, "Detail", templateError(err)), "%s cannot be written: %s", f.name, templateError(err))
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

// TextError is a letter refused when saved, with what is wrong as a
// catalogue message for the responder ("massmail.error.*": the field is
// named in their language; text/template's own detail, which names the
// line, follows as it is). It unwraps to the *kakunin.Error (EINVALID)
// whose English message logs and the API keep.
type TextError struct {
	Message catalogue.Message
	err     *kakunin.Error
}

func textError(m catalogue.Message, format string, args ...any) *TextError {
	return &TextError{Message: m, err: kakunin.Errorf(kakunin.EINVALID, format, args...)}
}

func (e *TextError) Error() string { return e.err.Error() }
func (e *TextError) Unwrap() error { return e.err }

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
		{Type: catalogue.DocumentName(lang, kakunin.DocDriversLicence), Month: incident.FormatMonth(lang, "2025-03"), Readable: true},
		{Type: catalogue.DocumentName(lang, kakunin.DocPassport), Month: incident.FormatMonth(lang, "2026-10")},
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
			l.Documents = append(l.Documents, LetterDocument{Type: catalogue.DocumentName(lang, d.Type), Month: incident.FormatMonth(lang, d.Month), Readable: d.Readable})
			l.AnyReadable = l.AnyReadable || d.Readable
		}
	}
	return l
}

// DefaultText is the letter a new campaign starts from: calm and plain,
// for the responders to adjust to what is known. Its wording is in the
// catalogue ("massmail.letter.subject" and ".body" in
// catalogue/locales/massmail.*.json), itself a template over Letter.
func DefaultText() Text {
	cat := catalogue.Default()
	raw := func(lang kakunin.Locale, id string) string {
		s, err := cat.Raw(lang, id)
		if err != nil {
			panic(err) // the shipped catalogue has every message: its tests check it
		}
		return s
	}
	return Text{
		SubjectJA: raw(kakunin.LocaleJA, "massmail.letter.subject"), BodyJA: raw(kakunin.LocaleJA, "massmail.letter.body"),
		SubjectEN: raw(kakunin.LocaleEN, "massmail.letter.subject"), BodyEN: raw(kakunin.LocaleEN, "massmail.letter.body"),
	}
}
