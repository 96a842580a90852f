package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/publicnotice"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// testConsole is a Server over real services and a real database, with a
// clock the test moves.
type testConsole struct {
	t     *testing.T
	env   *servicetest.Env
	srv   *Server
	h     http.Handler
	staff *auth.Staff
	now   time.Time
}

func newTestConsole(t *testing.T, dsn string) *testConsole {
	t.Helper()
	c := &testConsole{t: t, env: servicetest.New(t, dsn, servicetest.Options{Queue: true}), now: servicetest.Start}
	renderer, err := pages.New()
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return c.now }
	c.env.Clock.Set(c.now)
	c.staff = auth.NewStaff(c.env.DB, c.env.Vault, c.env.Audit)
	c.staff.Now = clock
	c.staff.PasswordCost = cheapPasswordCost
	c.srv = &Server{APIKeys: &auth.APIKeys{DB: c.env.DB}, Verifications: c.env.Verifications, Documents: c.env.Documents, Review: c.env.Review,
		Notices: &publicnotice.Service{DB: c.env.DB, Audit: c.env.Audit, Now: clock}, PublicURL: "https://kakunin.example.jp",
		Staff: c.staff, Audit: c.env.Audit, Pages: renderer, Now: clock, MaxUploadBytes: 1 << 20,
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		OriginOf: func(ip string) string { return "origin-of-" + ip }, Signer: c.env.Vault}
	c.srv.Exposure = newTestExposure(c)   // check_test.go
	c.srv.Incidents = newTestIncidents(c) // incidents_test.go
	c.srv.MassMail = newTestMassMail(c)   // notification_test.go
	c.srv.Portal = newTestPortal(c)       // portal_test.go
	c.srv.Desk = newTestDesk(c)           // desk_test.go
	c.h = c.srv.Handler()
	return c
}

// cheapPasswordCost keeps each test account from costing argon2id's
// production 64 MiB and a tenth of a second (auth tests that the default is
// the production cost).
var cheapPasswordCost = auth.PasswordCost{Time: 1, MemoryKiB: 64, Threads: 1}

// signedIn is a console session of a new staff account.
type signedIn struct {
	token, staffID, email, secret string
}

// signIn creates a staff account of role and signs it in, the second factor
// proved at c.now.
func (c *testConsole) signIn(role kakunin.Role) signedIn {
	c.t.Helper()
	ctx := context.Background()
	acct, err := c.staff.Add(ctx, string(role)+"-"+kakunin.NewID("x")+"@example.jp", role)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.env.DB.SetStaffPassword(ctx, acct.Staff.ID, cheapPasswordCost.Hash("a long enough password"), false); err != nil {
		c.t.Fatal(err)
	}
	half, err := c.staff.Login(ctx, acct.Staff.Email, "a long enough password")
	if err != nil {
		c.t.Fatal(err)
	}
	code, _ := auth.CurrentTOTP(acct.Secret, c.now)
	token, err := c.staff.VerifyTOTP(ctx, half, code)
	if err != nil {
		c.t.Fatalf("%s: %v", role, err)
	}
	return signedIn{token: token, staffID: acct.Staff.ID, email: acct.Staff.Email, secret: acct.Secret}
}

// nextTOTP moves the clock to the next 30-second step and returns the
// code of that step: a step's code is accepted once.
func (c *testConsole) nextTOTP(s signedIn) string {
	c.t.Helper()
	c.now = c.now.Add(30 * time.Second)
	c.env.Clock.Set(c.now)
	code, err := auth.CurrentTOTP(s.secret, c.now)
	if err != nil {
		c.t.Fatal(err)
	}
	return code
}

// do sends a request as the session token (none if "") from 192.0.2.1.
func (c *testConsole) do(token, method, path string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, body)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if method == http.MethodPost && body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "kakunin_session", Value: token})
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

func (c *testConsole) get(token, path string) (int, string) {
	rec := c.do(token, http.MethodGet, path, nil)
	if loc := rec.Header().Get("Location"); loc != "" {
		return rec.Code, loc
	}
	return rec.Code, rec.Body.String()
}

func (c *testConsole) post(token, path, form string) *httptest.ResponseRecorder {
	return c.do(token, http.MethodPost, path, strings.NewReader(form))
}

// imageURL opens the task page of docID as the session token and returns
// the image URL it was given.
func (c *testConsole) imageURL(token, docID string) string {
	c.t.Helper()
	status, page := c.get(token, "/console/tasks/"+docID)
	if status != http.StatusOK {
		c.t.Fatalf("task page: %d", status)
	}
	_, rest, ok := strings.Cut(page, `<img src="`)
	if !ok {
		c.t.Fatalf("the task page has no image")
	}
	url, _, _ := strings.Cut(rest, `"`)
	return url
}
