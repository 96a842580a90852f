package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// Passkeys are an option beside TOTP. Their pages load passkey.js, which
// talks to the JSON endpoints below: an options endpoint answers with the
// WebAuthn options for the browser, a finish endpoint takes the browser's
// credential. Every other answer, success or not, is {"redirect": path}:
// the script goes there, and that page (rendered on the server, like all
// others) says what happened.

// passkeysReady reports whether this installation offers passkeys.
func (s *Server) passkeysReady() bool {
	return s.Passkeys != nil && s.Passkeys.Available() == nil
}

// offersPasskey reports whether a staff member's second-factor page should
// offer a passkey. A failed look-up offers none: the code still works.
func (s *Server) offersPasskey(r *http.Request, staffID string) bool {
	if !s.passkeysReady() {
		return false
	}
	has, err := s.Passkeys.Has(r.Context(), staffID)
	if err != nil {
		s.logInternal(r, err)
	}
	return has
}

// totpData is the second-factor page of a sign-in; offering a passkey, it
// lets the page run passkey.js.
func (s *Server) totpData(w http.ResponseWriter, r *http.Request, staffID, errCode string) pages.TOTP {
	data := pages.TOTP{Base: s.staffBase(w, r), ErrorCode: errCode, Passkey: s.offersPasskey(r, staffID)}
	if data.Passkey {
		allowScript(w)
	}
	return data
}

// reauthData is the re-authentication page, as totpData.
func (s *Server) reauthData(w http.ResponseWriter, r *http.Request, next, errCode string) pages.Reauth {
	data := pages.Reauth{Base: s.staffBase(w, r), Next: next, ErrorCode: errCode}
	if st := staffFrom(r.Context()); st != nil && s.offersPasskey(r, st.ID) {
		data.Passkey = true
		allowScript(w)
	}
	return data
}

// passkeyErrors are the codes the passkeys page shows from ?error=.
var passkeyErrors = []string{"name", "failed", "cancelled", "limit", "unavailable"}

func (s *Server) passkeysPage(w http.ResponseWriter, r *http.Request) error {
	st := staffFrom(r.Context())
	keys, err := s.Staff.Passkeys(r.Context(), st.ID)
	if err != nil {
		return err
	}
	data := pages.PasskeyList{Base: s.staffBase(w, r), Available: s.passkeysReady(), MaxName: auth.MaxPasskeyName, Limit: auth.MaxPasskeys}
	for _, k := range keys {
		data.Passkeys = append(data.Passkeys, pages.PasskeyRow{ID: k.ID, Name: k.Name, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt})
	}
	q := r.URL.Query()
	if code := q.Get("error"); slices.Contains(passkeyErrors, code) {
		data.ErrorCode = code
	}
	switch {
	case q.Get("added") == "1":
		data.Notice = "notice.passkey_added"
	case q.Get("removed") == "1":
		data.Notice = "notice.passkey_removed"
	}
	if data.Available {
		allowScript(w)
	}
	s.render(w, r, http.StatusOK, "passkeys", data)
	return nil
}

// removePasskey deletes one of the signed-in staff member's passkeys.
func (s *Server) removePasskey(w http.ResponseWriter, r *http.Request) error {
	if s.Passkeys == nil {
		return kakunin.Errorf(kakunin.ENOTFOUND, "this installation offers no passkeys")
	}
	if err := s.Passkeys.Remove(r.Context(), staffFrom(r.Context()).ID, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/passkeys?removed=1", http.StatusSeeOther)
	return nil
}

// passkeyAnswer is what passkey.js sends to a finish endpoint.
type passkeyAnswer struct {
	Credential json.RawMessage `json:"credential"`
	Next       string          `json:"next"`
}

// readAnswer reads a finish request. A body that does not parse leaves the
// credential empty, and the ceremony refuses it like any wrong answer.
func readAnswer(w http.ResponseWriter, r *http.Request) passkeyAnswer {
	var a passkeyAnswer
	if err := decodeJSON(w, r, &a); err != nil {
		return passkeyAnswer{}
	}
	return a
}

// sendOptions writes the WebAuthn options a ceremony began with.
func sendOptions(w http.ResponseWriter, options []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(options)
}

// sendRedirect tells passkey.js where to go.
func sendRedirect(w http.ResponseWriter, status int, path string) {
	writeJSON(w, status, map[string]string{"redirect": path})
}

func (s *Server) passkeyRegisterOptions(w http.ResponseWriter, r *http.Request) {
	if !s.passkeysReady() {
		sendRedirect(w, http.StatusNotFound, "/console/passkeys?error=unavailable")
		return
	}
	var body struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		sendRedirect(w, http.StatusBadRequest, "/console/passkeys?error=failed")
		return
	}
	options, err := s.Passkeys.BeginRegistration(r.Context(), s.sessionToken(r), body.Name)
	switch code := kakunin.ErrorCode(err); code {
	case "":
		sendOptions(w, options)
	case kakunin.EINVALID:
		sendRedirect(w, http.StatusBadRequest, "/console/passkeys?error=name")
	case kakunin.ECONFLICT:
		sendRedirect(w, http.StatusConflict, "/console/passkeys?error=limit")
	default:
		s.passkeySessionError(w, r, err, "/console/passkeys?error=failed")
	}
}

