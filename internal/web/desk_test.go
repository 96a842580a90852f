package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/inquiry"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func init() {
	routes := map[string]string{
		"GET /contact":                                    "public",
		"POST /contact":                                   "public",
		"GET /contact/t/{token}":                          "public",
		"POST /contact/t/{token}":                         "public",
		"GET /console/inquiries":                          "support,responder",
		"GET /console/inquiries/{id}":                     "support,responder",
		"POST /api/v1/members/{external_id}/inquiry-link": "api",
	}
	for _, a := range deskActions {
		routes["POST /console/inquiries/{id}/"+a] = "support,responder"
	}
	addAuthz(routes)
}

// newTestDesk is the test console's inquiry desk (see newTestConsole).
func newTestDesk(c *testConsole) *inquiry.Service {
	return &inquiry.Service{DB: c.env.DB, Keys: c.env.Vault, Jobs: c.env.Jobs, Audit: c.env.Audit, MailDomain: "kakunin.example.jp",
		PublicURL: c.srv.PublicURL, Now: func() time.Time { return c.now }, Log: c.srv.Log}
}

// contactForm is a valid /contact form from addr.
func contactForm(addr string) url.Values {
	return url.Values{"category": {"incident"}, "message": {"Was my licence in the breach?"}, "email": {addr}}
}

// Invariant 6 on /contact, first half: every answer is byte-identical for
// a member's address and for an address no account uses.
func TestTheContactFormAnswersAMemberAndAStrangerByteForByte(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		c.srv.Desk.Limits = inquiry.Limits{Client: 2, ClientWindow: time.Hour}
		const mClient, sClient = "198.51.100.1", "198.51.100.2"
		pair := func(name string, f func(client, addr string) *httptest.ResponseRecorder, wantStatus int) {
			t.Helper()
			a, b := f(mClient, c.memberAt), f(sClient, c.stranger)
			if a.Code != wantStatus {
				t.Errorf("%s: status %d, want %d", name, a.Code, wantStatus)
			}
			if diff := sameResponse(a, b); diff != "" {
				t.Errorf("%s: member and stranger answered differently: %s", name, diff)
			}
			for _, rec := range []*httptest.ResponseRecorder{a, b} {
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store, private" {
					t.Errorf("%s: Cache-Control %q", name, cc)
				}
				if strings.Contains(strings.ToLower(rec.Body.String()), "example.jp") {
					t.Errorf("%s: the page shows the typed address", name)
				}
			}
		}
		post := func(edit func(f url.Values)) func(client, addr string) *httptest.ResponseRecorder {
			return func(client, addr string) *httptest.ResponseRecorder {
				f := contactForm(addr)
				edit(f)
				return c.send(client, http.MethodPost, "/contact", f)
			}
		}
		same := func(url.Values) {}
		pair("GET", func(client, addr string) *httptest.ResponseRecorder {
			return c.send(client, http.MethodGet, "/contact?email="+url.QueryEscape(addr), nil)
		}, http.StatusOK)
		pair("GET en, incident preset", func(client, addr string) *httptest.ResponseRecorder {
			return c.send(client, http.MethodGet, "/contact?lang=en&category=incident", nil)
		}, http.StatusOK)
		pair("POST invalid address", post(func(f url.Values) { f.Set("email", "<"+f.Get("email")+">") }), http.StatusBadRequest)
		pair("POST no category", post(func(f url.Values) { f.Del("category") }), http.StatusBadRequest)
		pair("POST valid", post(same), http.StatusOK)
		pair("POST valid, other case", post(func(f url.Values) { f.Set("email", strings.ToUpper(f.Get("email"))) }), http.StatusOK)
		pair("POST over the client limit", post(same), http.StatusTooManyRequests)

		var n int
		for _, j := range c.env.Jobs.All() {
			if args, ok := j.Args.(inquiry.ContactArgs); ok {
				n++
				if strings.Contains(string(args.Address), "example.jp") || strings.Contains(string(args.Body), "licence") {
					t.Error("the job holds the address or the message in clear")
				}
			}
		}
		if n != 4 {
			t.Errorf("%d contact jobs, want 4", n)
		}
	})
}

