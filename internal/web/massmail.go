package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// The mass notification console: /console/incidents/{id}/notification.

// maxNotificationForm bounds the letter's form: four templates of at most
// 20,000 characters, each up to 4 bytes and percent-encoded.
const maxNotificationForm = 1 << 20

// notificationRefresh is how often, in seconds, notification.js fetches the
// page again while sending.
const notificationRefresh = 30

func notificationURL(id string) string { return "/console/incidents/" + id + "/notification" }

func notificationForm(t massmail.Text) pages.NotificationForm {
	return pages.NotificationForm{SubjectJA: t.SubjectJA, BodyJA: t.BodyJA, SubjectEN: t.SubjectEN, BodyEN: t.BodyEN,
		MaxSubject: massmail.MaxSubject, MaxBody: massmail.MaxBody}
}

func notificationText(r *http.Request) massmail.Text {
	return massmail.Text{SubjectJA: r.PostFormValue("subject_ja"), BodyJA: r.PostFormValue("body_ja"),
		SubjectEN: r.PostFormValue("subject_en"), BodyEN: r.PostFormValue("body_en")}
}

// notificationView is what renderNotification shows besides the stored
// state: a refilled form, a preview, an error.
type notificationView struct {
	form             *massmail.Text
	preview          *massmail.Preview
	errCode, errText string
}

func (s *Server) notificationPage(w http.ResponseWriter, r *http.Request) error {
	return s.renderNotification(w, r, http.StatusOK, notificationView{})
}

func (s *Server) renderNotification(w http.ResponseWriter, r *http.Request, status int, v notificationView) error {
	ctx := r.Context()
	c, err := s.MassMail.View(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	data := pages.ConsoleNotification{Base: s.staffBase(w, r), IncidentID: c.Incident.ID, IncidentTitle: c.Incident.Title,
		WindowKnown: c.WindowKnown, CanEdit: staffFrom(ctx).Role == kakunin.RoleResponder, Previewed: c.Previewed, Placeholder: c.Placeholder,
		ErrorCode: v.errCode, ErrorDetail: v.errText}
	if c.Campaign != nil {
		data.State = c.Campaign.State
	}
	text := c.Text
	if v.form != nil {
		text = *v.form
	}
	data.Form = notificationForm(text)
	if p := v.preview; p != nil {
		data.Preview = &pages.NotificationPreview{Sample: p.Sample, Documents: p.Documents,
			JA: previewLetter(p.JA), EN: previewLetter(p.EN)}
		data.Previewed = true
	}
	if c.Progress != nil {
		data.Progress = progressView(c.Progress)
	}
	if c.Live {
		// notification.js updates the figures in place; the page offers a
		// Refresh link for a browser without script.
		data.Refresh = notificationRefresh
		allowScript(w)
	}
	switch r.URL.Query().Get("done") {
	case "saved":
		data.Notice = "notification.done.saved"
	case "started":
		data.Notice = "notification.done.started"
	case "paused":
		data.Notice = "notification.done.paused"
	case "resumed":
		data.Notice = "notification.done.resumed"
	}
	s.render(w, r, status, "notification", data)
	return nil
}

// previewLetter splits a written letter at its placeholders, which the
// preview highlights.
func previewLetter(r massmail.Rendered) pages.NotificationLetter {
	segs := func(text string) []pages.Segment {
		var out []pages.Segment
		for _, sg := range massmail.Segments(text) {
			out = append(out, pages.Segment{Text: sg.Text, Mark: sg.Mark})
		}
		return out
	}
	return pages.NotificationLetter{Lang: string(r.Lang), Subject: segs(r.Subject), Body: segs(r.Body),
		Placeholder: massmail.HasPlaceholder(r.Subject) || massmail.HasPlaceholder(r.Body)}
}

func progressView(p *massmail.Progress) *pages.NotificationProgress {
	c := p.Campaign
	v := &pages.NotificationProgress{Enqueuing: p.Enqueuing, Target: kakunin.FormatCount(c.Target), Enqueued: kakunin.FormatCount(c.Enqueued),
		Sent: kakunin.FormatCount(c.Sent), Failed: kakunin.FormatCount(c.Failed), Bounced: kakunin.FormatCount(c.Bounced),
		Skipped: kakunin.FormatCount(c.Skipped), Pending: kakunin.FormatCount(p.Pending), PerMinute: fmt.Sprintf("%.0f", p.PerMinute),
		FinishedAt: c.FinishedAt}
	if c.StartedAt != nil {
		v.StartedAt = *c.StartedAt
	}
	if p.Remaining > 0 {
		v.HasRemaining = true
		v.RemainingHours, v.RemainingMinutes = int(p.Remaining/time.Hour), int(p.Remaining%time.Hour/time.Minute)
	}
	v.Chart = chart(p.Buckets, p.BucketMinutes)
	return v
}

// Chart geometry, in SVG user units: the SVG scales to the page's width.
const (
	chartWidth  = 600
	chartHeight = 160
	chartTop    = 10
	chartBottom = 140 // the x axis
)

// chart lays out the sent-per-minute bars, scaled to the highest.
func chart(buckets []massmail.Bucket, per int) pages.NotificationChart {
	ch := pages.NotificationChart{Width: chartWidth, Height: chartHeight, BaseY: chartBottom, BucketMinutes: per}
	for _, b := range buckets {
		ch.Max = max(ch.Max, b.Sent)
		ch.Total += b.Sent
	}
	if len(buckets) == 0 {
		return ch
	}
	slot := chartWidth / len(buckets)
	for i, b := range buckets {
		h := 0
		if ch.Max > 0 {
			h = int(b.Sent * (chartBottom - chartTop) / ch.Max)
		}
		if b.Sent > 0 && h == 0 {
			h = 1 // a minute with mail shows
		}
		ch.Bars = append(ch.Bars, pages.NotificationBar{Start: b.Start, X: i*slot + 1, Y: chartBottom - h, W: max(slot-2, 1), H: h, Sent: b.Sent})
	}
	return ch
}

func (s *Server) saveNotification(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxNotificationForm)
	id, t := r.PathValue("id"), notificationText(r)
	_, err := s.MassMail.Save(r.Context(), id, t)
	switch kakunin.ErrorCode(err) {
	case "":
		http.Redirect(w, r, notificationURL(id)+"/preview", http.StatusSeeOther)
		return nil
	case kakunin.EINVALID:
		v := notificationView{form: &t, errCode: "invalid"}
		var te *massmail.TextError
		if errors.As(err, &te) {
			v.errText = s.Pages.Localize(s.pageLang(w, r, ""), te.Message)
		}
		return s.renderNotification(w, r, http.StatusBadRequest, v)
	case kakunin.ECONFLICT:
		return s.renderNotification(w, r, http.StatusConflict, notificationView{errCode: "started"})
	}
	return err
}