func (s *Server) passkeyRegister(w http.ResponseWriter, r *http.Request) {
	if !s.passkeysReady() {
		sendRedirect(w, http.StatusNotFound, "/console/passkeys?error=unavailable")
		return
	}
	a := readAnswer(w, r)
	_, err := s.Passkeys.FinishRegistration(r.Context(), s.sessionToken(r), a.Credential)
	switch kakunin.ErrorCode(err) {
	case "":
		sendRedirect(w, http.StatusOK, "/console/passkeys?added=1")
	case kakunin.EINVALID, kakunin.ECONFLICT:
		sendRedirect(w, http.StatusBadRequest, "/console/passkeys?error=failed")
	default:
		s.passkeySessionError(w, r, err, "/console/passkeys?error=failed")
	}
}

// passkeySessionError answers a ceremony step that failed for a reason of
// the session's (signed out, locked, second factor not fresh) or an
// internal one.
func (s *Server) passkeySessionError(w http.ResponseWriter, r *http.Request, err error, fallback string) {
	switch kakunin.ErrorCode(err) {
	case kakunin.EUNAUTHORIZED:
		sendRedirect(w, http.StatusUnauthorized, "/console/login")
	case kakunin.EFORBIDDEN:
		// Locked, or (registration) the second factor went stale since
		// the page was shown: the page itself sorts out which.
		sendRedirect(w, http.StatusForbidden, "/console/reauth?next="+url.QueryEscape("/console/passkeys"))
	default:
		s.logInternal(r, err)
		sendRedirect(w, statusOf(kakunin.ErrorCode(err)), fallback)
	}
}

func (s *Server) passkeyLoginOptions(w http.ResponseWriter, r *http.Request) {
	if !s.passkeysReady() {
		sendRedirect(w, http.StatusNotFound, "/console/login/totp")
		return
	}
	options, err := s.Passkeys.BeginLogin(r.Context(), s.sessionToken(r))
	switch kakunin.ErrorCode(err) {
	case "":
		sendOptions(w, options)
	case kakunin.ENOTFOUND:
		sendRedirect(w, http.StatusNotFound, "/console/login/totp")
	case kakunin.ECONFLICT:
		sendRedirect(w, http.StatusConflict, "/console")
	case kakunin.EUNAUTHORIZED, kakunin.EFORBIDDEN:
		sendRedirect(w, http.StatusUnauthorized, "/console/login")
	default:
		s.logInternal(r, err)
		sendRedirect(w, http.StatusInternalServerError, "/console/login/totp?error=passkey")
	}
}

// passkeyLogin completes a sign-in with a passkey instead of a TOTP code.
func (s *Server) passkeyLogin(w http.ResponseWriter, r *http.Request) {
	if !s.passkeysReady() {
		sendRedirect(w, http.StatusNotFound, "/console/login/totp")
		return
	}
	a := readAnswer(w, r)
	token, err := s.Passkeys.FinishLogin(r.Context(), s.sessionToken(r), a.Credential)
	switch kakunin.ErrorCode(err) {
	case "":
		s.setSession(w, token)
		// 201, never 200: the answer carries the session cookie, and a
		// careless cache that keeps 200s and replays Set-Cookie would hand
		// it to the next visitor (docs/caching.md, section 4).
		sendRedirect(w, http.StatusCreated, "/console")
	case kakunin.EUNAUTHORIZED:
		// A refused passkey keeps the half session (as a wrong code does)
		// unless that refusal locked the account or it had already ended.
		if _, serr := s.Staff.Session(r.Context(), s.sessionToken(r)); serr != nil {
			sendRedirect(w, http.StatusUnauthorized, "/console/login")
			return
		}
		sendRedirect(w, http.StatusUnauthorized, "/console/login/totp?error=passkey")
	case kakunin.EFORBIDDEN:
		sendRedirect(w, http.StatusUnauthorized, "/console/login")
	case kakunin.ECONFLICT:
		sendRedirect(w, http.StatusConflict, "/console")
	default:
		s.logInternal(r, err)
		sendRedirect(w, http.StatusInternalServerError, "/console/login/totp?error=passkey")
	}
}

func (s *Server) passkeyReauthOptions(w http.ResponseWriter, r *http.Request) {
	if !s.passkeysReady() {
		sendRedirect(w, http.StatusNotFound, "/console/reauth")
		return
	}
	options, err := s.Passkeys.BeginReauth(r.Context(), s.sessionToken(r))
	switch kakunin.ErrorCode(err) {
	case "":
		sendOptions(w, options)
	case kakunin.ENOTFOUND:
		sendRedirect(w, http.StatusNotFound, "/console/reauth")
	default:
		s.passkeySessionError(w, r, err, "/console/reauth?error=passkey")
	}
}

// passkeyReauth proves the second factor again with a passkey, as the
// re-authentication form does with a code.
func (s *Server) passkeyReauth(w http.ResponseWriter, r *http.Request) {
	a := readAnswer(w, r)
	next := safeNext(a.Next)
	retry := "/console/reauth?error=passkey&next=" + url.QueryEscape(next)
	if !s.passkeysReady() {
		sendRedirect(w, http.StatusNotFound, retry)
		return
	}
	err := s.Passkeys.FinishReauth(r.Context(), s.sessionToken(r), a.Credential)
	switch kakunin.ErrorCode(err) {
	case "":
		sendRedirect(w, http.StatusOK, next)
	case kakunin.EUNAUTHORIZED:
		// The session is signed in (the console wrapper saw to that);
		// what it sent is a refused passkey, as a wrong code would be.
		sendRedirect(w, http.StatusBadRequest, retry)
	case kakunin.EFORBIDDEN:
		s.setSession(w, "")
		sendRedirect(w, http.StatusUnauthorized, "/console/login")
	default:
		s.logInternal(r, err)
		sendRedirect(w, statusOf(kakunin.ErrorCode(err)), retry)
	}
}
