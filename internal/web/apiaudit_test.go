package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// apiCall sends one API request with key.
func (c *testConsole) apiCall(key, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

// breakAudit makes every audit append fail, as a lost database connection
// or a full disk does between the change and its event; the returned
// function mends it.
func (c *testConsole) breakAudit() (mend func()) {
	c.t.Helper()
	db := c.env.DB.SQL()
	if _, err := db.ExecContext(c.t.Context(), "ALTER TABLE audit_events RENAME TO audit_events_away"); err != nil {
		c.t.Fatal(err)
	}
	return func() {
		c.t.Helper()
		if _, err := db.ExecContext(c.t.Context(), "ALTER TABLE audit_events_away RENAME TO audit_events"); err != nil {
			c.t.Fatal(err)
		}
	}
}

// The host's state-changing calls commit with their audit event or not at
// all: when the event cannot be written, the host gets an error and
// nothing changed, so a retry does the change once, audited.
func TestAPIChangeWhoseAuditEventFailsIsNotMade(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		ctx := t.Context()
		_, key, err := auth.CreateAPIKey(ctx, c.env.DB, "host", c.now)
		if err != nil {
			t.Fatal(err)
		}

		// PUT member: no member without its api.member_put.
		mend := c.breakAudit()
		rec := c.apiCall(key, http.MethodPut, "/api/v1/members/m-new", `{"email":"new@example.jp"}`)
		mend()
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("PUT with the audit broken: %d %s, want 500", rec.Code, rec.Body)
		}
		if _, err := c.env.DB.MemberByExternalID(ctx, "m-new"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("member after a failed audit: %v, want not found", err)
		}
		if rec := c.apiCall(key, http.MethodPut, "/api/v1/members/m-new", `{"email":"new@example.jp"}`); rec.Code != http.StatusCreated {
			t.Fatalf("PUT retried: %d %s, want 201 (the first one changed nothing)", rec.Code, rec.Body)
		}

		// POST verification: no open link without its api.verification_created.
		mend = c.breakAudit()
		rec = c.apiCall(key, http.MethodPost, "/api/v1/verifications", `{"external_id":"m-new"}`)
		mend()
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("POST with the audit broken: %d %s, want 500", rec.Code, rec.Body)
		}
		vs, _, err := c.env.DB.VerificationsOfExternalID(ctx, "m-new")
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 0 {
			t.Fatalf("%d verifications after a failed audit, want 0", len(vs))
		}

		// DELETE member: the member has not left without api.member_deleted.
		mend = c.breakAudit()
		rec = c.apiCall(key, http.MethodDelete, "/api/v1/members/m-new", "")
		mend()
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("DELETE with the audit broken: %d %s, want 500", rec.Code, rec.Body)
		}
		m, err := c.env.DB.MemberByExternalID(ctx, "m-new")
		if err != nil {
			t.Fatal(err)
		}
		if m.DeletedAt != nil || m.EmailSealed == nil {
			t.Fatal("the member left although the audit event failed")
		}

		// Mended, every call goes through and the chain holds one event each.
		if rec := c.apiCall(key, http.MethodPost, "/api/v1/verifications", `{"external_id":"m-new"}`); rec.Code != http.StatusCreated {
			t.Fatalf("POST: %d %s", rec.Code, rec.Body)
		}
		if rec := c.apiCall(key, http.MethodDelete, "/api/v1/members/m-new", ""); rec.Code != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
		}
		counts := map[string]int{}
		rows, err := c.env.DB.SQL().QueryContext(ctx, "SELECT action FROM audit_events WHERE action LIKE 'api.%'")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			counts[a]++
		}
		want := map[string]int{"api.member_put": 1, "api.verification_created": 1, "api.member_deleted": 1}
		for a, n := range want {
			if counts[a] != n {
				t.Errorf("%s: %d events, want %d (all: %v)", a, counts[a], n, counts)
			}
		}
	})
}

// 200 simultaneous POST /verifications for one member open exactly one
// verification: the first answer is 201, every other is 200 with the same
// verification and the same upload link.
func TestSimultaneousVerificationRequestsOpenOneLink(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		ctx := t.Context()
		_, key, err := auth.CreateAPIKey(ctx, c.env.DB, "host", c.now)
		if err != nil {
			t.Fatal(err)
		}
		if rec := c.apiCall(key, http.MethodPut, "/api/v1/members/m-race", `{"email":"race@example.jp"}`); rec.Code != http.StatusCreated {
			t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
		}
		const n = 200
		type answer struct {
			status  int
			id, url string
			body    string
		}
		answers := make(chan answer, n)
		start := make(chan struct{})
		for range n {
			go func() {
				<-start
				rec := c.apiCall(key, http.MethodPost, "/api/v1/verifications", `{"external_id":"m-race"}`)
				var out struct {
					ID        string `json:"id"`
					UploadURL string `json:"upload_url"`
				}
				json.Unmarshal(rec.Body.Bytes(), &out)
				answers <- answer{rec.Code, out.ID, out.UploadURL, rec.Body.String()}
			}()
		}
		close(start)
		statuses := map[int]int{}
		ids, urls := map[string]bool{}, map[string]bool{}
		for range n {
			a := <-answers
			statuses[a.status]++
			if a.status != http.StatusCreated && a.status != http.StatusOK {
				t.Errorf("answer %d: %s", a.status, a.body)
				continue
			}
			ids[a.id], urls[a.url] = true, true
		}
		if statuses[http.StatusCreated] != 1 || statuses[http.StatusOK] != n-1 {
			t.Errorf("statuses %v, want one 201 and %d × 200", statuses, n-1)
		}
		if len(ids) != 1 || len(urls) != 1 {
			t.Errorf("%d verification IDs and %d upload links handed out, want 1 of each", len(ids), len(urls))
		}
		vs, _, err := c.env.DB.VerificationsOfExternalID(ctx, "m-race")
		if err != nil || len(vs) != 1 {
			t.Fatalf("%d verifications stored, %v; want 1", len(vs), err)
		}
	})
}

// The sign-in form refused by the throttle answers 429 with Retry-After
// and says so in the page's language, by the client's address alone.
func TestSignInGuessesFromOneAddressGet429WithRetryAfter(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		limit := c.staff.Throttle.ClientAttempts
		var rec *httptest.ResponseRecorder
		for i := range limit + 1 {
			rec = c.post("", "/console/login", fmt.Sprintf("email=guess%d%%40example.jp&password=wrong", i))
			if i < limit && rec.Code != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d, want 401", i, rec.Code)
			}
		}
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("guess past the limit: %d, Retry-After %q; want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
		if !strings.Contains(rec.Body.String(), "ログインの試行回数が上限に達しました") {
			t.Errorf("the page does not say why:\n%s", rec.Body)
		}
	})
}
