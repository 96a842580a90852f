package web

import (
	"net/http"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// maxCheckForm bounds the check form: one address of at most 254 bytes,
// percent-encoded, and room for a browser's extras.
const maxCheckForm = 4 << 10

// checkPage shows the exposure-check form.
func (s *Server) checkPage(w http.ResponseWriter, r *http.Request) {
	s.renderCheck(w, r, http.StatusOK, "", false)
}

func (s *Server) renderCheck(w http.ResponseWriter, r *http.Request, status int, errCode string, badLink bool) {
	if s.MailOff {
		// The answer only goes by mail: promise none. The page is the
		// same for every visitor and every address (invariant 6).
		w.Header().Set("Retry-After", "3600")
		status, errCode = http.StatusServiceUnavailable, ""
	}
	s.render(w, r, status, "check", pages.Check{Base: s.base(r, s.pageLang(w, r, "")), ErrorCode: errCode,
		BadLink: badLink, MaxLength: exposure.MaxAddress, Unavailable: s.MailOff})
}

// submitCheck accepts a check. Its answer depends only on the address's
// syntax and on how many checks this client sent: never on whether the
// address belongs to a member (invariant 6). The service looks nothing
// up here; a job mails the real answer to the registered address.
func (s *Server) submitCheck(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxCheckForm)
	if s.MailOff {
		// Nothing is looked up or queued: whoever asks, the same page.
		s.renderCheck(w, r, http.StatusServiceUnavailable, "", false)
		return
	}
	lang := s.pageLang(w, r, "")
	err := r.ParseForm()
	if err == nil {
		err = s.Exposure.Check(r.Context(), r.PostForm.Get("email"), lang)
	} else {
		err = kakunin.Errorf(kakunin.EINVALID, "invalid_form")
	}
	switch kakunin.ErrorCode(err) {
	case "":
		s.render(w, r, http.StatusOK, "check_sent", pages.CheckSent{Base: s.base(r, lang)})
	case kakunin.EINVALID:
		s.renderCheck(w, r, http.StatusBadRequest, "invalid", false)
	case kakunin.ERATELIMIT:
		s.renderCheck(w, r, http.StatusTooManyRequests, "rate_limited", false)
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
	}
}

// checkResult shows a member their own answer, opened through the link in
// their answer mail or the host's hand-off. Every link that cannot be used
// gets the same page: the form, to ask for a new answer by mail.
func (s *Server) checkResult(w http.ResponseWriter, r *http.Request) {
	v, err := s.Exposure.Open(r.Context(), r.PathValue("token"))
	switch kakunin.ErrorCode(err) {
	case "":
	case kakunin.ENOTFOUND:
		s.renderCheck(w, r, http.StatusNotFound, "", true)
		return
	default:
		s.logInternal(r, err)
		s.errorPage(w, r, http.StatusInternalServerError, "internal", nil)
		return
	}
	lang := s.pageLang(w, r, v.Locale)
	data := pages.CheckResult{Base: s.base(r, lang), ExpiresAt: v.ExpiresAt}
	for _, a := range v.Answers {
		ci := pages.CheckIncident{DiscoveredAt: a.Incident.DiscoveredAt, WindowFrom: a.Incident.WindowFrom,
			WindowTo: a.Incident.WindowTo, Affected: a.Exposure.Affected}
		for _, d := range a.Exposure.Documents {
			ci.Documents = append(ci.Documents, pages.CheckDocument{Type: d.Type, Month: incident.FormatMonth(lang, d.Month), Readable: d.Readable})
			data.AnyReadable = data.AnyReadable || d.Readable
		}
		data.Incidents = append(data.Incidents, ci)
	}
	// Personal: securityHeaders already sent no-store, private and
	// no-referrer; say it again here so no later change can lose it.
	w.Header().Set("Cache-Control", "no-store, private")
	s.render(w, r, http.StatusOK, "check_result", data)
}

// exposureLink gives the host platform a short-lived link to the answer of
// one of its members, to hand its signed-in member over.
func (s *Server) exposureLink(w http.ResponseWriter, r *http.Request) error {
	l, err := s.Exposure.HandoffLink(r.Context(), r.PathValue("external_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}
