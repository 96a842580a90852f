package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/mail"
	"github.com/kakunin/kakunin/internal/portal"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/verification"
)

func init() {
	addAuthz(map[string]string{
		"GET /signin":               "public",
		"POST /signin":              "public",
		"GET /signin/{token}":       "public",
		"POST /signin/{token}/open": "public",
		"POST /signin/{token}":      "public",
		"POST /signout":             "public",
		"GET /me":                   "public",
		"GET /me/{key}":             "member",
		"POST /me/{key}/export":     "member",
		"POST /api/v1/members/{external_id}/portal-link": "api",
	})
}

// newTestPortal is the test console's portal (see newTestConsole).
func newTestPortal(c *testConsole) *portal.Service {
	return &portal.Service{DB: c.env.DB, Keys: c.env.Vault, Jobs: c.env.Jobs, Audit: c.env.Audit,
		PublicURL: c.srv.PublicURL, Now: func() time.Time { return c.now }, Log: c.srv.Log}
}

// memberReq sends a request with a member session cookie (none if "").
// With a session, "/me" and "/me/export" are that session's own pages
// (/me/{key}, memberHome).
func (c *checkFixture) memberReq(session, method, path string) *httptest.ResponseRecorder {
	if rest, ok := strings.CutPrefix(path, "/me"); ok && session != "" && (rest == "" || rest == "/export") {
		path = memberHome(session) + rest
	}
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.RemoteAddr = "198.51.100.50:40000"
	if session != "" {
		req.AddCookie(&http.Cookie{Name: "kakunin_member", Value: session})
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

// signInMember asks for a hand-off link for externalID and spends it,
// returning the member's session token.
func (c *checkFixture) signInMember(t *testing.T, externalID string) string {
	t.Helper()
	l, err := c.srv.Portal.HandoffLink(context.Background(), externalID)
	if err != nil {
		t.Fatal(err)
	}
	return c.spend(t, l.URL)
}

// spend opens a sign-in link (GET, then the button's POST) and returns
// the session cookie it set.
func (c *checkFixture) spend(t *testing.T, link string) string {
	t.Helper()
	path := strings.TrimPrefix(link, c.srv.PublicURL)
	if rec := c.memberReq("", http.MethodGet, path); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `action="`+path+`/open"`) {
		t.Fatalf("GET %s: %d", path, rec.Code)
	}
	rec := c.memberReq("", http.MethodPost, path+"/open")
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/me/") {
		t.Fatalf("POST link: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "kakunin_member" && ck.Value != "" {
			if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
				t.Errorf("member cookie %+v", ck)
			}
			return ck.Value
		}
	}
	t.Fatal("no member cookie")
	return ""
}

// addSecondMember registers a member with a document of their own.
func (c *checkFixture) addSecondMember(t *testing.T) (*kakunin.Member, string) {
	t.Helper()
	ctx := context.Background()
	m, _, err := c.env.Verifications.UpsertMember(ctx, "ext-other", "other.member@example.jp", kakunin.LocaleJA)
	if err != nil {
		t.Fatal(err)
	}
	at := c.now.Add(-3 * 24 * time.Hour)
	v := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: m.ID, Status: kakunin.StatusSubmitted,
		ExpiresAt: at.Add(24 * time.Hour), CreatedAt: at, UpdatedAt: at}
	if err := c.env.DB.InsertVerification(ctx, v); err != nil {
		t.Fatal(err)
	}
	d := &store.DocumentRecord{BlobKey: "documents/" + v.ID}
	d.ID, d.VerificationID, d.MemberID, d.Type = kakunin.NewID("doc"), v.ID, m.ID, kakunin.DocPassport
	d.ContentType, d.Size, d.Width, d.Height, d.Epoch = "image/jpeg", 1000, 640, 480, at.Format(time.DateOnly)
	d.WrappedKey, d.ReceivedAt, d.DestroyAfter = []byte("wrapped"), at, at.Add(7*24*time.Hour)
	if _, err := c.env.DB.NoteEpoch(ctx, d.Epoch, at.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := c.env.DB.InsertDocument(ctx, d); err != nil {
		t.Fatal(err)
	}
	return m, d.ID
}

