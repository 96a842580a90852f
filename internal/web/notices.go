package web

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/publicnotice"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// publicNoticeCache is the one cache policy of the public notice pages and
// feed: they hold no personal data, and a minute's delay after an edit is
// acceptable.
const publicNoticeCache = "public, max-age=60"

// paragraphs splits a plain-text body on blank lines; each paragraph keeps
// its lines so the page can break them without any HTML in the text.
func paragraphs(body string) [][]string {
	var out [][]string
	var cur []string
	for _, line := range strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			if cur != nil {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if cur != nil {
		out = append(out, cur)
	}
	return out
}

func noticeView(n *store.Notice, lang kakunin.Locale) pages.NoticeView {
	v := pages.NoticeView{ID: n.ID, Lang: lang, Title: n.TitleJA, Paragraphs: paragraphs(n.BodyJA), UpdatedAt: n.UpdatedAt, URL: "/notices/" + n.ID}
	if lang == kakunin.LocaleEN {
		v.Title, v.Paragraphs = n.TitleEN, paragraphs(n.BodyEN)
	}
	if n.PublishedAt != nil {
		v.PublishedAt = *n.PublishedAt
	}
	return v
}

func noticeForm(t publicnotice.Text) pages.NoticeForm {
	return pages.NoticeForm{TitleJA: t.TitleJA, TitleEN: t.TitleEN, BodyJA: t.BodyJA, BodyEN: t.BodyEN,
		MaxTitle: publicnotice.MaxTitle, MaxBody: publicnotice.MaxBody, IncidentID: t.IncidentID}
}

func noticeText(r *http.Request) publicnotice.Text {
	return publicnotice.Text{TitleJA: r.PostFormValue("title_ja"), TitleEN: r.PostFormValue("title_en"),
		BodyJA: r.PostFormValue("body_ja"), BodyEN: r.PostFormValue("body_en"), IncidentID: r.PostFormValue("incident_id")}
}

// withIncidents fills the notice form's incident choices: every incident,
// the most recently discovered first.
func (s *Server) withIncidents(r *http.Request, f pages.NoticeForm) (pages.NoticeForm, error) {
	if s.Incidents == nil {
		return f, nil
	}
	all, err := s.Incidents.List(r.Context())
	if err != nil {
		return f, err
	}
	for _, in := range all {
		f.Incidents = append(f.Incidents, pages.IncidentChoice{ID: in.ID, Title: in.Title})
	}
	return f, nil
}

// noticeErrorCode is the form's error code for a refused notice.
func noticeErrorCode(t publicnotice.Text, err error) string {
	if t.IncidentID != "" && strings.Contains(kakunin.ErrorMessage(err), t.IncidentID) {
		return "incident"
	}
	return "invalid"
}

// maxNoticeForm bounds a notice form: four fields of at most 20,000
// characters, each up to 4 bytes and percent-encoded.
const maxNoticeForm = 1 << 20

func (s *Server) consoleNotices(w http.ResponseWriter, r *http.Request) error {
	// "Write a notice for this incident" comes here with ?incident=.
	return s.renderConsoleNotices(w, r, http.StatusOK, noticeForm(publicnotice.Text{IncidentID: r.URL.Query().Get("incident")}), "")
}

func (s *Server) renderConsoleNotices(w http.ResponseWriter, r *http.Request, status int, form pages.NoticeForm, errCode string) error {
	all, err := s.Notices.List(r.Context())
	if err != nil {
		return err
	}
	if form, err = s.withIncidents(r, form); err != nil {
		return err
	}
	data := pages.ConsoleNotices{Base: s.staffBase(w, r), Form: form, ErrorCode: errCode}
	switch r.URL.Query().Get("done") {
	case "deleted":
		data.Notice = "notice.notice_deleted"
	}
	for _, n := range all {
		data.Notices = append(data.Notices, pages.NoticeRow{ID: n.ID, TitleJA: n.TitleJA, TitleEN: n.TitleEN,
			PublishedAt: n.PublishedAt, UpdatedAt: n.UpdatedAt})
	}
	s.render(w, r, status, "console_notices", data)
	return nil
}

func (s *Server) createNotice(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxNoticeForm)
	t := noticeText(r)
	n, err := s.Notices.Create(r.Context(), t)
	if kakunin.ErrorCode(err) == kakunin.EINVALID {
		return s.renderConsoleNotices(w, r, http.StatusBadRequest, noticeForm(t), noticeErrorCode(t, err))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/notices/"+n.ID+"?done=created", http.StatusSeeOther)
	return nil
}

func (s *Server) editNoticePage(w http.ResponseWriter, r *http.Request) error {
	n, err := s.Notices.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	data, err := s.noticeEditData(w, r, n, storedNoticeText(n))
	if err != nil {
		return err
	}
	switch r.URL.Query().Get("done") {
	case "unpublished":
		data.Notice = "notice.notice_unpublished"
	case "created":
		data.Notice = "notice.notice_created"
	case "saved":
		data.Notice = "notice.notice_saved"
	case "published":
		data.Notice = "notice.notice_published"
	}
	s.render(w, r, http.StatusOK, "console_notice_edit", data)
	return nil
}

// storedNoticeText is a stored notice's text, to fill its edit form.
func storedNoticeText(n *store.Notice) publicnotice.Text {
	return publicnotice.Text{TitleJA: n.TitleJA, TitleEN: n.TitleEN, BodyJA: n.BodyJA, BodyEN: n.BodyEN, IncidentID: n.IncidentID}
}

func (s *Server) noticeEditData(w http.ResponseWriter, r *http.Request, n *store.Notice, t publicnotice.Text) (pages.ConsoleNoticeEdit, error) {
	form, err := s.withIncidents(r, noticeForm(t))
	return pages.ConsoleNoticeEdit{Base: s.staffBase(w, r), ID: n.ID, Form: form, PublishedAt: n.PublishedAt,
		UpdatedAt: n.UpdatedAt, PreviewJA: noticeView(n, kakunin.LocaleJA), PreviewEN: noticeView(n, kakunin.LocaleEN)}, err
}

// renderNoticeEdit shows a notice's edit page again with what was wrong:
// the form as t fills it.
func (s *Server) renderNoticeEdit(w http.ResponseWriter, r *http.Request, status int, id string, t *publicnotice.Text, errCode string) error {
	n, err := s.Notices.Get(r.Context(), id)
	if err != nil {
		return err
	}
	text := storedNoticeText(n)
	if t != nil {
		text = *t
	}
	data, err := s.noticeEditData(w, r, n, text)
	if err != nil {
		return err
	}
	data.ErrorCode = errCode
	s.render(w, r, status, "console_notice_edit", data)
	return nil
}

func (s *Server) updateNotice(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxNoticeForm)
	id, t := r.PathValue("id"), noticeText(r)
	_, err := s.Notices.Update(r.Context(), id, t)
	if kakunin.ErrorCode(err) == kakunin.EINVALID {
		return s.renderNoticeEdit(w, r, http.StatusBadRequest, id, &t, noticeErrorCode(t, err))
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/notices/"+id+"?done=saved", http.StatusSeeOther)
	return nil
}

func (s *Server) publishNotice(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.Notices.Publish(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/notices/"+id+"?done=published", http.StatusSeeOther)
	return nil
}

// unpublishNotice takes a published notice off the public pages: it is a
// draft again.
func (s *Server) unpublishNotice(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.Notices.Unpublish(r.Context(), id); err != nil {
		return err
	}
	http.Redirect(w, r, "/console/notices/"+id+"?done=unpublished", http.StatusSeeOther)
	return nil
}

// deleteNotice deletes a draft. A published notice is refused with the
// edit page, which says to unpublish it first, and a 409.
func (s *Server) deleteNotice(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := s.Notices.Delete(r.Context(), id)
	if kakunin.ErrorCode(err) == kakunin.ECONFLICT {
		return s.renderNoticeEdit(w, r, http.StatusConflict, id, nil, "published")
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/console/notices?done=deleted", http.StatusSeeOther)
	return nil
}

// cacheShareable lets shared caches keep a public notice page for a minute,
// unless this response sets the language cookie: a cache that stored the
// Set-Cookie would hand it to everyone. The language also follows
// Accept-Language, so caches must key on it.
func cacheShareable(w http.ResponseWriter) {
	w.Header().Add("Vary", "Accept-Language")
	if w.Header().Get("Set-Cookie") == "" {
		w.Header().Set("Cache-Control", publicNoticeCache)
	}
}

func (s *Server) publicNotices(w http.ResponseWriter, r *http.Request) error {
	lang := s.pageLang(w, r, "")
	ns, err := s.Notices.Published(r.Context())
	if err != nil {
		return err
	}
	data := pages.NoticesPublic{Base: s.base(r, lang), FeedURL: "/notices.atom?lang=" + string(lang)}
	for _, n := range ns {
		data.Notices = append(data.Notices, noticeView(n, lang))
	}
	cacheShareable(w)
	s.render(w, r, http.StatusOK, "notices_public", data)
	return nil
}

// publicNotice shows one published notice. A draft answers exactly as an
// ID that never existed.
func (s *Server) publicNotice(w http.ResponseWriter, r *http.Request) error {
	n, err := s.Notices.GetPublished(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	lang := s.pageLang(w, r, "")
	cacheShareable(w)
	s.render(w, r, http.StatusOK, "notice_public", pages.NoticePublic{Base: s.base(r, lang), Item: noticeView(n, lang),
		FeedURL: "/notices.atom?lang=" + string(lang)})
	return nil
}

// The Atom 1.0 feed (RFC 4287), written with encoding/xml so every text
// is escaped by the encoder.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  atomAuthor  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomAuthor struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

type atomEntry struct {
	ID        string   `xml:"id"`
	Title     atomText `xml:"title"`
	Updated   string   `xml:"updated"`
	Published string   `xml:"published"`
	Link      atomLink `xml:"link"`
	Content   atomText `xml:"content"`
}

func atomTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// noticesFeed is the Atom feed of published notices in one language:
// ?lang=en, or Japanese. It sets no cookie, unlike the pages.
func (s *Server) noticesFeed(w http.ResponseWriter, r *http.Request) error {
	lang := kakunin.LocaleJA
	if l, ok := kakunin.ParseLocale(r.URL.Query().Get("lang")); ok {
		lang = l
	}
	ns, err := s.Notices.Published(r.Context())
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(s.PublicURL, "/")
	feed := atomFeed{
		ID:     "urn:kakunin:notices:" + string(lang),
		Title:  s.Brand.ServiceName() + " " + s.Pages.T(lang, "notices.feed_title"),
		Author: atomAuthor{Name: s.Brand.Name(), URI: s.Brand.ServiceURL},
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: base + "/notices.atom?lang=" + string(lang)},
			{Rel: "alternate", Type: "text/html", Href: base + "/notices?lang=" + string(lang)},
		},
		// An empty feed still needs a stable updated time.
		Updated: atomTime(time.Unix(0, 0)),
	}
	for i, n := range ns {
		v := noticeView(n, lang)
		body := n.BodyJA
		if lang == kakunin.LocaleEN {
			body = n.BodyEN
		}
		if i == 0 {
			feed.Updated = atomTime(n.UpdatedAt)
		}
		feed.Entries = append(feed.Entries, atomEntry{
			ID: "urn:kakunin:notice:" + n.ID, Title: atomText{Type: "text", Text: v.Title},
			Updated: atomTime(n.UpdatedAt), Published: atomTime(v.PublishedAt),
			Link:    atomLink{Rel: "alternate", Type: "text/html", Href: base + "/notices/" + n.ID + "?lang=" + string(lang)},
			Content: atomText{Type: "text", Text: body},
		})
	}
	out, err := xml.MarshalIndent(feed, "", "  ")
	if err != nil {
		return fmt.Errorf("notices feed: %w", err)
	}
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", publicNoticeCache)
	w.Write([]byte(xml.Header))
	w.Write(out)
	w.Write([]byte("\n"))
	return nil
}
