package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/width"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/era"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// sessionCookie is host-only and, over https, __Host- prefixed so no
// subdomain can set or read it.
func (s *Server) sessionCookie() string {
	if s.SecureCookies {
		return "__Host-kakunin_session"
	}
	return "kakunin_session"
}

func (s *Server) setSession(w http.ResponseWriter, token string) {
	c := &http.Cookie{Name: s.sessionCookie(), Value: token, Path: "/", HttpOnly: true, Secure: s.SecureCookies, SameSite: http.SameSiteStrictMode}
	if token == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

func (s *Server) sessionToken(r *http.Request) string {
	c, err := r.Cookie(s.sessionCookie())
	if err != nil {
		return ""
	}
	return c.Value
}

type staffCtx struct{}

// sessionCtx holds the console session's identity (auth.SignedIn.Session).
type sessionCtx struct{}

func sessionFrom(ctx context.Context) []byte {
	b, _ := ctx.Value(sessionCtx{}).([]byte)
	return b
}

func staffFrom(ctx context.Context) *store.StaffRecord {
	st, _ := ctx.Value(staffCtx{}).(*store.StaffRecord)
	return st
}

func nav(st *store.StaffRecord) *pages.StaffNav {
	return &pages.StaffNav{Email: st.Email, Role: st.Role}
}

// console wraps a console handler: a full session is required, a first
// sign-in must change its one-time password first, the staff member's role
// must be one the route allows, and a sensitive route needs the second
// factor proved within the re-authentication window.
func (s *Server) console(h http.Handler, access Access) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := s.Staff.Session(r.Context(), s.sessionToken(r))
		if err != nil || in.Stage != auth.StageFull {
			if kakunin.ErrorCode(err) == kakunin.EINTERNAL {
				s.logInternal(r, err)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login", http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, http.StatusUnauthorized, "unauthorized", nil)
			return
		}
		st := in.Staff
		if st.MustChangePassword && r.URL.Path != "/console/password" {
			http.Redirect(w, r, "/console/password", http.StatusSeeOther)
			return
		}
		if !slices.Contains(access.Roles, st.Role) {
			s.errorPage(w, r, http.StatusForbidden, "forbidden", nav(st))
			return
		}
		if access.Fresh && !s.Staff.Fresh(in) {
			http.Redirect(w, r, "/console/reauth?next="+url.QueryEscape(reauthReturn(r)), http.StatusSeeOther)
			return
		}
		ctx := context.WithValue(r.Context(), staffCtx{}, st)
		ctx = context.WithValue(ctx, sessionCtx{}, in.Session)
		ctx = audit.WithActor(ctx, audit.StaffActor(st.ID))
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// reauthReturn is where to go once the second factor is proved again: the
// page itself for a GET, the section's page for a form post (which must be
// sent again on purpose, not replayed).
func reauthReturn(r *http.Request) string {
	if r.Method == http.MethodGet {
		return r.URL.RequestURI()
	}
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if len(parts) >= 2 {
		return "/" + parts[0] + "/" + parts[1]
	}
	return "/console"
}

// safeNext accepts only a console path as a place to return to, so the
// re-authentication page cannot be used to send staff elsewhere.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console"
	}
	return next
}

func (s *Server) staffBase(w http.ResponseWriter, r *http.Request) pages.Base {
	b := s.base(r, s.pageLang(w, r, ""))
	if st := staffFrom(r.Context()); st != nil {
		b.Staff = nav(st)
		b.MailOff = s.MailOff
	}
	return b
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login", pages.Login{Base: s.staffBase(w, r), Action: s.loginAction()})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	email, password := r.PostFormValue("email"), r.PostFormValue("password")
	if stale, err := s.staleLoginForm(r); err != nil {
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	} else if stale {
		// The page was handed to someone before: refuse rather than sign
		// in through a cache that would replay this answer (docs/caching.md).
		s.render(w, r, http.StatusConflict, "login", pages.Login{Base: s.staffBase(w, r), ErrorCode: "stale_form", Action: s.loginAction()})
		return
	}
	token, err := s.Staff.Login(r.Context(), email, password)
	if err != nil {
		code, status := "bad_credentials", http.StatusUnauthorized
		switch kakunin.ErrorCode(err) {
		case kakunin.EFORBIDDEN:
			code, status = "locked", http.StatusForbidden
		case kakunin.ERATELIMIT:
			throttled(w, err)
			code, status = "rate_limited", http.StatusTooManyRequests
		case kakunin.EUNAUTHORIZED:
		default:
			s.logInternal(r, err)
			s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
			return
		}
		s.render(w, r, status, "login", pages.Login{Base: s.staffBase(w, r), Email: email, ErrorCode: code, Action: s.loginAction()})
		return
	}
	s.setSession(w, token)
	http.Redirect(w, r, "/console/login/totp", http.StatusSeeOther)
}