// Invariant 6 on /signin, first half: every answer is byte-identical for
// a member's address and for an address no account uses.
func TestTheSigninFormAnswersAMemberAndAStrangerByteForByte(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		c.srv.Portal.Limits = portal.Limits{Client: 2, ClientWindow: time.Hour}
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
			if strings.Contains(strings.ToLower(a.Body.String()), "example.jp") {
				t.Errorf("%s: the page shows the typed address", name)
			}
		}
		post := func(value func(string) string) func(client, addr string) *httptest.ResponseRecorder {
			return func(client, addr string) *httptest.ResponseRecorder {
				return c.send(client, http.MethodPost, "/signin", url.Values{"email": {value(addr)}})
			}
		}
		same := func(a string) string { return a }
		pair("GET", func(client, addr string) *httptest.ResponseRecorder {
			return c.send(client, http.MethodGet, "/signin?email="+url.QueryEscape(addr), nil)
		}, http.StatusOK)
		pair("GET en", func(client, addr string) *httptest.ResponseRecorder {
			return c.send(client, http.MethodGet, "/signin?lang=en", nil)
		}, http.StatusOK)
		pair("POST invalid", post(func(a string) string { return "<" + a + ">" }), http.StatusBadRequest)
		pair("POST valid", post(same), http.StatusOK)
		pair("POST valid, other case", post(strings.ToUpper), http.StatusOK)
		pair("POST over the client limit", post(same), http.StatusTooManyRequests)

		var n int
		for _, j := range c.env.Jobs.All() {
			if _, ok := j.Args.(portal.SigninArgs); ok {
				n++
			}
		}
		if n != 4 {
			t.Errorf("%d sign-in jobs, want 4", n)
		}
	})
}

// Invariant 6 on /signin, second half: the /check timing test, run on the
// sign-in form, cannot tell a member's address from a stranger's.
func TestTheSigninFormTakesTheSameTimeForAMemberAndAStranger(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test skipped under -short")
	}
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		c.srv.Portal.Limits = portal.Limits{Client: 1 << 30, ClientWindow: time.Hour}
		if c.timesDifferAt(t, c.h, "/signin") {
			t.Errorf("sign-in response times tell a member from a stranger in %d runs out of %d", timingRuns, timingRuns)
		}
	})
}

// The timing test can fail on /signin too: the same handler with a member
// look-up (and the page it would build) on the request path is told apart.
func TestTheSigninTimingTestCatchesALookUpOnTheRequestPath(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test skipped under -short")
	}
	c := newCheckFixture(t, storetest.SQLiteDSN(t)) // SQLite suffices to show it can fail
	c.srv.Portal.Limits = portal.Limits{Client: 1 << 30, ClientWindow: time.Hour}
	leaky := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if addr, ok := exposure.ValidAddress(r.PostFormValue("email")); ok {
			members, err := c.env.DB.ActiveMembersByEmailIndex(r.Context(), verification.EmailIndex(c.env.Vault, addr))
			if err != nil {
				t.Error(err)
			}
			for _, m := range members {
				if _, err := c.srv.Portal.MemberView(r.Context(), m.ID, kakunin.LocaleEN, false); err != nil {
					t.Error(err)
				}
			}
		}
		c.h.ServeHTTP(w, r)
	})
	if !c.timesDifferAt(t, leaky, "/signin") {
		t.Error("a member look-up on the /signin request path went unnoticed by the timing test")
	}
}

