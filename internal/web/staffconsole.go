package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// throttled answers a sign-in step the throttle refused: 429 with
// Retry-After, and the page's error code. It reports false for any other
// error.
func throttled(w http.ResponseWriter, err error) bool {
	var te *auth.ThrottledError
	if !errors.As(err, &te) {
		return false
	}
	w.Header().Set("Retry-After", te.RetryAfterSeconds())
	return true
}

// sections are the start-page entries of each role without a review queue.
var sections = map[kakunin.Role][]pages.NavLink{
	kakunin.RoleSupport: {{URL: "/console/verifications", LabelID: "section.verifications", HintID: "section.verifications.hint"}},
	kakunin.RoleResponder: {
		{URL: "/console/incidents", LabelID: "section.incidents", HintID: "section.incidents.hint"},
		{URL: "/console/incident/scope", LabelID: "section.scope", HintID: "section.scope.hint"},
		{URL: "/console/notices", LabelID: "section.notices", HintID: "section.notices.hint"},
	},
	kakunin.RoleAuditor: {
		{URL: "/console/audit", LabelID: "section.audit", HintID: "section.audit.hint"},
		{URL: "/console/incidents", LabelID: "section.incidents", HintID: "section.incidents.hint"},
		{URL: "/console/incident/scope", LabelID: "section.scope", HintID: "section.scope.hint"},
	},
	kakunin.RoleAdmin: {{URL: "/console/staff", LabelID: "section.staff", HintID: "section.staff.hint"}},
}

// consoleHome is a reviewer's queue, or for other roles the list of their
// sections.
func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request) error {
	st := staffFrom(r.Context())
	if st.Role == kakunin.RoleReviewer {
		return s.queue(w, r)
	}
	s.render(w, r, http.StatusOK, "console_home", pages.ConsoleHome{Base: s.staffBase(w, r), Links: sections[st.Role]})
	return nil
}

func (s *Server) reauthPage(w http.ResponseWriter, r *http.Request) error {
	errCode := ""
	if r.URL.Query().Get("error") == "passkey" {
		errCode = "passkey" // passkey.js came back from a refused passkey
	}
	s.render(w, r, http.StatusOK, "reauth", s.reauthData(w, r, safeNext(r.URL.Query().Get("next")), errCode))
	return nil
}

func (s *Server) reauth(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	next := safeNext(r.PostFormValue("next"))
	err := s.Staff.Reauthenticate(r.Context(), s.sessionToken(r), r.PostFormValue("code"))
	switch kakunin.ErrorCode(err) {
	case "":
		http.Redirect(w, r, next, http.StatusSeeOther)
	case kakunin.ERATELIMIT:
		throttled(w, err)
		s.render(w, r, http.StatusTooManyRequests, "reauth", s.reauthData(w, r, next, "rate_limited"))
	case kakunin.EUNAUTHORIZED:
		// The session is signed in; what it sent is a wrong code.
		s.render(w, r, http.StatusBadRequest, "reauth", s.reauthData(w, r, next, "bad_code"))
	case kakunin.EFORBIDDEN:
		s.setSession(w, "")
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
	default:
		return err
	}
	return nil
}

func (s *Server) staffList(w http.ResponseWriter, r *http.Request) error {
	me := staffFrom(r.Context())
	all, err := s.Staff.List(r.Context())
	if err != nil {
		return err
	}
	data := pages.StaffList{Base: s.staffBase(w, r)}
	for _, st := range all {
		data.Staff = append(data.Staff, pages.StaffRow{ID: st.ID, Email: st.Email, Role: st.Role, LockedAt: st.LockedAt,
			FailedLogins: st.FailedLogins, CreatedAt: st.CreatedAt, Self: st.ID == me.ID})
	}
	// Locked accounts first: they are why an admin comes here.
	slices.SortStableFunc(data.Staff, func(a, b pages.StaffRow) int {
		switch {
		case a.LockedAt != nil && b.LockedAt == nil:
			return -1
		case a.LockedAt == nil && b.LockedAt != nil:
			return 1
		}
		return 0
	})
	if r.URL.Query().Get("unlocked") == "1" {
		data.Notice = "notice.unlocked"
	}
	s.render(w, r, http.StatusOK, "staff_list", data)
	return nil
}

// unlockStaff lets a locked account sign in again. An admin cannot unlock
// their own account: a second admin must look at why it was locked.
func (s *Server) unlockStaff(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if id == staffFrom(r.Context()).ID {
		return kakunin.Errorf(kakunin.EFORBIDDEN, "a second admin must unlock this account")
	}
	if err := s.Staff.Unlock(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/staff?unlocked=1", http.StatusSeeOther)
	return nil
}

// verificationLookup shows support a member's verifications: statuses and
// dates only, never an image or what was read off a document.
func (s *Server) verificationLookup(w http.ResponseWriter, r *http.Request) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	data := pages.VerificationLookup{Base: s.staffBase(w, r), Query: q}
	if q == "" {
		s.render(w, r, http.StatusOK, "verification_lookup", data)
		return nil
	}
	vs, left, err := s.Verifications.Lookup(r.Context(), q)
	if kakunin.ErrorCode(err) == kakunin.EINVALID {
		data.ErrorCode = "invalid"
		s.render(w, r, http.StatusBadRequest, "verification_lookup", data)
		return nil
	}
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		data.ErrorCode = "not_found"
		s.render(w, r, http.StatusNotFound, "verification_lookup", data)
		return nil
	}
	for _, v := range vs {
		row := pages.VerificationRow{ID: v.ID, ExternalID: v.ExternalID, Status: v.Status, CreatedAt: v.CreatedAt,
			UpdatedAt: v.UpdatedAt, ExpiresAt: v.ExpiresAt, MemberLeft: left}
		if v.Result != nil {
			row.RejectReason = v.Result.RejectReason
			row.Adult = v.Result.Adult
		}
		data.Results = append(data.Results, row)
	}
	s.render(w, r, http.StatusOK, "verification_lookup", data)
	return nil
}
