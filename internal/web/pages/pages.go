package pages

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // JST must render correctly on hosts without tzdata

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames lists every page Render knows: each templates/<name>.html but
// the layout, filled into templates/layout.html.
var pageNames = func() []string {
	entries, err := fs.ReadDir(templateFS, "templates")
	if err != nil {
		panic(err) // embedded: cannot fail
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".html")
		if ok && name != "layout" {
			names = append(names, name)
		}
	}
	return names
}()

// locales are the languages with a catalogue; the first is the fallback.
var locales = catalogue.Languages

// Renderer renders the embedded pages. It is immutable after New and safe for
// concurrent use.
type Renderer struct {
	cat *catalogue.Catalogue
	// pages holds, per language, a clone of each page whose t and date
	// functions are bound to that language, so templates never pass .Lang.
	pages    map[kakunin.Locale]map[string]*template.Template
	tokyo    *time.Location
	styleURL string
	// passkeyScriptURL is passkey.js, the one script: only pages that run
	// a passkey ceremony load it, and only their responses allow it.
	passkeyScriptURL string
	// notificationScriptURL is notification.js: the notification page
	// loads it while a campaign sends, to update its figures in place.
	notificationScriptURL string
	// strict makes a missing message fail the render instead of showing its
	// ID; tests use it so a forgotten message cannot reach production.
	strict bool
}

// New parses all templates; the words come from the shipped catalogue.
func New() (*Renderer, error) { return newRenderer(false) }

func newRenderer(strict bool) (*Renderer, error) {
	r := &Renderer{
		cat:    catalogue.Default(),
		pages:  make(map[kakunin.Locale]map[string]*template.Template),
		tokyo:  kakunin.JST,
		strict: strict,
	}

	css, err := staticFS.ReadFile("static/style.css")
	if err != nil {
		return nil, fmt.Errorf("read stylesheet: %w", err)
	}
	// A content hash in the URL lets the server cache the stylesheet for
	// long and still have a new release picked up at once.
	sum := sha256.Sum256(css)
	r.styleURL = "/static/style.css?v=" + hex.EncodeToString(sum[:6])
	js, err := staticFS.ReadFile("static/passkey.js")
	if err != nil {
		return nil, fmt.Errorf("read passkey script: %w", err)
	}
	sum = sha256.Sum256(js)
	r.passkeyScriptURL = "/static/passkey.js?v=" + hex.EncodeToString(sum[:6])
	js, err = staticFS.ReadFile("static/notification.js")
	if err != nil {
		return nil, fmt.Errorf("read notification script: %w", err)
	}
	sum = sha256.Sum256(js)
	r.notificationScriptURL = "/static/notification.js?v=" + hex.EncodeToString(sum[:6])

	for _, name := range pageNames {
		base, err := template.New(name).Funcs(r.funcs(kakunin.LocaleJA)).
			ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		for _, lang := range locales {
			c, err := base.Clone()
			if err != nil {
				return nil, fmt.Errorf("clone page %s for %s: %w", name, lang, err)
			}
			if r.pages[lang] == nil {
				r.pages[lang] = make(map[string]*template.Template)
			}
			r.pages[lang][name] = c.Funcs(r.funcs(lang))
		}
	}
	return r, nil
}

// localized is satisfied by every page type through its embedded Base.
type localized interface{ pageLocale() kakunin.Locale }

// Render executes page name with data into a buffer and, only if that
// succeeds, writes status and the page. It sets Content-Type and nothing
// else: cache and security headers belong to the server.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, data any) error {
	lang := kakunin.LocaleJA
	if p, ok := data.(localized); ok {
		if l, ok := kakunin.ParseLocale(string(p.pageLocale())); ok {
			lang = l
		}
	}
	t, ok := r.pages[lang][name]
	if !ok {
		return fmt.Errorf("render page %q: no such page", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render page %s (%s): %w", name, lang, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

// T translates id into lang, for text the server writes itself (e-mail
// subjects, plain-text answers). A missing ID comes back as the ID.
func (r *Renderer) T(lang kakunin.Locale, id string) string {
	return r.Localize(lang, catalogue.Message{ID: id})
}

func (r *Renderer) translate(lang kakunin.Locale, id string, args ...any) (string, error) {
	if len(args)%2 != 0 {
		return "", fmt.Errorf("message %s: odd number of template arguments", id)
	}
	for i := 0; i < len(args); i += 2 {
		if _, ok := args[i].(string); !ok {
			return "", fmt.Errorf("message %s: argument name %v is not a string", id, args[i])
		}
	}
	if !slices.Contains(locales, lang) {
		lang = kakunin.LocaleJA
	}
	return r.cat.Localize(lang, catalogue.M(id, args...))
}

// Localize writes m in lang, for words the server chose (a timeline
// entry, a deadline's reason, an error's detail). A message that cannot be
// written comes back as its ID.
func (r *Renderer) Localize(lang kakunin.Locale, m catalogue.Message) string {
	return r.cat.Text(lang, m)
}

// funcs is the template function map bound to one language.
func (r *Renderer) funcs(lang kakunin.Locale) template.FuncMap {
	return template.FuncMap{
		// t "id" ["Name" value]... translates in the page's language.
		"t": func(id string, args ...any) (string, error) {
			s, err := r.translate(lang, id, args...)
			if err == nil {
				return s, nil
			}
			var missing *catalogue.MissingError
			if !r.strict && errors.As(err, &missing) {
				// Better a visible ID than a member left with no page.
				return id, nil
			}
			return "", err
		},
		"lang":     func() string { return string(lang) },
		"date":     func(t time.Time) string { return r.formatDate(lang, t) },
		"datetime": func(t time.Time) string { return r.formatDateTime(lang, t) },
		// isotime fills <time datetime="…"> so assistive tech and machines
		// get an unambiguous value beside the localized text.
		"isotime": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.In(r.tokyo).Format(time.RFC3339)
		},
		"styleURL":              func() string { return r.styleURL },
		"passkeyScriptURL":      func() string { return r.passkeyScriptURL },
		"notificationScriptURL": func() string { return r.notificationScriptURL },
	}
}

func (r *Renderer) formatDate(lang kakunin.Locale, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(r.tokyo)
	if lang == kakunin.LocaleEN {
		return t.Format("2 Jan 2006")
	}
	return t.Format("2006年1月2日")
}

func (r *Renderer) formatDateTime(lang kakunin.Locale, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(r.tokyo)
	// Members abroad read English; the zone is named so "14:05" is not taken
	// as their local time. Japanese readers assume JST.
	if lang == kakunin.LocaleEN {
		return t.Format("2 Jan 2006, 15:04") + " JST"
	}
	return t.Format("2006年1月2日 15:04")
}

// Static serves the embedded stylesheet and passkey script under /static/. Mount it as is:
// mux.Handle("GET /static/", pages.Static()) — no StripPrefix.
func Static() http.Handler {
	files := http.FileServerFS(staticFS)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// No directory listings: there is nothing to browse.
		if strings.HasSuffix(req.URL.Path, "/") {
			http.NotFound(w, req)
			return
		}
		files.ServeHTTP(w, req)
	})
}

// StaticFS is the embedded static tree (style.css at its root), for a server
// that prefers to mount it its own way.
func StaticFS() fs.FS {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // "static" is embedded above; this cannot fail
	}
	return sub
}
