package web

import (
	"net/http"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/erasure"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// erasureRoutes: the member's erasure requests. The confirmation link
// is public (it is the proof of the address); everything else is behind
// the member's own session and reads only that member's requests.
func (s *Server) erasureRoutes() []Route {
	return []Route{
		// Under the session's own /me/{key} (memberPageKey), like the portal.
		{"GET /me/{key}/erasure", memberAccess, http.HandlerFunc(s.erasurePage)},
		{"POST /me/{key}/erasure", memberAccess, http.HandlerFunc(s.requestErasure)},
		{"POST /me/{key}/erasure/receipt/{id}", memberAccess, http.HandlerFunc(s.erasureReceipt)},
		// The mailed link; its button posts to a URL of its own (a cache
		// keyed without the method cannot swallow the POST).
		{"GET /erasure/confirm/{token}", public, http.HandlerFunc(s.erasureConfirmPage)},
		{"POST /erasure/confirm/{token}/open", public, http.HandlerFunc(s.confirmErasure)},
	}
}

func (s *Server) erasurePage(w http.ResponseWriter, r *http.Request) {
	s.renderErasure(w, r, http.StatusOK, "")
}

func (s *Server) renderErasure(w http.ResponseWriter, r *http.Request, status int, notice string) {
	m := memberFrom(r.Context())
	lang := s.pageLang(w, r, m.Locale)
	reqs, err := s.Erasure.DB.ErasureRequestsOfMember(r.Context(), m.ID)
	if err != nil {
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	p := pages.Erasure{Base: s.base(r, lang), Flash: notice, Home: memberHome(s.memberToken(r))}
	for _, q := range reqs {
		p.Requests = append(p.Requests, pages.ErasureRequest{ID: q.ID, State: q.State, CreatedAt: q.CreatedAt, DueAt: q.DueAt,
			RefusalReason: q.RefusalReason, HasReceipt: q.Receipt != ""})
		if q.State == erasure.Received || q.State == erasure.Verified || q.State == erasure.InProgress {
			p.Open = true
		}
	}
	s.render(w, r, status, "erasure", p)
}

// requestErasure opens a request for the session's member; the
// confirmation link goes to the registered address.
func (s *Server) requestErasure(w http.ResponseWriter, r *http.Request) {
	m := memberFrom(r.Context())
	_, err := s.Erasure.Request(r.Context(), m.ID, erasure.ViaPortal, erasure.Actor{Role: "member", Audit: "member:" + m.ID}, "")
	switch kakunin.ErrorCode(err) {
	case "":
		s.renderErasure(w, r, http.StatusOK, "sent")
	case kakunin.ECONFLICT:
		s.renderErasure(w, r, http.StatusConflict, "open")
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
	}
}

// erasureReceipt sends the receipt of one of the session member's own
// requests as a file; any other ID is 404 alike.
func (s *Server) erasureReceipt(w http.ResponseWriter, r *http.Request) {
	m := memberFrom(r.Context())
	b, err := s.Erasure.ReceiptOf(r.Context(), m.ID, r.PathValue("id"))
	switch kakunin.ErrorCode(err) {
	case "":
	case kakunin.ENOTFOUND:
		s.errorPage(w, r, http.StatusNotFound, "not_found", nil)
		return
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="kakunin-erasure-receipt.txt"`)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// erasureConfirmPage shows a button; a GET never confirms (mail
// scanners open links). Every unusable link gets the same page.
func (s *Server) erasureConfirmPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store, private")
	s.render(w, r, http.StatusOK, "erasure_confirm", pages.ErasureConfirm{Base: s.base(r, s.pageLang(w, r, "")), Action: r.URL.Path + "/open"})
}

func (s *Server) confirmErasure(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store, private")
	lang := s.pageLang(w, r, "")
	_, err := s.Erasure.Confirm(r.Context(), r.PathValue("token"))
	switch kakunin.ErrorCode(err) {
	case "":
		s.render(w, r, http.StatusOK, "erasure_confirm", pages.ErasureConfirm{Base: s.base(r, lang), Done: true})
	case kakunin.EUNAUTHORIZED:
		s.render(w, r, http.StatusNotFound, "erasure_confirm", pages.ErasureConfirm{Base: s.base(r, lang), BadLink: true})
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
	}
}
