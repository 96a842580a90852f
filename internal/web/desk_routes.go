package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/inquiry"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// deskRoutes is the route table's part for the inquiry desk: the public
// contact form, the person's thread behind its private link, the host's
// hand-off, and the support queue. Every answer is no-store, private
// (securityHeaders sends it; the personal ones say it again).
func (s *Server) deskRoutes() []Route {
	desk := staffOnly(kakunin.RoleSupport, kakunin.RoleResponder)
	routes := []Route{
		{"GET /contact", public, http.HandlerFunc(s.contactPage)},
		{"POST /contact", public, http.HandlerFunc(s.submitContact)},
		{"GET /contact/t/{token}", public, http.HandlerFunc(s.contactThread)},
		{"POST /contact/t/{token}", public, http.HandlerFunc(s.contactReply)},
		{"POST /api/v1/members/{external_id}/inquiry-link", hostAPI, s.api(s.inquiryLink)},
		{"GET /console/inquiries", desk, s.page(s.deskQueue)},
		{"GET /console/inquiries/{id}", desk, s.page(s.deskThread)},
	}
	for _, action := range deskActions {
		routes = append(routes, Route{"POST /console/inquiries/{id}/" + action, desk, s.page(func(w http.ResponseWriter, r *http.Request) error {
			return s.deskAction(w, r, action)
		})})
	}
	return routes
}

// deskActions are the staff's actions on a thread, one route each.
var deskActions = []string{"take", "reply", "note", "category", "merge", "close", "reopen"}

// maxContactForm bounds the contact form: the message and the address,
// percent-encoded (three bytes for each byte at most), and room for the
// category and a browser's extras.
const maxContactForm = 3*inquiry.MaxMessage + 8<<10

// personal marks a response as one person's: never stored by any cache.
func personal(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store, private")
}

func (s *Server) contactPage(w http.ResponseWriter, r *http.Request) {
	cat := r.URL.Query().Get("category")
	if !inquiry.ValidCategory(cat) {
		cat = ""
	}
	s.renderContact(w, r, http.StatusOK, "", cat, "", false)
}

func (s *Server) renderContact(w http.ResponseWriter, r *http.Request, status int, errCode, category, message string, badLink bool) {
	if s.MailOff {
		// Answers go only by mail: promise none, alike for everyone.
		w.Header().Set("Retry-After", "3600")
		status, errCode, message = http.StatusServiceUnavailable, "", ""
	}
	personal(w)
	s.render(w, r, status, "contact", pages.Contact{Base: s.base(r, s.pageLang(w, r, "")), ErrorCode: errCode, Category: category,
		Message: message, Categories: inquiry.Categories, MaxMessage: inquiry.MaxMessage, MaxLength: exposure.MaxAddress,
		BadLink: badLink, Unavailable: s.MailOff})
}

// submitContact accepts a message. As submitCheck, its answer depends only
// on the form's syntax and this client's count, never on who wrote
// (invariant 6): a job opens the thread and mails its link.
func (s *Server) submitContact(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxContactForm)
	if s.MailOff {
		s.renderContact(w, r, http.StatusServiceUnavailable, "", "", "", false)
		return
	}
	lang := s.pageLang(w, r, "")
	var category, message string
	err := r.ParseForm()
	if err == nil {
		category, message = r.PostForm.Get("category"), r.PostForm.Get("message")
		err = s.Desk.Submit(r.Context(), category, message, r.PostForm.Get("email"), lang)
	} else if strings.Contains(err.Error(), "too large") {
		err = kakunin.Errorf(kakunin.EINVALID, "message_too_long")
	} else {
		err = kakunin.Errorf(kakunin.EINVALID, "invalid_form")
	}
	if !inquiry.ValidCategory(category) {
		category = ""
	}
	switch kakunin.ErrorCode(err) {
	case "":
		personal(w)
		s.render(w, r, http.StatusOK, "contact_sent", pages.ContactSent{Base: s.base(r, lang)})
	case kakunin.EINVALID:
		// The message goes back for the person to fix (escaped by the
		// template); the address never does.
		if len(message) > inquiry.MaxMessage+1000 {
			message = ""
		}
		s.renderContact(w, r, http.StatusBadRequest, formCode(err), category, message, false)
	case kakunin.ERATELIMIT:
		s.renderContact(w, r, http.StatusTooManyRequests, "rate_limited", category, "", false)
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
	}
}

// formCode is the message ID part of an EINVALID error of the desk.
func formCode(err error) string {
	var e *kakunin.Error
	if errors.As(err, &e) {
		switch e.Message {
		case "invalid_category", "invalid_address", "message_empty", "message_too_long", "message_invalid", "message_control", "invalid_form", "invalid_merge":
			return e.Message
		}
	}
	return "invalid_form"
}

// contactThread shows the person their thread. A link that opens nothing
// (unknown, guessed, revoked, expired, erased) gets the contact form with
// one notice, alike.
func (s *Server) contactThread(w http.ResponseWriter, r *http.Request) {
	s.showThread(w, r, http.StatusOK, "", r.URL.Query().Get("sent") == "1")
}

