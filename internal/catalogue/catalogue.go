package catalogue

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	i18ntemplate "github.com/nicksnyder/go-i18n/v2/i18n/template"
	"golang.org/x/text/language"

	"github.com/kakunin/kakunin"
)

//go:embed locales/*.json
var localeFS embed.FS

// Languages are the languages kakunin ships; the first is the fallback.
var Languages = []kakunin.Locale{kakunin.LocaleJA, kakunin.LocaleEN}

// Message is a message ID and the values it is written with, so that text
// can be decided in one place and written later in the reader's language.
// Args are referred to as {{.Name}} in the message.
type Message struct {
	ID   string
	Args map[string]any
}

// M returns the message id with args given as name/value pairs:
// M("deadline.reason.staff_reads", "Reads", 3). An odd pair count or a
// name that is not a string panics: it is a programming error, caught by
// the first test that writes the message.
func M(id string, pairs ...any) Message {
	if len(pairs)%2 != 0 {
		panic(fmt.Sprintf("catalogue.M(%q): odd number of arguments", id))
	}
	m := Message{ID: id}
	if len(pairs) > 0 {
		m.Args = make(map[string]any, len(pairs)/2)
		for i := 0; i < len(pairs); i += 2 {
			k, ok := pairs[i].(string)
			if !ok {
				panic(fmt.Sprintf("catalogue.M(%q): argument name %v is not a string", id, pairs[i]))
			}
			m.Args[k] = pairs[i+1]
		}
	}
	return m
}

// Catalogue holds the messages of every language it was loaded with. It is
// immutable after Load and safe for concurrent use.
type Catalogue struct {
	langs      []kakunin.Locale
	bundle     *i18n.Bundle
	localizers map[kakunin.Locale]*i18n.Localizer
	parsers    map[kakunin.Locale]i18ntemplate.Parser
	keys       map[kakunin.Locale]map[string]bool
}

// MissingError says which message a language lacks. A catalogue loads only
// when every language has every message of every other.
type MissingError struct {
	Lang kakunin.Locale
	ID   string
	Has  kakunin.Locale // a language that has it
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("catalogue %s lacks message %q (it is in %s)", e.Lang, e.ID, e.Has)
}

// Load reads, for each language, the files <lang>.json and <area>.<lang>.json
// at the root of fsys: flat JSON objects of message ID to text. It fails if
// a file does not parse, a message is empty or defined twice, or one
// language lacks a message another has (a *MissingError naming it). The
// first language is the one missing messages fall back to in Text.
func Load(fsys fs.FS, langs ...kakunin.Locale) (*Catalogue, error) {
	if len(langs) == 0 {
		return nil, errors.New("load catalogue: no language")
	}
	c := &Catalogue{
		langs:      slices.Clone(langs),
		bundle:     i18n.NewBundle(language.Make(string(langs[0]))),
		localizers: make(map[kakunin.Locale]*i18n.Localizer),
		parsers:    make(map[kakunin.Locale]i18ntemplate.Parser),
		keys:       make(map[kakunin.Locale]map[string]bool),
	}
	for _, lang := range langs {
		files, err := Files(fsys, lang)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("load catalogue %s: no file %s.json or <area>.%s.json", lang, lang, lang)
		}
		c.keys[lang] = make(map[string]bool)
		for _, name := range files {
			raw, err := fs.ReadFile(fsys, name)
			if err != nil {
				return nil, fmt.Errorf("load catalogue %s: %w", name, err)
			}
			var flat map[string]string
			if err := json.Unmarshal(raw, &flat); err != nil {
				return nil, fmt.Errorf("load catalogue %s: a catalogue is a flat object of strings: %w", name, err)
			}
			for id, text := range flat {
				if strings.TrimSpace(text) == "" {
					return nil, fmt.Errorf("load catalogue %s: message %q is empty", name, id)
				}
				if c.keys[lang][id] {
					return nil, fmt.Errorf("load catalogue %s: message %q is defined twice for %s", name, id, lang)
				}
				c.keys[lang][id] = true
			}
			// go-i18n reads the language from the name: <area>.<lang>.json.
			if _, err := c.bundle.ParseMessageFileBytes(raw, path.Base(name)); err != nil {
				return nil, fmt.Errorf("load catalogue %s: %w", name, err)
			}
		}
		c.localizers[lang] = i18n.NewLocalizer(c.bundle, string(lang))
		c.parsers[lang] = &i18ntemplate.TextParser{Funcs: c.funcs(lang)}
	}
	for _, lang := range langs {
		for _, other := range langs {
			for _, id := range slices.Sorted(maps.Keys(c.keys[other])) {
				if !c.keys[lang][id] {
					return nil, &MissingError{Lang: lang, ID: id, Has: other}
				}
			}
		}
	}
	return c, nil
}