// withContactFields adds a valid category and message to every POST
// /contact that carries only an address, so the /check timing test runs
// on the contact form as it is.
func withContactFields(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			f, _ := url.ParseQuery(string(b))
			f.Set("category", "incident")
			f.Set("message", "Was my licence in the breach?")
			r.Body = io.NopCloser(strings.NewReader(f.Encode()))
			r.ContentLength = -1
		}
		h.ServeHTTP(w, r)
	})
}

// Invariant 6 on /contact, second half: the /check timing test cannot
// tell a member's address from a stranger's.
func TestTheContactFormTakesTheSameTimeForAMemberAndAStranger(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test skipped under -short")
	}
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		c.srv.Desk.Limits = inquiry.Limits{Client: 1 << 30, ClientWindow: time.Hour}
		if c.timesDifferAt(t, withContactFields(c.h), "/contact") {
			t.Errorf("contact response times tell a member from a stranger in %d runs out of %d", timingRuns, timingRuns)
		}
	})
}

// deliverContacts runs every queued contact job and returns the mailed
// thread links by recipient.
func (c *checkFixture) deliverContacts(t *testing.T) map[string][]string {
	t.Helper()
	m := &recordingMailer{}
	for _, j := range c.env.Jobs.All() {
		if args, ok := j.Args.(inquiry.ContactArgs); ok {
			if _, err := c.srv.Desk.Deliver(context.Background(), m, args); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.env.Jobs.Reset()
	links := map[string][]string{}
	for _, msg := range m.msgs {
		i := strings.Index(msg.Text, c.srv.PublicURL+"/contact/t/")
		if i < 0 {
			t.Fatalf("no link in %q", msg.Text)
		}
		if !strings.Contains(msg.Text, "not read") && !strings.Contains(msg.Text, "読まれません") {
			t.Errorf("the mail does not say replies by e-mail are not read: %q", msg.Text)
		}
		links[msg.To[0]] = append(links[msg.To[0]], strings.TrimPrefix(strings.Fields(msg.Text[i:])[0], c.srv.PublicURL))
	}
	return links
}

// Each person's link shows their own thread and nothing of anyone else's;
// a guessed link, another thread's ID, a member session or a staff session
// of the wrong role see nothing, answered as an unknown link is.
func TestEveryThreadOpensOnlyWithItsOwnLink(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		c.addSecondMember(t)
		people := []string{"member.one@example.jp", "other.member@example.jp", "stranger@example.jp"}
		for i, addr := range people {
			f := url.Values{"category": {"other"}, "message": {"secret-of-person-" + string(rune('A'+i))}, "email": {addr}}
			if rec := c.send("198.51.100."+string(rune('1'+i)), http.MethodPost, "/contact", f); rec.Code != http.StatusOK {
				t.Fatalf("POST /contact: %d", rec.Code)
			}
		}
		links := c.deliverContacts(t)
		if len(links) != 3 {
			t.Fatalf("links mailed to %d addresses", len(links))
		}
		sessions := []string{"", c.signInMember(t, "ext-check"), c.signInMember(t, "ext-other")}
		for i, addr := range people {
			for _, session := range sessions {
				rec := c.memberReq(session, http.MethodGet, links[addr][0])
				if rec.Code != http.StatusOK || rec.Header().Get("Cache-Control") != "no-store, private" {
					t.Fatalf("%s's link: %d %q", addr, rec.Code, rec.Header().Get("Cache-Control"))
				}
				for j := range people {
					secret := "secret-of-person-" + string(rune('A'+j))
					if got := strings.Contains(rec.Body.String(), secret); got != (i == j) {
						t.Errorf("%s's link shows %s: %v", addr, secret, got)
					}
				}
			}
		}
		unknownPath := "/contact/t/" + auth.NewToken()
		unknown := c.memberReq("", http.MethodGet, unknownPath)
		// The page links to itself (the language switcher): compare with
		// the path taken out.
		unknownBody := strings.ReplaceAll(unknown.Body.String(), unknownPath, "")
		if unknown.Code != http.StatusNotFound || strings.Contains(unknown.Body.String(), "secret-of-person") {
			t.Fatalf("unknown link: %d", unknown.Code)
		}
		// A link with one character changed, a thread ID in the link's
		// place, and a link of the wrong length all answer as unknown.
		tok := strings.TrimPrefix(links[people[0]][0], "/contact/t/")
		flipped := []byte(tok)
		flipped[0] = map[bool]byte{true: 'B', false: 'A'}[flipped[0] == 'A']
		views, err := c.srv.Desk.Queue(context.Background(), inquiry.Categories, "", "", "")
		if err != nil || len(views) != 3 {
			t.Fatalf("queue: %d %v", len(views), err)
		}
		for _, p := range []string{"/contact/t/" + string(flipped), "/contact/t/" + views[0].ID, "/contact/t/" + tok + "x", "/contact/t/" + tok[:10]} {
			for _, session := range sessions {
				rec := c.memberReq(session, http.MethodGet, p)
				if rec.Code != unknown.Code || strings.ReplaceAll(rec.Body.String(), p, "") != unknownBody ||
					rec.Header().Get("Cache-Control") != unknown.Header().Get("Cache-Control") {
					t.Errorf("GET %s: not answered as an unknown link: %d", p, rec.Code)
				}
				if rec := c.memberReq(session, http.MethodPost, p); rec.Code != http.StatusNotFound {
					t.Errorf("POST %s: %d", p, rec.Code)
				}
			}
		}
		// A member session opens no thread in the console either.
		for _, v := range views {
			if rec := c.memberReq(sessions[1], http.MethodGet, "/console/inquiries/"+v.ID); rec.Code != http.StatusSeeOther || strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("a member session on the console thread: %d", rec.Code)
			}
		}
	})
}

