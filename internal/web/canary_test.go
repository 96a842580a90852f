package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func init() {
	addAuthz(map[string]string{
		"POST /api/v1/doctor/canary": "api",
		"GET /doctor/canary":         "public",
		"POST /doctor/canary":        "public",
	})
}

// The canary page answers only a live canary session, with that session
// and a value new at every answer; anything else is the 404 page.
func TestTheCanaryAnswersOnlyItsOwnLiveSessionAndNeverTheSameTwice(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		_, key, err := auth.CreateAPIKey(t.Context(), c.env.DB, "doctor", c.now)
		if err != nil {
			t.Fatal(err)
		}
		grant := func() CanaryGrant {
			req := httptest.NewRequest("POST", "/api/v1/doctor/canary", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			var g CanaryGrant
			if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &g) != nil || g.Cookie != CanaryCookie ||
				g.PublicURL != c.srv.PublicURL || !g.ExpiresAt.After(c.now) {
				t.Fatalf("grant: %d %s", rec.Code, rec.Body)
			}
			return g
		}
		ask := func(method, token string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(method, "/doctor/canary", nil)
			if token != "" {
				req.AddCookie(&http.Cookie{Name: CanaryCookie, Value: token})
			}
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			return rec
		}
		one, two := grant(), grant()
		session := strings.Split(one.Token, ".")[0]
		a, b := ask("GET", one.Token), ask("GET", one.Token)
		if a.Code != 200 || !strings.Contains(a.Body.String(), "session: "+session) || a.Body.String() == b.Body.String() {
			t.Errorf("canary: %d %q then %q", a.Code, a.Body, b.Body)
		}
		if p := personalHeaderProblem(a.Header()); p != "" {
			t.Errorf("canary headers: %s", p)
		}
		if other := ask("POST", two.Token).Body.String(); strings.Contains(other, session) || !strings.Contains(other, "method: POST") {
			t.Errorf("the second session's canary: %q", other)
		}
		parts := strings.Split(one.Token, ".")
		for name, token := range map[string]string{
			"none":          "",
			"altered":       "x" + one.Token[1:],
			"stretched":     parts[0] + "." + "99999999999" + "." + parts[2],
			"another's tag": parts[0] + "." + parts[1] + "." + strings.Split(two.Token, ".")[2],
		} {
			if rec := ask("GET", token); rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "session:") {
				t.Errorf("%s: %d", name, rec.Code)
			}
		}
		c.now = c.now.Add(canaryTTL + time.Second)
		if rec := ask("GET", one.Token); rec.Code != http.StatusNotFound {
			t.Errorf("an expired canary session: %d", rec.Code)
		}
	})
}