func (s *Server) showThread(w http.ResponseWriter, r *http.Request, status int, errCode string, sent bool) {
	personal(w)
	v, err := s.Desk.Open(r.Context(), r.PathValue("token"))
	switch kakunin.ErrorCode(err) {
	case "":
	case kakunin.ENOTFOUND:
		s.renderContact(w, r, http.StatusNotFound, "", "", "", true)
		return
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	s.render(w, r, status, "contact_thread", pages.ContactThread{Base: s.base(r, s.pageLang(w, r, v.Locale)), Thread: v,
		Action: r.URL.Path, ErrorCode: errCode, MaxMessage: inquiry.MaxMessage, Sent: sent})
}

// contactReply adds the person's message to their thread.
func (s *Server) contactReply(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxContactForm)
	err := r.ParseForm()
	if err == nil {
		err = s.Desk.PersonReply(r.Context(), r.PathValue("token"), r.PostForm.Get("message"))
	} else {
		err = kakunin.Errorf(kakunin.EINVALID, "message_too_long")
	}
	switch kakunin.ErrorCode(err) {
	case "":
		http.Redirect(w, r, r.URL.Path+"?sent=1", http.StatusSeeOther)
	case kakunin.EINVALID:
		s.showThread(w, r, http.StatusBadRequest, formCode(err), false)
	case kakunin.ENOTFOUND:
		personal(w)
		s.renderContact(w, r, http.StatusNotFound, "", "", "", true)
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
	}
}

// inquiryLink opens a thread for one of the host's members and returns
// its private link, for the host to send its signed-in member to.
func (s *Server) inquiryLink(w http.ResponseWriter, r *http.Request) error {
	l, err := s.Desk.HandoffLink(r.Context(), r.PathValue("external_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, l)
	return nil
}

// deskCategories is what the signed-in staff member works on.
func deskCategories(r *http.Request) []string {
	st := staffFrom(r.Context())
	return inquiry.CategoriesFor([]kakunin.Role{st.Role})
}

var deskStates = []string{"ok", "warning", "breached", "paused"}

func (s *Server) deskQueue(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	allowed := deskCategories(r)
	cat, status, state := q.Get("category"), q.Get("status"), q.Get("sla")
	views, err := s.Desk.Queue(r.Context(), allowed, cat, status, state)
	if err != nil {
		return err
	}
	personal(w)
	s.render(w, r, http.StatusOK, "desk_queue", pages.DeskQueue{Base: s.staffBase(w, r), Threads: views, Categories: allowed,
		Statuses: []string{inquiry.StatusOpen, inquiry.StatusWaiting, inquiry.StatusClosed}, States: deskStates,
		Category: cat, Status: status, State: state})
	return nil
}

func (s *Server) deskThread(w http.ResponseWriter, r *http.Request) error {
	return s.renderDeskThread(w, r, http.StatusOK, "")
}

func (s *Server) renderDeskThread(w http.ResponseWriter, r *http.Request, status int, errCode string) error {
	v, err := s.Desk.Thread(r.Context(), deskCategories(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	personal(w)
	s.render(w, r, status, "desk_thread", pages.DeskThread{Base: s.staffBase(w, r), Thread: v, Categories: inquiry.Categories,
		ErrorCode: errCode, MaxMessage: inquiry.MaxMessage, StaffID: staffFrom(r.Context()).ID})
	return nil
}

// deskAction carries out one staff action on a thread, then shows it.
func (s *Server) deskAction(w http.ResponseWriter, r *http.Request, action string) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxContactForm)
	if err := r.ParseForm(); err != nil {
		return s.renderDeskThread(w, r, http.StatusBadRequest, "message_too_long")
	}
	ctx, allowed, id, st := r.Context(), deskCategories(r), r.PathValue("id"), staffFrom(r.Context())
	var err error
	switch action {
	case "take":
		err = s.Desk.Take(ctx, allowed, id, st.ID)
	case "reply":
		err = s.Desk.Reply(ctx, allowed, id, st.ID, r.PostForm.Get("message"))
	case "note":
		err = s.Desk.Note(ctx, allowed, id, st.ID, r.PostForm.Get("message"))
	case "category":
		err = s.Desk.SetCategory(ctx, allowed, id, r.PostForm.Get("category"))
	case "merge":
		err = s.Desk.Merge(ctx, allowed, id, strings.TrimSpace(r.PostForm.Get("into")))
	case "close":
		err = s.Desk.Close(ctx, allowed, id)
	case "reopen":
		err = s.Desk.Reopen(ctx, allowed, id)
	default:
		return kakunin.Errorf(kakunin.ENOTFOUND, "no such action")
	}
	switch kakunin.ErrorCode(err) {
	case "":
	case kakunin.EINVALID:
		return s.renderDeskThread(w, r, http.StatusBadRequest, formCode(err))
	case kakunin.ECONFLICT:
		return s.renderDeskThread(w, r, http.StatusConflict, "closed")
	default:
		return err
	}
	// A thread moved out of the staff member's categories is no longer
	// theirs to see: back to the queue.
	if _, err := s.Desk.Thread(ctx, deskCategories(r), id); kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		http.Redirect(w, r, "/console/inquiries", http.StatusSeeOther)
		return nil
	}
	http.Redirect(w, r, "/console/inquiries/"+url.PathEscape(id), http.StatusSeeOther)
	return nil
}
