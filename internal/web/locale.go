package web

import (
	"net/http"
	"net/url"

	"golang.org/x/text/language"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/catalogue"
	"github.com/kakunin/kakunin/internal/web/pages"
)

const langCookie = "kakunin_lang"

var langMatcher = language.NewMatcher([]language.Tag{language.Japanese, language.English})

// pageLang picks a page's language: an explicit ?lang= (remembered in a
// cookie), then the cookie, then the given fallback (the member's locale),
// then the browser's Accept-Language, then Japanese.
func (s *Server) pageLang(w http.ResponseWriter, r *http.Request, fallback kakunin.Locale) kakunin.Locale {
	if l, ok := kakunin.ParseLocale(r.URL.Query().Get("lang")); ok {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := kakunin.ParseLocale(c.Value); ok {
			return l
		}
	}
	if fallback != "" {
		return fallback
	}
	tags, _, _ := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if _, i, conf := langMatcher.Match(tags...); conf != language.No && i == 1 {
		return kakunin.LocaleEN
	}
	return kakunin.LocaleJA
}

// base builds the common page data with links that switch language on
// the same page.
func (s *Server) base(r *http.Request, lang kakunin.Locale) pages.Base {
	b := pages.Base{Lang: lang, Brand: s.Brand}
	// Each language is named in itself ("lang.self"), from its catalogue.
	for _, l := range catalogue.Languages {
		q := url.Values{"lang": {string(l)}}
		b.LangLinks = append(b.LangLinks, pages.LangLink{Lang: l, Label: s.Pages.T(l, "lang.self"), URL: r.URL.Path + "?" + q.Encode(), Current: l == lang})
	}
	return b
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	if err := s.Pages.Render(w, status, name, data); err != nil {
		s.Log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// errorPage renders the generic error page in the visitor's language.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, code string, staff *pages.StaffNav) {
	b := s.base(r, s.pageLang(w, r, ""))
	b.Staff = staff
	b.MailOff = staff != nil && s.MailOff
	s.render(w, r, status, "error", pages.Error{Base: b, Status: status, Code: code})
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "home", pages.Home{Base: s.base(r, s.pageLang(w, r, ""))})
}