// Hostile input: each is refused with its own clear message and a 400,
// and nothing is queued; HTML is shown as text.
func TestTheContactFormRefusesHostileInputClearly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		c.srv.Desk.Limits = inquiry.Limits{Client: 100, ClientWindow: time.Hour}
		cases := []struct {
			name string
			edit func(url.Values)
			want string // the English message shown
		}{
			{"oversize", func(f url.Values) { f.Set("message", strings.Repeat("あ", inquiry.MaxMessage/3+1)) }, "too long"},
			{"far oversize", func(f url.Values) { f.Set("message", strings.Repeat("x", 40*inquiry.MaxMessage)) }, "too long"},
			{"control characters", func(f url.Values) { f.Set("message", "hello\x1b[31m red") }, "control characters"},
			{"a zero byte", func(f url.Values) { f.Set("message", "hello\x00") }, "control characters"},
			{"empty", func(f url.Values) { f.Set("message", " \n ") }, "write your message"},
			{"header injection in the address", func(f url.Values) { f.Set("email", "a@example.jp\r\nBcc: victim@example.org") }, "one e-mail address"},
			{"two addresses", func(f url.Values) { f.Set("email", "a@example.jp, b@example.jp") }, "one e-mail address"},
			{"header injection in the category", func(f url.Values) { f.Set("category", "other\r\nBcc: x@example.org") }, "what your message is about"},
			{"unknown category", func(f url.Values) { f.Set("category", "<script>") }, "what your message is about"},
		}
		for _, tc := range cases {
			f := contactForm("someone@example.jp")
			tc.edit(f)
			rec := c.send("198.51.100.9", http.MethodPost, "/contact?lang=en", f)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%s: %d, page lacks %q", tc.name, rec.Code, tc.want)
			}
			if strings.Contains(rec.Body.String(), "<script>") || strings.Contains(rec.Body.String(), "Bcc:") && tc.name != "header injection in the category" {
				t.Errorf("%s: the page echoes the hostile input", tc.name)
			}
		}
		if n := len(c.env.Jobs.All()); n != 0 {
			t.Errorf("%d jobs queued for refused forms", n)
		}
		// HTML in an accepted message is shown as text in the thread.
		f := contactForm("html@example.jp")
		f.Set("message", `<img src=x onerror=alert(1)> & "quotes"`)
		if rec := c.send("198.51.100.9", http.MethodPost, "/contact", f); rec.Code != http.StatusOK {
			t.Fatalf("POST: %d", rec.Code)
		}
		link := c.deliverContacts(t)["html@example.jp"][0]
		rec := c.memberReq("", http.MethodGet, link)
		if strings.Contains(rec.Body.String(), "<img src=x") || !strings.Contains(rec.Body.String(), "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("the message's HTML was not shown as text")
		}
	})
}

