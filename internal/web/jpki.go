package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/jpki"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// jpkiRoutes is the route table's part for the My Number card check: the
// member's start (from the upload page) and the provider's redirect back.
func (s *Server) jpkiRoutes() []Route {
	return []Route{
		{"GET /u/{token}/jpki", public, http.HandlerFunc(s.jpkiStart)},
		{"GET " + jpki.CallbackPath, public, http.HandlerFunc(s.jpkiCallback)},
	}
}

// offers reports whether the member may use method on v: the operator
// configured it and the host did not leave it out.
func (s *Server) offers(v *kakunin.Verification, method string) bool {
	if method == kakunin.MethodJPKIApp && s.JPKI == nil {
		return false
	}
	return len(v.Methods) == 0 || slices.Contains(v.Methods, method)
}

// jpkiCookie binds a flow to the browser that started it. Lax, not
// Strict: the provider's redirect back is a cross-site top-level GET.
func (s *Server) jpkiCookie() string {
	if s.SecureCookies {
		return "__Host-kakunin_jpki"
	}
	return "kakunin_jpki"
}

func (s *Server) setJPKICookie(w http.ResponseWriter, value string) {
	c := &http.Cookie{Name: s.jpkiCookie(), Value: value, Path: "/", HttpOnly: true, Secure: s.SecureCookies,
		SameSite: http.SameSiteLaxMode, MaxAge: int(jpki.FlowTTL.Seconds())}
	if value == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// jpkiStart sends the member to the provider. It is a link (GET), not a
// form: the page's CSP allows forms to post to this origin only, and the
// flow it opens is bound to this browser's cookie, so starting one for
// someone else achieves nothing.
func (s *Server) jpkiStart(w http.ResponseWriter, r *http.Request) {
	v, m, ok := s.openLink(w, r)
	if !ok {
		return
	}
	lang := s.pageLang(w, r, m.Locale)
	if !s.offers(v, kakunin.MethodJPKIApp) {
		s.errorPage(w, r, http.StatusNotFound, "not_found", nil)
		return
	}
	if v.Status != kakunin.StatusAwaitingUpload {
		s.renderStatus(w, r, lang, v, http.StatusConflict)
		return
	}
	authURL, browser, err := s.JPKI.Begin(r.Context(), v)
	var ref *jpki.Refusal
	if errors.As(err, &ref) {
		s.Log.Warn("jpki start refused", "reason", ref.Reason, "verification", v.ID, "cause", errors.Unwrap(err))
		data := s.uploadData(r, lang, v, "", "")
		data.JPKIRefused = ref.Reason
		s.render(w, r, http.StatusServiceUnavailable, "upload", data)
		return
	}
	if err != nil {
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	s.setJPKICookie(w, browser)
	http.Redirect(w, r, authURL, http.StatusSeeOther)
}

// jpkiCallback takes the provider's answer. Success goes back to the
// member's page, which now shows the outcome; a refusal goes back there
// with its reason when the flow named the verification, or to a page of
// its own when it did not.
func (s *Server) jpkiCallback(w http.ResponseWriter, r *http.Request) {
	if s.JPKI == nil {
		s.errorPage(w, r, http.StatusNotFound, "not_found", nil)
		return
	}
	browser := ""
	if c, err := r.Cookie(s.jpkiCookie()); err == nil {
		browser = c.Value
	}
	s.setJPKICookie(w, "")
	v, err := s.JPKI.Finish(r.Context(), r.URL.Query(), browser)
	var ref *jpki.Refusal
	switch {
	case err == nil:
		http.Redirect(w, r, s.memberPath(v), http.StatusSeeOther)
	case errors.As(err, &ref) && ref.Verification != "":
		v, gerr := s.Verifications.Get(r.Context(), ref.Verification)
		if gerr == nil {
			http.Redirect(w, r, s.memberPath(v)+"?jpki="+ref.Reason, http.StatusSeeOther)
			return
		}
		s.render(w, r, http.StatusBadRequest, "jpki_refused", pages.JPKIRefused{Base: s.base(r, s.pageLang(w, r, "")), Reason: ref.Reason})
	case errors.As(err, &ref):
		s.render(w, r, http.StatusBadRequest, "jpki_refused", pages.JPKIRefused{Base: s.base(r, s.pageLang(w, r, "")), Reason: ref.Reason})
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
	}
}

// memberPath is the path of v's upload link (under this origin).
func (s *Server) memberPath(v *kakunin.Verification) string {
	return strings.TrimPrefix(s.Verifications.UploadURL(v), s.Verifications.PublicURL)
}

// jpkiReasons are the refusal codes the upload page may show (?jpki=).
var jpkiReasons = []string{jpki.ReasonState, jpki.ReasonIssuer, jpki.ReasonCancelled, jpki.ReasonProvider, jpki.ReasonCode,
	jpki.ReasonToken, jpki.ReasonClaims, jpki.ReasonDecided, jpki.ReasonUnavailable}