func (s *Server) totpPage(w http.ResponseWriter, r *http.Request) {
	in, err := s.Staff.Session(r.Context(), s.sessionToken(r))
	if err != nil || in.Stage != auth.StagePassword {
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		return
	}
	errCode := ""
	if r.URL.Query().Get("error") == "passkey" {
		errCode = "passkey" // passkey.js came back from a refused passkey
	}
	s.render(w, r, http.StatusOK, "totp", s.totpData(w, r, in.Staff.ID, errCode))
}

func (s *Server) totp(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	token, err := s.Staff.VerifyTOTP(r.Context(), s.sessionToken(r), r.PostFormValue("code"))
	switch kakunin.ErrorCode(err) {
	case "":
		s.setSession(w, token)
		http.Redirect(w, r, "/console", http.StatusSeeOther)
	case kakunin.ERATELIMIT:
		in, serr := s.Staff.Session(r.Context(), s.sessionToken(r))
		if serr != nil {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		throttled(w, err)
		s.render(w, r, http.StatusTooManyRequests, "totp", s.totpData(w, r, in.Staff.ID, "rate_limited"))
	case kakunin.EUNAUTHORIZED:
		in, serr := s.Staff.Session(r.Context(), s.sessionToken(r))
		if serr != nil {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		s.render(w, r, http.StatusUnauthorized, "totp", s.totpData(w, r, in.Staff.ID, "bad_code"))
	case kakunin.EFORBIDDEN, kakunin.ECONFLICT:
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
	}
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.Staff.Logout(r.Context(), s.sessionToken(r)); err != nil {
		s.logInternal(r, err)
	}
	s.setSession(w, "")
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

func (s *Server) passwordPage(w http.ResponseWriter, r *http.Request) error {
	s.render(w, r, http.StatusOK, "password", pages.ChangePassword{Base: s.staffBase(w, r), MinLength: auth.MinPasswordLength})
	return nil
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	st := staffFrom(r.Context())
	current, next, confirm := r.PostFormValue("current_password"), r.PostFormValue("new_password"), r.PostFormValue("confirm_password")
	fail := func(code string) {
		s.render(w, r, http.StatusBadRequest, "password", pages.ChangePassword{Base: s.staffBase(w, r), ErrorCode: code, MinLength: auth.MinPasswordLength})
	}
	switch {
	case !auth.CheckPassword(st.PasswordHash, current):
		fail("bad_current")
	case next != confirm:
		fail("mismatch")
	case len([]rune(next)) < auth.MinPasswordLength || next == current:
		fail("too_short")
	default:
		if err := s.Staff.ChangePassword(r.Context(), st.ID, next); err != nil {
			if kakunin.ErrorCode(err) == kakunin.EINVALID {
				fail("too_short")
				return nil
			}
			return err
		}
		http.Redirect(w, r, "/console", http.StatusSeeOther)
	}
	return nil
}

func taskOf(d *store.DocumentRecord, assignee string) pages.Task {
	return pages.Task{ID: d.ID, DocumentType: d.Type, ReceivedAt: d.ReceivedAt, AssignedTo: assignee}
}

func (s *Server) queue(w http.ResponseWriter, r *http.Request) error {
	st := staffFrom(r.Context())
	mine, waiting, err := s.Review.Queue(r.Context(), st.ID)
	if err != nil {
		return err
	}
	data := pages.Queue{Base: s.staffBase(w, r), Waiting: waiting}
	if r.URL.Query().Get("empty") == "1" {
		data.Notice = "notice.queue_empty"
	}
	for _, d := range mine {
		data.Mine = append(data.Mine, taskOf(d, st.Email))
	}
	recent, err := s.Review.RecentDecisions(r.Context(), st.ID)
	if err != nil {
		return err
	}
	decided := r.URL.Query().Get("decided")
	for _, d := range recent {
		pd := pages.Decision{DocumentType: d.Type, ReceivedAt: d.ReceivedAt, Outcome: d.Status, Reason: d.RejectReason, DecidedAt: d.DecidedAt}
		data.Recent = append(data.Recent, pd)
		// The confirmation says what was recorded, read back from the
		// record (only the reviewer's own decisions are looked at).
		if decided != "" && d.DocumentID == decided && data.Decided == nil {
			data.Decided = &pd
		}
	}
	s.render(w, r, http.StatusOK, "queue", data)
	return nil
}

func (s *Server) nextTask(w http.ResponseWriter, r *http.Request) error {
	st := staffFrom(r.Context())
	d, err := s.Review.Next(r.Context(), st.ID)
	if err != nil {
		return err
	}
	if d == nil {
		http.Redirect(w, r, "/console?empty=1", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/console/tasks/"+d.ID, http.StatusSeeOther)
	return nil
}

func (s *Server) renderTask(w http.ResponseWriter, r *http.Request, d *store.DocumentRecord, status int, errCode string) error {
	st := staffFrom(r.Context())
	// Each rendering of the page gets its own image URL, good for one
	// fetch by this session (review.GrantImage).
	token, err := s.Review.GrantImage(r.Context(), st.ID, sessionFrom(r.Context()), d.ID)
	if err != nil {
		return err
	}
	data := pages.TaskView{
		Base: s.staffBase(w, r), Task: taskOf(d, st.Email), ImageURL: "/console/images/" + token,
		RejectReasons: review.RejectReasons, KeepBirthDate: s.KeepBirthDate, ErrorCode: errCode, BirthEra: "heisei",
	}
	for _, e := range era.Eras {
		data.Eras = append(data.Eras, e.Code)
	}
	if errCode != "" {
		data.DocumentName, data.Issuer = r.PostFormValue("document_name"), r.PostFormValue("issuer")
		data.BirthEra, data.BirthYear = r.PostFormValue("birth_era"), r.PostFormValue("birth_year")
		data.BirthMonth, data.BirthDay = r.PostFormValue("birth_month"), r.PostFormValue("birth_day")
	}
	s.render(w, r, status, "task", data)
	return nil
}

func (s *Server) task(w http.ResponseWriter, r *http.Request) error {
	d, err := s.Review.Task(r.Context(), staffFrom(r.Context()).ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return s.renderTask(w, r, d, http.StatusOK, "")
}

// taskImage serves the watermarked image of a task assigned to the
// reviewer, at the single-use URL its task page was given (renderTask).
// It is never cacheable and never downloadable as a file.
func (s *Server) taskImage(w http.ResponseWriter, r *http.Request) {
	img, err := s.Review.ImageByGrant(r.Context(), staffFrom(r.Context()), sessionFrom(r.Context()), r.PathValue("token"))
	if err != nil {
		s.logInternal(r, err)
		http.Error(w, http.StatusText(statusOf(kakunin.ErrorCode(err))), statusOf(kakunin.ErrorCode(err)))
		return
	}
	w.Header().Set("Cache-Control", "no-store, private")
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Disposition", "inline")
	w.Write(img)
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	st := staffFrom(r.Context())
	name, issuer := r.PostFormValue("document_name"), r.PostFormValue("issuer")
	birth, code := birthDate(r)
	if code == "" && (strings.TrimSpace(name) == "" || strings.TrimSpace(issuer) == "") {
		code = "missing_fields"
	}
	if code != "" {
		d, err := s.Review.Task(r.Context(), st.ID, r.PathValue("id"))
		if err != nil {
			return err
		}
		return s.renderTask(w, r, d, http.StatusBadRequest, code)
	}
	err := s.Review.Approve(r.Context(), st.ID, r.PathValue("id"), review.Approval{DocumentName: name, Issuer: issuer, BirthDate: birth})
	return s.afterDecision(w, r, err)
}

// birthDate converts the date of birth the reviewer typed as the document
// prints it (era, year, month, day) to YYYY-MM-DD, or says what is wrong:
// missing_fields, invalid_date (no such day) or outside_era (平成32年).
func birthDate(r *http.Request) (string, string) {
	parts := []string{r.PostFormValue("birth_year"), r.PostFormValue("birth_month"), r.PostFormValue("birth_day")}
	var n [3]int
	for i, p := range parts {
		p = strings.TrimSpace(width.Narrow.String(p)) // ２ as 2: a Japanese keyboard may type either
		if p == "" {
			return "", "missing_fields"
		}
		v, err := strconv.Atoi(p)
		if err != nil {
			return "", "invalid_date"
		}
		n[i] = v
	}
	t, err := era.Date(r.PostFormValue("birth_era"), n[0], n[1], n[2])
	switch {
	case errors.Is(err, era.ErrOutsideEra):
		return "", "outside_era"
	case err != nil:
		return "", "invalid_date"
	}
	return t.Format("2006-01-02"), ""
}

func (s *Server) reject(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	err := s.Review.Reject(r.Context(), staffFrom(r.Context()).ID, r.PathValue("id"), r.PostFormValue("reason"))
	return s.afterDecision(w, r, err)
}

// afterDecision answers an approval or rejection: back to the queue, the
// task again with what was wrong in the form, or the error.
func (s *Server) afterDecision(w http.ResponseWriter, r *http.Request, err error) error {
	switch kakunin.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/console?decided="+url.QueryEscape(r.PathValue("id")), http.StatusSeeOther)
		return nil
	case kakunin.EINVALID:
		d, terr := s.Review.Task(r.Context(), staffFrom(r.Context()).ID, r.PathValue("id"))
		if terr == nil {
			// The form's own checks passed: the date is real but not
			// a past one the review accepts (before 1900, or future).
			return s.renderTask(w, r, d, http.StatusBadRequest, "invalid_date")
		}
	}
	return err
}

func (s *Server) release(w http.ResponseWriter, r *http.Request) error {
	if err := s.Review.Release(r.Context(), staffFrom(r.Context()).ID, r.PathValue("id")); err != nil {
		return err
	}
	http.Redirect(w, r, "/console", http.StatusSeeOther)
	return nil
}
