package web

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestRespondersPublishNoticesThePublicReadsInBothLanguages(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		ctx := t.Context()
		resp := c.signIn(kakunin.RoleResponder)

		if status, page := c.get(resp.token, "/console"); status != http.StatusOK || !strings.Contains(page, `href="/console/notices"`) {
			t.Fatalf("the responder's start page lacks notices: %d", status)
		}
		if status, _ := c.get("", "/notices"); status != http.StatusOK {
			t.Fatalf("empty public page: %d", status)
		}

		// An invalid form is refused and refilled.
		bad := url.Values{"title_ja": {"お知らせ"}, "title_en": {""}, "body_ja": {"本文"}, "body_en": {"Body"}}
		if rec := c.post(resp.token, "/console/notices", bad.Encode()); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "お知らせ") {
			t.Fatalf("invalid notice: %d", rec.Code)
		}

		form := url.Values{"title_ja": {"不正アクセスに関するお知らせ"}, "title_en": {"Notice of unauthorised access"},
			"body_ja": {"第一段落です。\r\n\r\n<script>alert(1)</script>"}, "body_en": {"First paragraph.\n\nSecond <b>paragraph</b>."}}
		rec := c.post(resp.token, "/console/notices", form.Encode())
		loc := rec.Header().Get("Location")
		if rec.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/notices/ntc_") {
			t.Fatalf("create: %d %s", rec.Code, loc)
		}
		editPath, _, _ := strings.Cut(loc, "?")
		id := strings.TrimPrefix(editPath, "/console/notices/")

		// The preview shows both languages, escaped, paragraphs apart.
		status, page := c.get(resp.token, loc)
		if status != http.StatusOK {
			t.Fatalf("edit page: %d", status)
		}
		for _, want := range []string{"不正アクセスに関するお知らせ", "Notice of unauthorised access", "<p>First paragraph.</p>",
			"<p>Second &lt;b&gt;paragraph&lt;/b&gt;.</p>", "&lt;script&gt;", `action="/console/notices/` + id + `/publish"`} {
			if !strings.Contains(page, want) {
				t.Errorf("edit page lacks %q", want)
			}
		}
		if strings.Contains(page, "<script>alert") {
			t.Error("the body reached the page as HTML")
		}
		if _, page := c.get(resp.token, "/console/notices"); !strings.Contains(page, `href="/console/notices/`+id+`"`) {
			t.Error("the list lacks the draft")
		}

		// A draft is a 404 exactly like an unknown ID (the language links
		// name the path asked for), and not in the feed.
		draft := c.do("", http.MethodGet, "/notices/"+id, nil)
		unknown := c.do("", http.MethodGet, "/notices/ntc_nope", nil)
		if draft.Code != http.StatusNotFound || strings.ReplaceAll(draft.Body.String(), id, "ntc_nope") != unknown.Body.String() ||
			draft.Header().Get("Cache-Control") != unknown.Header().Get("Cache-Control") {
			t.Fatalf("draft %d vs unknown %d differ", draft.Code, unknown.Code)
		}
		if f := c.feed("ja"); len(f.Entries) != 0 {
			t.Fatalf("the feed shows a draft: %+v", f)
		}

		published := c.now
		if rec := c.post(resp.token, "/console/notices/"+id+"/publish", ""); rec.Code != http.StatusSeeOther {
			t.Fatalf("publish: %d", rec.Code)
		}
		c.now = c.now.Add(10 * time.Minute)
		form.Set("title_en", "Notice of unauthorised access (updated)")
		if rec := c.post(resp.token, "/console/notices/"+id, form.Encode()); rec.Code != http.StatusSeeOther {
			t.Fatalf("update: %d", rec.Code)
		}

		// The public pages, in each language, with cache headers.
		for lang, want := range map[string]string{"ja": "不正アクセスに関するお知らせ", "en": "Notice of unauthorised access (updated)"} {
			for _, path := range []string{"/notices?lang=" + lang, "/notices/" + id + "?lang=" + lang} {
				rec := c.do("", http.MethodGet, path, nil)
				body := rec.Body.String()
				if rec.Code != http.StatusOK || !strings.Contains(body, want) || strings.Contains(body, "<script>alert") {
					t.Errorf("%s: %d, lacks %q", path, rec.Code, want)
				}
				// Choosing a language sets its cookie: such a response
				// must not be stored by a shared cache.
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store, private" || rec.Header().Get("Set-Cookie") == "" {
					t.Errorf("%s: Cache-Control %q with Set-Cookie %q", path, cc, rec.Header().Get("Set-Cookie"))
				}
				plain := c.do("", http.MethodGet, strings.Split(path, "?")[0], nil)
				if cc := plain.Header().Get("Cache-Control"); cc != "public, max-age=60" || plain.Header().Get("Set-Cookie") != "" {
					t.Errorf("%s without lang: Cache-Control %q", path, cc)
				}
			}
		}
		if rec := c.do("", http.MethodGet, "/notices?lang=en", nil); !strings.Contains(rec.Body.String(), "24 Nov 2026, 18:10 JST") {
			t.Errorf("the last update is not shown in JST")
		}
		if cc := c.do("", http.MethodGet, "/", nil).Header().Get("Cache-Control"); cc != "no-store, private" {
			t.Errorf("the default Cache-Control changed: %q", cc)
		}

		for lang, title := range map[string]string{"ja": "不正アクセスに関するお知らせ", "en": "Notice of unauthorised access (updated)"} {
			f := c.feed(lang)
			if len(f.Entries) != 1 {
				t.Fatalf("%s feed: %d entries", lang, len(f.Entries))
			}
			e := f.Entries[0]
			if e.ID != "urn:kakunin:notice:"+id || e.Title != title || e.Content.Type != "text" {
				t.Errorf("%s entry %+v", lang, e)
			}
			if e.Updated != c.now.UTC().Format(time.RFC3339) || e.Published != published.UTC().Format(time.RFC3339) || f.Updated != e.Updated {
				t.Errorf("%s times: updated %s published %s feed %s", lang, e.Updated, e.Published, f.Updated)
			}
			self := ""
			for _, l := range f.Links {
				if l.Rel == "self" {
					self = l.Href
				}
			}
			if self != "https://kakunin.example.jp/notices.atom?lang="+lang {
				t.Errorf("%s self link %q", lang, self)
			}
		}

		for action, want := range map[string]int{audit.NoticeCreated: 1, audit.NoticePublished: 1, audit.NoticeUpdated: 1} {
			evs, err := c.env.Audit.List(ctx, audit.Filter{Action: action})
			if err != nil || len(evs) != want {
				t.Fatalf("%s: %d events (%v)", action, len(evs), err)
			}
			if evs[0].Actor != audit.StaffActor(resp.staffID) || evs[0].Subject != id {
				t.Errorf("%s: %+v", action, evs[0])
			}
		}
	})
}

type testFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	Updated string   `xml:"updated"`
	Links   []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Entries []struct {
		ID        string `xml:"id"`
		Title     string `xml:"title"`
		Updated   string `xml:"updated"`
		Published string `xml:"published"`
		Content   struct {
			Type string `xml:"type,attr"`
			Text string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

// feed fetches and parses the Atom feed in lang, checking its headers.
func (c *testConsole) feed(lang string) testFeed {
	c.t.Helper()
	rec := c.do("", http.MethodGet, "/notices.atom?lang="+lang, nil)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/atom+xml; charset=utf-8" ||
		rec.Header().Get("Cache-Control") != "public, max-age=60" {
		c.t.Fatalf("feed: %d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))
	}
	var f testFeed
	if err := xml.Unmarshal(rec.Body.Bytes(), &f); err != nil {
		c.t.Fatalf("feed: %v", err)
	}
	return f
}