// The job, not the request, finds the member: it mails a working link to
// the registered address in the member's language, and nothing for a
// stranger; a second request revokes the first link.
func TestTheSigninJobMailsAOneTimeLinkToTheRegisteredAddressOnly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		m := &recordingMailer{}
		var logs strings.Builder
		c.srv.Portal.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "request" {
				return slog.Attr{} // the request's ID differs by design
			}
			return a
		}}))
		for _, addr := range []string{c.stranger, "  " + strings.ToUpper(c.memberAt), c.memberAt} {
			if rec := c.send("198.51.100.3", http.MethodPost, "/signin", url.Values{"email": {addr}}); rec.Code != http.StatusOK {
				t.Fatalf("POST /signin: %d", rec.Code)
			}
		}
		var outcomes []portal.Outcome
		for _, j := range c.env.Jobs.All() {
			args, ok := j.Args.(portal.SigninArgs)
			if !ok {
				continue
			}
			if strings.Contains(string(args.Address), "example.jp") {
				t.Error("the job holds the typed address in clear")
			}
			out, err := c.srv.Portal.Deliver(context.Background(), m, args)
			if err != nil {
				t.Fatal(err)
			}
			outcomes = append(outcomes, out)
		}
		if len(outcomes) != 3 || outcomes[0] != portal.OutcomeNothing || outcomes[1] != portal.OutcomeMailed || outcomes[2] != portal.OutcomeMailed {
			t.Fatalf("outcomes %v", outcomes)
		}
		if len(m.msgs) != 2 {
			t.Fatalf("%d mails", len(m.msgs))
		}
		// The log says the same for the stranger's request as for the
		// member's: it is no oracle either.
		if lines := strings.Split(strings.TrimSpace(logs.String()), "\n"); len(lines) != 3 || lines[0] != lines[1] || lines[1] != lines[2] {
			t.Errorf("log lines differ by outcome:\n%s", logs.String())
		}
		if strings.Contains(strings.ToLower(logs.String()), "example.jp") {
			t.Error("the log names an address")
		}
		for _, msg := range m.msgs {
			if len(msg.To) != 1 || msg.To[0] != "Member.One@example.jp" || msg.Subject != "Your sign-in link" {
				t.Errorf("mail to %v, subject %q", msg.To, msg.Subject)
			}
		}
		link := func(msg mail.Message) string {
			i := strings.Index(msg.Text, c.srv.PublicURL+"/signin/")
			if i < 0 {
				t.Fatalf("no link in %q", msg.Text)
			}
			return strings.Fields(msg.Text[i:])[0]
		}
		first, second := link(m.msgs[0]), link(m.msgs[1])
		if rec := c.memberReq("", http.MethodPost, strings.TrimPrefix(first, c.srv.PublicURL)); rec.Code != http.StatusNotFound {
			t.Errorf("the revoked first link: %d", rec.Code)
		}
		session := c.spend(t, second)
		if rec := c.memberReq(session, http.MethodGet, "/me"); rec.Code != http.StatusOK {
			t.Errorf("/me: %d", rec.Code)
		}
	})
}

// A link works once, for its member only, and not after it expires or is
// replaced; every unusable link gets the same page.
func TestASigninLinkWorksOnceAndNotAfterItExpiresOrIsReplaced(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		ctx := context.Background()
		l, err := c.srv.Portal.HandoffLink(ctx, "ext-check")
		if err != nil {
			t.Fatal(err)
		}
		c.spend(t, l.URL)
		// Each page names its own URL (the language links): compare the
		// pages with the token taken out.
		type answer struct {
			rec  *httptest.ResponseRecorder
			path string
		}
		open := func(method, link string) answer {
			path := strings.TrimPrefix(link, c.srv.PublicURL)
			return answer{c.memberReq("", method, path), path}
		}
		norm := func(a answer) string { return strings.ReplaceAll(a.rec.Body.String(), a.path, "/signin/T") }
		used := open(http.MethodPost, l.URL)
		if used.rec.Code != http.StatusNotFound {
			t.Errorf("used link: %d", used.rec.Code)
		}
		expiring, _ := c.srv.Portal.HandoffLink(ctx, "ext-check")
		c.now = c.now.Add(portal.DefaultLinkTTL)
		expired := open(http.MethodPost, expiring.URL)
		expiredGet := open(http.MethodGet, expiring.URL)
		old, _ := c.srv.Portal.HandoffLink(ctx, "ext-check")
		if _, err := c.srv.Portal.HandoffLink(ctx, "ext-check"); err != nil {
			t.Fatal(err)
		}
		revoked := open(http.MethodPost, old.URL)
		revokedGet := open(http.MethodGet, old.URL)
		forged := open(http.MethodPost, "/signin/"+strings.Repeat("A", 43))
		for name, a := range map[string]answer{"expired": expired, "expired GET": expiredGet, "revoked": revoked, "revoked GET": revokedGet, "forged": forged} {
			if a.rec.Code != used.rec.Code || norm(a) != norm(used) {
				t.Errorf("%s link answered unlike a used one: %d", name, a.rec.Code)
			}
			for _, ck := range a.rec.Result().Cookies() {
				if ck.Name == "kakunin_member" {
					t.Errorf("%s link set a session cookie", name)
				}
			}
		}
	})
}

