package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/portal"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// portalRoutes is the route table's part for the members' portal: the
// sign-in form and its one-time links, the member's own page and export,
// sign-out, and the host's hand-off.
func (s *Server) portalRoutes() []Route {
	return []Route{
		{"GET /signin", public, http.HandlerFunc(s.signinPage)},
		{"POST /signin", public, http.HandlerFunc(s.submitSignin)},
		{"GET /signin/{token}", public, http.HandlerFunc(s.signinLink)},
		{"POST /signin/{token}", public, http.HandlerFunc(s.redeemSignin)},
		// The confirmation's button posts here, apart from the page's URL,
		// so that a cache keyed without the method cannot swallow it.
		{"POST /signin/{token}/open", public, http.HandlerFunc(s.redeemSignin)},
		{"POST /signout", public, http.HandlerFunc(s.signout)},
		// The member's pages live under /me/{key}, a key derived from the
		// session (memberPageKey): a URL no one else asks for, so even a
		// cache that keys on the URL alone and ignores every header can
		// never answer another person with them (docs/caching.md). /me
		// itself names no one and only points to the sign-in.
		{"GET /me", public, http.HandlerFunc(s.portalEntry)},
		{"GET /me/{key}", memberAccess, http.HandlerFunc(s.portalHome)},
		{"POST /me/{key}/export", memberAccess, http.HandlerFunc(s.portalExport)},
		{"POST /api/v1/members/{external_id}/portal-link", hostAPI, s.api(s.portalLink)},
	}
}

// memberCookie is the member session's cookie: its own name, so a member
// session is never taken for a staff one or the other way round, and over
// https __Host- prefixed like the staff cookie.
func (s *Server) memberCookie() string {
	if s.SecureCookies {
		return "__Host-kakunin_member"
	}
	return "kakunin_member"
}

func (s *Server) setMemberSession(w http.ResponseWriter, token string) {
	c := &http.Cookie{Name: s.memberCookie(), Value: token, Path: "/", HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteStrictMode}
	if token == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// memberPageKey is the path key of a member session's pages: a hash of
// the session token, domain-separated from the stored HashToken so that a
// copy of the database does not yield it. It reveals nothing of the token
// (a proxy's log of the URL opens no session), and since only the
// session's holder learns it — from the sign-in's redirect, at the
// sign-in link's own URL — a URL-keyed cache never has it under a URL
// someone else requests.
func memberPageKey(token string) string {
	h := sha256.Sum256([]byte("kakunin member pages\x00" + token))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

func memberHome(token string) string { return "/me/" + memberPageKey(token) }

func (s *Server) memberToken(r *http.Request) string {
	c, err := r.Cookie(s.memberCookie())
	if err != nil {
		return ""
	}
	return c.Value
}

type memberCtx struct{}

func memberFrom(ctx context.Context) *portal.Member {
	m, _ := ctx.Value(memberCtx{}).(*portal.Member)
	return m
}

// memberOnly lets a request through only with a live member session; a
// staff session is no member session. A GET without one goes to /signin.
func (s *Server) memberOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := s.memberToken(r)
		m, err := s.Portal.Session(r.Context(), token)
		if err == nil && subtle.ConstantTimeCompare([]byte(r.PathValue("key")), []byte(memberPageKey(token))) != 1 {
			// Another session's page, or a made-up one: as no session.
			err = kakunin.Errorf(kakunin.EUNAUTHORIZED, "not this session's page")
		}
		if err != nil {
			if kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
				s.logInternal(r, err)
				s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, http.StatusUnauthorized, "unauthorized", nil)
			return
		}
		// Personal: one member's, never cached, never shared between
		// cookies (invariant 7). securityHeaders said it; say it again.
		w.Header().Set("Cache-Control", "no-store, private")
		w.Header().Set("Vary", "Cookie")
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), memberCtx{}, m)))
	})
}

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.renderSignin(w, r, http.StatusOK, "", false)
}

func (s *Server) renderSignin(w http.ResponseWriter, r *http.Request, status int, errCode string, badLink bool) {
	if s.MailOff {
		// The link only goes by mail: promise none, alike for everyone.
		w.Header().Set("Retry-After", "3600")
		status, errCode = http.StatusServiceUnavailable, ""
	}
	s.render(w, r, status, "signin", pages.Signin{Base: s.base(r, s.pageLang(w, r, "")), ErrorCode: errCode,
		BadLink: badLink, MaxLength: exposure.MaxAddress, Unavailable: s.MailOff})
}