// Files lists the catalogue files of lang at the root of fsys, sorted.
func Files(fsys fs.FS, lang kakunin.Locale) ([]string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("list catalogue files: %w", err)
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && (n == string(lang)+".json" || strings.HasSuffix(n, "."+string(lang)+".json")) {
			files = append(files, n)
		}
	}
	return files, nil
}

// FS is the embedded catalogue files, one directory level: ja.json,
// incident.ja.json…
func FS() fs.FS {
	sub, err := fs.Sub(localeFS, "locales")
	if err != nil {
		panic(err) // "locales" is embedded above; this cannot fail
	}
	return sub
}

var shipped = sync.OnceValues(func() (*Catalogue, error) { return Load(FS(), Languages...) })

// Default is the catalogue kakunin ships (Japanese and English), loaded
// once. It panics if the embedded files are inconsistent: the package's
// tests load them, so such a build never passes.
func Default() *Catalogue {
	c, err := shipped()
	if err != nil {
		panic(err)
	}
	return c
}

// Languages returns the languages c was loaded with, the fallback first.
func (c *Catalogue) Languages() []kakunin.Locale { return slices.Clone(c.langs) }

// Has reports whether lang has message id.
func (c *Catalogue) Has(lang kakunin.Locale, id string) bool { return c.keys[lang][id] }

// IDs returns every message ID, sorted.
func (c *Catalogue) IDs() []string { return slices.Sorted(maps.Keys(c.keys[c.langs[0]])) }

// Localize writes m in lang. A language c does not have, or a message it
// lacks, is an error: no silent fallback to another language.
func (c *Catalogue) Localize(lang kakunin.Locale, m Message) (string, error) {
	loc, ok := c.localizers[lang]
	if !ok {
		return "", fmt.Errorf("message %s: no catalogue for %q", m.ID, lang)
	}
	if !c.keys[lang][m.ID] {
		return "", &MissingError{Lang: lang, ID: m.ID}
	}
	var data any
	if m.Args != nil {
		data = m.Args
	}
	s, err := loc.Localize(&i18n.LocalizeConfig{MessageID: m.ID, TemplateData: data, TemplateParser: c.parsers[lang]})
	if err != nil {
		return "", fmt.Errorf("message %s (%s): %w", m.ID, lang, err)
	}
	return s, nil
}

// Text writes m in lang, for text that must be shown whatever happens: a
// language c lacks gets the fallback language, and a message that cannot
// be written comes back as its ID (tests use Localize, so that cannot ship).
func (c *Catalogue) Text(lang kakunin.Locale, m Message) string {
	if _, ok := c.localizers[lang]; !ok {
		lang = c.langs[0]
	}
	s, err := c.Localize(lang, m)
	if err != nil {
		return m.ID
	}
	return s
}

// Raw returns message id in lang as written in the catalogue, its
// {{…}} left as they are: for text that is itself a template, such as the
// default notification letter a responder edits.
func (c *Catalogue) Raw(lang kakunin.Locale, id string) (string, error) {
	loc, ok := c.localizers[lang]
	if !ok || !c.keys[lang][id] {
		return "", &MissingError{Lang: lang, ID: id}
	}
	s, err := loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateParser: i18ntemplate.IdentityParser{}})
	if err != nil {
		return "", fmt.Errorf("message %s (%s): %w", id, lang, err)
	}
	return s, nil
}

// Localize writes m in lang from the shipped catalogue (see Text).
func Localize(lang kakunin.Locale, m Message) string { return Default().Text(lang, m) }

// funcs are what a message can call, bound to its language: dates in Japan
// time, counts with separators, and another message ("t").
func (c *Catalogue) funcs(lang kakunin.Locale) texttemplate.FuncMap {
	return texttemplate.FuncMap{
		"date":     func(v any) string { return FormatDate(lang, asTime(v)) },
		"datetime": func(v any) string { return FormatDateTime(lang, asTime(v)) },
		"month":    func(v any) string { return FormatMonth(lang, fmt.Sprint(v)) },
		// stamp is a minute in Japan time as a record writes it,
		// "2006-01-02 15:04 JST", the same in every language.
		"stamp": func(v any) string { return FormatStamp(asTime(v)) },
		// jst and utc write a time in that zone with a Go layout the
		// message gives ("2006年01月02日 15:04:05 JST").
		"jst":   func(v any, layout string) string { return formatIn(asTime(v), kakunin.JST, layout) },
		"utc":   func(v any, layout string) string { return formatIn(asTime(v), time.UTC, layout) },
		"count": func(v any) string { return formatCount(v) },
		// t "id" writes another message in the same language, so that a
		// sentence can name a status or a role by its code.
		"t": func(id string) (string, error) { return c.Localize(lang, Message{ID: id}) },
	}
}