// The whole desk: the person writes, support takes and replies (a mail
// with a stable Message-ID answering the thread's first mail), notes stay
// internal, the person answers through the link, the responder sees only
// incident threads, merge and close/reopen work, and every action is
// audited.
func TestSupportWorksTheQueueAndThePersonSeesOnlyReplies(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		ctx := context.Background()
		for _, f := range []url.Values{
			{"category": {"verification"}, "message": {"My upload failed."}, "email": {"p1@example.jp"}},
			{"category": {"incident"}, "message": {"Was I affected?"}, "email": {"p2@example.jp"}},
		} {
			if rec := c.send("198.51.100.7", http.MethodPost, "/contact", f); rec.Code != http.StatusOK {
				t.Fatalf("POST: %d", rec.Code)
			}
		}
		links := c.deliverContacts(t)
		support, responder := c.signIn(kakunin.RoleSupport), c.signIn(kakunin.RoleResponder)
		_, page := c.get(support.token, "/console/inquiries")
		_, rpage := c.get(responder.token, "/console/inquiries")
		views, _ := c.srv.Desk.Queue(ctx, inquiry.Categories, "", "", "")
		var verif, incid string
		for _, v := range views {
			if v.Category == "verification" {
				verif = v.ID
			} else {
				incid = v.ID
			}
		}
		if !strings.Contains(page, verif) || !strings.Contains(page, incid) {
			t.Fatal("support's queue lacks a thread")
		}
		if strings.Contains(rpage, verif) || !strings.Contains(rpage, incid) {
			t.Error("the responder's queue is not the incident threads only")
		}
		if code, _ := c.get(responder.token, "/console/inquiries/"+verif); code != http.StatusNotFound {
			t.Errorf("a responder opened a verification thread: %d", code)
		}
		if _, p := c.get(support.token, "/console/inquiries?category=incident"); strings.Contains(p, verif) {
			t.Error("the category filter let another category through")
		}
		act := func(token, id, action, form string) {
			t.Helper()
			if rec := c.post(token, "/console/inquiries/"+id+"/"+action, form); rec.Code != http.StatusSeeOther {
				t.Fatalf("%s: %d %s", action, rec.Code, rec.Body)
			}
		}
		act(support.token, verif, "take", "")
		act(support.token, verif, "note", "message=internal-note-text")
		act(support.token, verif, "reply", "message="+url.QueryEscape("Please try again with a sharper photo."))
		var reply *inquiry.ReplyArgs
		for _, j := range c.env.Jobs.All() {
			if a, ok := j.Args.(inquiry.ReplyArgs); ok {
				reply = &a
			}
		}
		if reply == nil {
			t.Fatal("no reply mail queued")
		}
		m := &recordingMailer{}
		if err := c.srv.Desk.DeliverReply(ctx, m, *reply); err != nil {
			t.Fatal(err)
		}
		if len(m.msgs) != 1 || m.msgs[0].To[0] != "p1@example.jp" || !strings.Contains(m.msgs[0].Text, "sharper photo") ||
			m.msgs[0].Headers["In-Reply-To"] != "<inquiry."+verif+"@kakunin.example.jp>" || m.msgs[0].ID != "inquiry."+reply.MessageID {
			t.Errorf("reply mail: %+v", m.msgs)
		}
		if strings.Contains(m.msgs[0].Text, "internal-note") {
			t.Error("the note went out in the mail")
		}
		rec := c.memberReq("", http.MethodGet, links["p1@example.jp"][0])
		body := rec.Body.String()
		if !strings.Contains(body, "sharper photo") || strings.Contains(body, "internal-note") || strings.Contains(body, support.staffID) {
			t.Error("the person's page shows the note or the staff ID, or lacks the reply")
		}
		// The person answers through the link: the thread is open again.
		prec := c.memberReq("", http.MethodPost, links["p1@example.jp"][0]+"?x")
		if prec.Code != http.StatusNotFound && prec.Code != http.StatusBadRequest {
			t.Errorf("a reply without a message: %d", prec.Code)
		}
		if err := c.srv.Desk.PersonReply(ctx, strings.TrimPrefix(links["p1@example.jp"][0], "/contact/t/"), "Done, thanks."); err != nil {
			t.Fatal(err)
		}
		if v, _ := c.srv.Desk.Thread(ctx, inquiry.Categories, verif); v.Status != inquiry.StatusOpen || v.AnswerBy == nil {
			t.Errorf("after the person's reply: %s, answer by %v", v.Status, v.AnswerBy)
		}
		act(support.token, incid, "merge", "into="+verif)
		act(support.token, verif, "category", "category=my_data")
		act(support.token, verif, "close", "")
		act(support.token, verif, "reopen", "")
		// The merged thread's link opens the thread it went into.
		if body := c.memberReq("", http.MethodGet, links["p2@example.jp"][0]).Body.String(); !strings.Contains(body, "Was I affected?") {
			t.Error("the merged thread's link lost its message")
		}
		events, err := c.env.DB.AuditRecords(ctx, 0, 1<<62, 10000)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, e := range events {
			seen[e.Action]++
		}
		for _, a := range []string{audit.InquiryReceived, audit.InquiryOpened, audit.InquiryLinkIssued, audit.InquiryTaken, audit.InquiryNoted,
			audit.InquiryReplied, audit.InquiryPersonReplied, audit.InquiryMerged, audit.InquiryRecategorised, audit.InquiryClosed, audit.InquiryReopened} {
			if seen[a] == 0 {
				t.Errorf("no %s event", a)
			}
		}
	})
}