// submitSignin accepts a sign-in request. As submitCheck, its answer
// depends only on the address's syntax and this client's count, never on
// membership (invariant 6): a job mails the link to the registered address.
func (s *Server) submitSignin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxCheckForm)
	if s.MailOff {
		s.renderSignin(w, r, http.StatusServiceUnavailable, "", false)
		return
	}
	lang := s.pageLang(w, r, "")
	err := r.ParseForm()
	if err == nil {
		err = s.Portal.RequestLink(r.Context(), r.PostForm.Get("email"))
	} else {
		err = kakunin.Errorf(kakunin.EINVALID, "invalid_form")
	}
	switch kakunin.ErrorCode(err) {
	case "":
		s.render(w, r, http.StatusOK, "signin_sent", pages.SigninSent{Base: s.base(r, lang)})
	case kakunin.EINVALID:
		s.renderSignin(w, r, http.StatusBadRequest, "invalid", false)
	case kakunin.ERATELIMIT:
		s.renderSignin(w, r, http.StatusTooManyRequests, "rate_limited", false)
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
	}
}

// signinLink shows a working link's confirmation button; GET never spends
// it. Every link that cannot be used gets the form, alike.
func (s *Server) signinLink(w http.ResponseWriter, r *http.Request) {
	ok, err := s.Portal.LinkUsable(r.Context(), r.PathValue("token"))
	if err != nil {
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	if !ok {
		s.renderSignin(w, r, http.StatusNotFound, "", true)
		return
	}
	s.render(w, r, http.StatusOK, "signin_confirm", pages.SigninConfirm{Base: s.base(r, s.pageLang(w, r, "")), Action: r.URL.Path + "/open"})
}

// redeemSignin spends the link and opens the member's session.
func (s *Server) redeemSignin(w http.ResponseWriter, r *http.Request) {
	token, err := s.Portal.SignIn(r.Context(), r.PathValue("token"))
	switch kakunin.ErrorCode(err) {
	case "":
	case kakunin.EUNAUTHORIZED:
		s.renderSignin(w, r, http.StatusNotFound, "", true)
		return
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	s.setMemberSession(w, token)
	http.Redirect(w, r, memberHome(token), http.StatusSeeOther)
}

// signout ends every session of the member (sign-out everywhere).
func (s *Server) signout(w http.ResponseWriter, r *http.Request) {
	if err := s.Portal.SignOut(r.Context(), s.memberToken(r)); err != nil {
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	s.setMemberSession(w, "")
	s.render(w, r, http.StatusOK, "signed_out", pages.SignedOut{Base: s.base(r, s.pageLang(w, r, ""))})
}

// portalEntry answers /me, which names no one: to the sign-in. It never
// redirects to the session's own page, whose key must not appear in an
// answer at a URL everyone shares.
func (s *Server) portalEntry(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// portalHome is the member's own page, in their language.
func (s *Server) portalHome(w http.ResponseWriter, r *http.Request) {
	m := memberFrom(r.Context())
	lang := s.pageLang(w, r, m.Locale)
	v, err := s.Portal.MemberView(r.Context(), m.ID, lang, s.KeepBirthDate)
	if err != nil {
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	// The page writes months out in the member's language; the export
	// keeps them as YYYY-MM.
	for i := range v.Incidents {
		for j := range v.Incidents[i].Documents {
			d := &v.Incidents[i].Documents[j]
			d.Month = incident.FormatMonth(lang, d.Month)
		}
	}
	s.render(w, r, http.StatusOK, "portal", pages.Portal{Base: s.base(r, lang), View: v, Home: memberHome(s.memberToken(r))})
}

// portalExport sends the member's data as a JSON file. It is a POST from
// the portal page (CSRF-protected, never a link to share or guess) and
// reads only the session's member.
func (s *Server) portalExport(w http.ResponseWriter, r *http.Request) {
	m := memberFrom(r.Context())
	v, err := s.Portal.Export(r.Context(), m.ID, s.pageLang(w, r, m.Locale), s.KeepBirthDate)
	if err != nil {
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="kakunin-my-data-`+v.GeneratedAt.Format("20060102")+`.json"`)
	writeJSON(w, http.StatusOK, v)
}

// portalLink gives the host a one-time sign-in link for one of its
// members, to hand its signed-in member straight into the portal.
func (s *Server) portalLink(w http.ResponseWriter, r *http.Request) error {
	l, err := s.Portal.HandoffLink(r.Context(), r.PathValue("external_id"))
	if err != nil {
		return err
	}
	// The link is what was created; Location names it, as on every 201.
	w.Header().Set("Location", l.URL)
	writeJSON(w, http.StatusCreated, struct {
		URL       string  `json:"url"`
		ExpiresAt apiTime `json:"expires_at"`
	}{l.URL, apiTime(l.ExpiresAt)})
	return nil
}