// The portal shows only the signed-in member's own data: each of A's and
// B's pages, with the other's session, with a staff session and with none.
func TestThePortalShowsOnlyTheSignedInMembersOwnData(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		b, bDoc := c.addSecondMember(t)
		aDocs, err := c.env.DB.DocumentsOfMember(context.Background(), c.member.ID)
		if err != nil || len(aDocs) != 1 {
			t.Fatal(aDocs, err)
		}
		aDoc := aDocs[0].ID
		aSession, bSession := c.signInMember(t, "ext-check"), c.signInMember(t, "ext-other")
		staff := c.signIn(kakunin.RoleSupport)

		for _, route := range []struct{ method, path string }{{http.MethodGet, "/me"}, {http.MethodPost, "/me/export"}} {
			own := map[string]struct{ session, id, doc, otherID, otherDoc, email string }{
				"A": {aSession, c.member.ID, aDoc, b.ID, bDoc, "Member.One@example.jp"},
				"B": {bSession, b.ID, bDoc, c.member.ID, aDoc, "other.member@example.jp"},
			}
			for who, w := range own {
				rec := c.memberReq(w.session, route.method, route.path)
				body := rec.Body.String()
				if rec.Code != http.StatusOK {
					t.Fatalf("%s %s as %s: %d", route.method, route.path, who, rec.Code)
				}
				if !strings.Contains(body, w.doc) || !strings.Contains(body, w.email) {
					t.Errorf("%s %s as %s lacks their own data", route.method, route.path, who)
				}
				if strings.Contains(body, w.otherDoc) || strings.Contains(body, w.otherID) {
					t.Errorf("%s %s as %s shows the other member's data", route.method, route.path, who)
				}
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store, private" {
					t.Errorf("%s: Cache-Control %q", route.path, cc)
				}
				if v := rec.Header().Get("Vary"); !strings.Contains(v, "Cookie") {
					t.Errorf("%s: Vary %q", route.path, v)
				}
			}
			// No member session: anonymous, a staff session in the member
			// cookie and in its own, a made-up token.
			for name, send := range map[string]func() *httptest.ResponseRecorder{
				"anonymous":   func() *httptest.ResponseRecorder { return c.memberReq("", route.method, route.path) },
				"staff token": func() *httptest.ResponseRecorder { return c.memberReq(staff.token, route.method, route.path) },
				"made-up token": func() *httptest.ResponseRecorder {
					return c.memberReq(strings.Repeat("x", 43), route.method, route.path)
				},
				"staff session": func() *httptest.ResponseRecorder {
					return c.do(staff.token, route.method, route.path, nil)
				},
				// B's own session at A's page address (invariant 7: the
				// address is A's, the cookie must be too).
				"B's session at A's page": func() *httptest.ResponseRecorder {
					req := httptest.NewRequest(route.method, strings.Replace(route.path, "/me", memberHome(aSession), 1), nil)
					req.Header.Set("Sec-Fetch-Site", "same-origin")
					req.AddCookie(&http.Cookie{Name: "kakunin_member", Value: bSession})
					rec := httptest.NewRecorder()
					c.h.ServeHTTP(rec, req)
					return rec
				},
			} {
				rec := send()
				body := rec.Body.String()
				if rec.Code == http.StatusOK || strings.Contains(body, aDoc) || strings.Contains(body, bDoc) {
					t.Errorf("%s %s as %s: %d", route.method, route.path, name, rec.Code)
				}
			}
		}
	})
}

// The page is in the member's own language, and a member who left (the
// host's DELETE) is signed out at once.
func TestThePortalSpeaksTheMembersLanguageAndEndsWhenTheMemberLeaves(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		c.addSecondMember(t)
		en, ja := c.signInMember(t, "ext-check"), c.signInMember(t, "ext-other")
		body := c.memberReq(en, http.MethodGet, "/me").Body.String()
		if !strings.Contains(body, "<h1>Your data</h1>") {
			t.Error("the English member's page is not in English")
		}
		// The incident reached A's licence: said with the month in words.
		if !strings.Contains(body, "(submitted in November 2026)") {
			t.Errorf("the incident's document is not shown with its month:\n%s", body)
		}
		if body := c.memberReq(ja, http.MethodGet, "/me").Body.String(); !strings.Contains(body, "<h1>あなたのデータ</h1>") {
			t.Error("the Japanese member's page is not in Japanese")
		}
		pending, err := c.srv.Portal.HandoffLink(context.Background(), "ext-check")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.env.Verifications.MemberLeft(context.Background(), "ext-check"); err != nil {
			t.Fatal(err)
		}
		if rec := c.memberReq(en, http.MethodGet, "/me"); rec.Code != http.StatusSeeOther {
			t.Errorf("a member who left still sees /me: %d", rec.Code)
		}
		if rec := c.memberReq("", http.MethodPost, strings.TrimPrefix(pending.URL, c.srv.PublicURL)); rec.Code != http.StatusNotFound {
			t.Errorf("a link issued before the member left still signs in: %d", rec.Code)
		}
	})
}