// previewNotification writes the saved letter for a sample affected member
// in both languages (audited: it shows which documents a member sent).
func (s *Server) previewNotification(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	_, c, err := s.MassMail.Campaign(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	if c == nil {
		http.Redirect(w, r, notificationURL(r.PathValue("id")), http.StatusSeeOther)
		return nil
	}
	p, err := s.MassMail.Preview(ctx, r.PathValue("id"))
	switch kakunin.ErrorCode(err) {
	case "":
		v := notificationView{preview: p}
		if r.URL.Query().Get("done") == "" {
			r.URL.RawQuery = "done=saved"
		}
		return s.renderNotification(w, r, http.StatusOK, v)
	case kakunin.ECONFLICT:
		return s.renderNotification(w, r, http.StatusConflict, notificationView{errCode: "no_window"})
	}
	return err
}

func (s *Server) startNotification(w http.ResponseWriter, r *http.Request) error {
	if ok, err := s.confirmed(w, r, false); !ok {
		return err
	}
	id := r.PathValue("id")
	_, err := s.MassMail.Start(r.Context(), id)
	switch kakunin.ErrorCode(err) {
	case "":
		http.Redirect(w, r, notificationURL(id)+"?done=started", http.StatusSeeOther)
		return nil
	case kakunin.ECONFLICT, kakunin.ENOTFOUND:
		return s.startRefused(w, r)
	}
	return err
}

// startRefused says why the campaign cannot start (not previewed as it
// stands, already started, no window, no mail server) and changes nothing.
func (s *Server) startRefused(w http.ResponseWriter, r *http.Request) error {
	c, err := s.MassMail.View(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	why := c.StartRefusal()
	if why == "" {
		why = massmail.RefusedNotPreviewed // changed since Start looked: ask to look again
	}
	return s.renderNotification(w, r, http.StatusConflict, notificationView{errCode: string(why)})
}

// confirmNotification shows the confirmation of a start or a resume
// (?action=resume).
func (s *Server) confirmNotification(w http.ResponseWriter, r *http.Request) error {
	return s.renderConfirm(w, r, r.URL.Query().Get("action") == "resume", http.StatusOK, "", "")
}

func (s *Server) renderConfirm(w http.ResponseWriter, r *http.Request, resume bool, status int, errCode, count string) error {
	ctx := r.Context()
	id := r.PathValue("id")
	v, err := s.MassMail.View(ctx, id)
	if err != nil {
		return err
	}
	// Nothing to confirm: say why on the notification page.
	if !resume && v.StartRefusal() != "" {
		return s.renderNotification(w, r, http.StatusConflict, notificationView{errCode: string(v.StartRefusal())})
	}
	if resume && (v.MailOff || v.Campaign == nil || v.Campaign.State != store.CampaignPaused) {
		code := "conflict"
		if v.MailOff {
			code = string(massmail.RefusedNoMail)
		}
		return s.renderNotification(w, r, http.StatusConflict, notificationView{errCode: code})
	}
	cf, err := s.MassMail.Confirm(ctx, id, resume)
	if err != nil {
		return err
	}
	action := notificationURL(id) + "/start"
	if resume {
		action = notificationURL(id) + "/resume"
	}
	s.render(w, r, status, "notification_confirm", pages.NotificationConfirm{Base: s.staffBase(w, r), IncidentID: id,
		IncidentTitle: cf.Incident.Title, Resume: resume, Action: action,
		JA: kakunin.FormatCount(cf.Recipients.JA), EN: kakunin.FormatCount(cf.Recipients.EN), Total: kakunin.FormatCount(cf.Recipients.Total()),
		SubjectJA: cf.SubjectJA, SubjectEN: cf.SubjectEN, ErrorCode: errCode, Count: count})
	return nil
}

// confirmed checks a start's or resume's confirmation form: the recipient
// count typed must be the count the confirmation states now, and the
// second-factor code must be right (proved here, every time). When it
// returns false it has answered: the confirmation again, the wrong field
// marked, and nothing sent.
func (s *Server) confirmed(w http.ResponseWriter, r *http.Request, resume bool) (bool, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	ctx := r.Context()
	typed := strings.TrimSpace(r.PostFormValue("count"))
	if !resume {
		// A start that cannot happen is refused before the code is used.
		v, err := s.MassMail.View(ctx, r.PathValue("id"))
		if err != nil {
			return false, err
		}
		if v.StartRefusal() != "" {
			return false, s.startRefused(w, r)
		}
	}
	cf, err := s.MassMail.Confirm(ctx, r.PathValue("id"), resume)
	switch kakunin.ErrorCode(err) {
	case "":
	case kakunin.ENOTFOUND, kakunin.ECONFLICT:
		return false, s.startRefused(w, r)
	default:
		return false, err
	}
	// Thousands separators are allowed: people type what they read.
	n, perr := strconv.ParseInt(strings.NewReplacer(",", "", "，", "", " ", "").Replace(typed), 10, 64)
	if perr != nil || n != cf.Recipients.Total() {
		return false, s.renderConfirm(w, r, resume, http.StatusBadRequest, "count", typed)
	}
	err = s.Staff.Reauthenticate(ctx, s.sessionToken(r), r.PostFormValue("code"))
	switch kakunin.ErrorCode(err) {
	case "":
		return true, nil
	case kakunin.EUNAUTHORIZED:
		return false, s.renderConfirm(w, r, resume, http.StatusBadRequest, "code", typed)
	case kakunin.ERATELIMIT:
		throttled(w, err)
		return false, s.renderConfirm(w, r, resume, http.StatusTooManyRequests, "rate_limited", typed)
	case kakunin.EFORBIDDEN:
		s.setSession(w, "")
		http.Redirect(w, r, "/console/login", http.StatusSeeOther)
		return false, nil
	}
	return false, err
}

func (s *Server) pauseNotification(w http.ResponseWriter, r *http.Request) error {
	return s.setNotificationPaused(w, r, true)
}

func (s *Server) resumeNotification(w http.ResponseWriter, r *http.Request) error {
	if s.MailOff {
		return s.renderNotification(w, r, http.StatusConflict, notificationView{errCode: string(massmail.RefusedNoMail)})
	}
	if ok, err := s.confirmed(w, r, true); !ok {
		return err
	}
	return s.setNotificationPaused(w, r, false)
}

func (s *Server) setNotificationPaused(w http.ResponseWriter, r *http.Request, paused bool) error {
	id := r.PathValue("id")
	var err error
	done := "paused"
	if paused {
		err = s.MassMail.Pause(r.Context(), id)
	} else {
		err, done = s.MassMail.Resume(r.Context(), id), "resumed"
	}
	switch kakunin.ErrorCode(err) {
	case "":
		http.Redirect(w, r, notificationURL(id)+"?done="+done, http.StatusSeeOther)
		return nil
	case kakunin.ECONFLICT:
		code := "conflict"
		if s.MailOff {
			code = string(massmail.RefusedNoMail)
		}
		return s.renderNotification(w, r, http.StatusConflict, notificationView{errCode: code})
	}
	return err
}