// The host opens a thread for its signed-in member: 201 with the link.
func TestTheHostGetsAnInquiryLink(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		_, key, err := auth.CreateAPIKey(t.Context(), c.env.DB, "host", c.now)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, "/api/v1/members/ext-check/inquiry-link", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var out struct {
			URL       string    `json:"url"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		if !out.ExpiresAt.Equal(c.now.Add(inquiry.DefaultLinkTTL)) || !strings.HasPrefix(out.URL, "https://kakunin.example.jp/contact/t/") {
			t.Errorf("link = %+v", out)
		}
		path := strings.TrimPrefix(out.URL, c.srv.PublicURL)
		if rec := c.memberReq("", http.MethodPost, path); rec.Code != http.StatusBadRequest {
			t.Errorf("an empty message: %d", rec.Code)
		}
		if err := c.srv.Desk.PersonReply(context.Background(), strings.TrimPrefix(path, "/contact/t/"), "hello from the member"); err != nil {
			t.Fatal(err)
		}
		if body := c.memberReq("", http.MethodGet, path).Body.String(); !strings.Contains(body, "hello from the member") {
			t.Error("the member's message is not in their thread")
		}
	})
}

// The incident page counts the incident questions the desk drew since the
// discovery, and how many are overdue.
func TestTheIncidentPageCountsItsInquiriesAndTheOverdueOnes(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		for i, cat := range []string{"incident", "incident", "other"} {
			f := url.Values{"category": {cat}, "message": {"question"}, "email": {fmt.Sprintf("q%d@example.jp", i)}}
			if rec := c.send("198.51.100.8", http.MethodPost, "/contact", f); rec.Code != http.StatusOK {
				t.Fatalf("POST: %d", rec.Code)
			}
		}
		c.deliverContacts(t)
		rows, err := c.srv.Incidents.Desk(context.Background())
		if err != nil || len(rows) != 1 {
			t.Fatalf("incidents: %v", err)
		}
		responder := c.signIn(kakunin.RoleResponder)
		page := func() string {
			code, body := c.get(responder.token, "/console/incidents/"+rows[0].Incident.ID)
			if code != http.StatusOK {
				t.Fatalf("incident page: %d", code)
			}
			return body
		}
		if body := page(); !strings.Contains(body, "since discovery: 2, of which overdue: 0") && !strings.Contains(body, "問い合わせ: 2件（うち期限超過 0件）") {
			t.Errorf("before the targets: %s", body[strings.Index(body, "<main"):])
		}
		c.now = c.now.Add(3 * 24 * time.Hour)
		responder = c.signIn(kakunin.RoleResponder) // the first session timed out meanwhile
		if body := page(); !strings.Contains(body, "since discovery: 2, of which overdue: 2") && !strings.Contains(body, "問い合わせ: 2件（うち期限超過 2件）") {
			t.Error("the overdue inquiries are not counted")
		}
	})
}