// The export is a versioned JSON file of the page's data, never an image,
// each image's fate said instead; it is audited.
func TestTheExportIsVersionedJSONWithoutImagesAndAudited(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		session := c.signInMember(t, "ext-check")
		rec := c.memberReq(session, http.MethodPost, "/me/export")
		if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Disposition"), "attachment;") {
			t.Fatalf("export: %d %q", rec.Code, rec.Header().Get("Content-Disposition"))
		}
		var v portal.View
		dec := json.NewDecoder(rec.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if v.Format != "kakunin-member-export" || v.Version != 1 || v.Member.ID != c.member.ID {
			t.Errorf("header: %+v", v)
		}
		if len(v.Documents) != 1 || v.Documents[0].Image.Exported || v.Documents[0].Image.State != "held" || v.Documents[0].Image.DestroyBy == nil {
			t.Errorf("documents: %+v", v.Documents)
		}
		if len(v.Incidents) != 1 || len(v.Incidents[0].Documents) != 1 {
			t.Errorf("incidents: %+v", v.Incidents)
		}
		evs, err := c.env.Audit.List(context.Background(), audit.Filter{Action: audit.PortalExported})
		if err != nil || len(evs) != 1 || evs[0].Subject != c.member.ID {
			t.Errorf("audit: %+v %v", evs, err)
		}
	})
}

// A member session times out when idle and ends everywhere on sign-out.
func TestAMemberSessionTimesOutAndSignOutEndsEverySession(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		idle := c.signInMember(t, "ext-check")
		c.now = c.now.Add(portal.DefaultIdleTimeout)
		if rec := c.memberReq(idle, http.MethodGet, "/me"); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/signin" {
			t.Errorf("idle session: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		// Kept busy, a session still ends at its full age.
		busy := c.signInMember(t, "ext-check")
		for elapsed := time.Duration(0); elapsed+10*time.Minute < portal.DefaultMaxSession; elapsed += 10 * time.Minute {
			c.now = c.now.Add(10 * time.Minute)
			if rec := c.memberReq(busy, http.MethodGet, "/me"); rec.Code != http.StatusOK {
				t.Fatalf("busy session after %v: %d", elapsed, rec.Code)
			}
		}
		c.now = c.now.Add(10 * time.Minute)
		if rec := c.memberReq(busy, http.MethodGet, "/me"); rec.Code != http.StatusSeeOther {
			t.Errorf("a session past its full age: %d", rec.Code)
		}
		one, two := c.signInMember(t, "ext-check"), c.signInMember(t, "ext-check")
		if rec := c.memberReq(one, http.MethodPost, "/signout"); rec.Code != http.StatusOK {
			t.Fatalf("sign-out: %d", rec.Code)
		}
		if rec := c.memberReq(two, http.MethodGet, "/me"); rec.Code != http.StatusSeeOther {
			t.Errorf("the other session after sign-out: %d", rec.Code)
		}
	})
}

// The host hands a member in: 201 with a one-time link; unknown and left
// members are refused; the issue is audited as the API key.
func TestTheHostGetsAOneTimePortalLink(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		_, key, err := auth.CreateAPIKey(t.Context(), c.env.DB, "host", c.now)
		if err != nil {
			t.Fatal(err)
		}
		call := func(ext, bearer string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/members/"+ext+"/portal-link", nil)
			if bearer != "" {
				req.Header.Set("Authorization", "Bearer "+bearer)
			}
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			return rec
		}
		rec := call("ext-check", key)
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
		if !out.ExpiresAt.Equal(c.now.Add(portal.DefaultLinkTTL)) || !strings.HasPrefix(out.URL, "https://kakunin.example.jp/signin/") {
			t.Errorf("link = %+v", out)
		}
		c.spend(t, out.URL)
		if rec := call("ext-nobody", key); rec.Code != http.StatusNotFound {
			t.Errorf("unknown member: %d", rec.Code)
		}
		if rec := call("ext-check", ""); rec.Code != http.StatusUnauthorized {
			t.Errorf("no key: %d", rec.Code)
		}
		if err := c.env.Verifications.MemberLeft(context.Background(), "ext-check"); err != nil {
			t.Fatal(err)
		}
		if rec := call("ext-check", key); rec.Code != http.StatusConflict {
			t.Errorf("a member who left: %d", rec.Code)
		}
		evs, err := c.env.Audit.List(context.Background(), audit.Filter{Action: audit.PortalLinkIssued})
		if err != nil || len(evs) != 1 || !strings.HasPrefix(evs[0].Actor, "apikey:") {
			t.Errorf("audit: %+v %v", evs, err)
		}
	})
}
