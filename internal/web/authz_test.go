package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// authzMatrix is who may use each route, written out by hand: the test
// fails if a route is added without a line here, and checks every line
// against every kind of caller. "public": anyone; "api": the host with an
// API key; "member": a member session only; otherwise the staff roles allowed. A trailing "+fresh" means the
// second factor must have been proved within the re-authentication window.
// The breach desk's areas add their lines from their own test files (init
// functions calling addAuthz), beside their handlers' tests.
var authzMatrix = map[string]string{
	"GET /healthz":                         "public",
	"GET /static/":                         "public",
	"GET /favicon.ico":                     "public",
	"GET /{$}":                             "public",
	"PUT /api/v1/members/{external_id}":    "api",
	"DELETE /api/v1/members/{external_id}": "api",
	"POST /api/v1/verifications":           "api",
	"GET /api/v1/verifications/{id}":       "api",
	"GET /notices":                         "public",
	"GET /notices/{id}":                    "public",
	"GET /notices.atom":                    "public",
	"GET /u/{token}":                       "public",
	"POST /u/{token}":                      "public",
	"GET /u/{token}/jpki":                  "public",
	"GET /oidc/jpki/callback":              "public",
	"POST /u/{token}/send":                 "public",
	"GET /console/login":                   "public",
	"POST /console/login":                  "public",
	"GET /console/login/totp":              "public",
	"POST /console/login/totp":             "public",
	"POST /console/logout":                 "public",
	"GET /console/password":                "reviewer,support,responder,admin,auditor",
	"POST /console/password":               "reviewer,support,responder,admin,auditor",
	"GET /console/reauth":                  "reviewer,support,responder,admin,auditor",
	"POST /console/reauth":                 "reviewer,support,responder,admin,auditor",
	"GET /console":                         "reviewer,support,responder,admin,auditor",
	"GET /console/passkeys":                "reviewer,support,responder,admin,auditor",
	"POST /console/passkeys/options":       "reviewer,support,responder,admin,auditor+fresh",
	"POST /console/passkeys":               "reviewer,support,responder,admin,auditor+fresh",
	"POST /console/passkeys/{id}/delete":   "reviewer,support,responder,admin,auditor+fresh",
	"POST /console/login/passkey/options":  "public",
	"POST /console/login/passkey":          "public",
	"POST /console/reauth/passkey/options": "reviewer,support,responder,admin,auditor",
	"POST /console/reauth/passkey":         "reviewer,support,responder,admin,auditor",
	"POST /console/tasks/next":             "reviewer",
	"GET /console/tasks/{id}":              "reviewer",
	"GET /console/images/{token}":          "reviewer",
	"POST /console/tasks/{id}/approve":     "reviewer",
	"POST /console/tasks/{id}/reject":      "reviewer",
	"POST /console/tasks/{id}/release":     "reviewer",
	"GET /console/verifications":           "support",
	"GET /console/audit":                   "auditor",
	"GET /console/audit/export":            "auditor+fresh",
	"GET /console/incident/scope":          "responder,auditor",
	"GET /console/notices":                 "responder",
	"POST /console/notices":                "responder",
	"GET /console/notices/{id}":            "responder",
	"POST /console/notices/{id}":           "responder",
	"POST /console/notices/{id}/publish":   "responder",
	"GET /console/staff":                   "admin",
	"POST /console/staff/{id}/unlock":      "admin+fresh",
}

// addAuthz adds an area's lines to authzMatrix, refusing a line twice.
func addAuthz(lines map[string]string) {
	for k, v := range lines {
		if _, dup := authzMatrix[k]; dup {
			panic("authzMatrix: " + k + " written twice")
		}
		authzMatrix[k] = v
	}
}

// requestPath fills a route pattern's wildcards with harmless values.
func requestPath(pattern string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	r := strings.NewReplacer("{$}", "", "{external_id}", "ext_authz", "{id}", "id_authz", "{token}", "tok_authz", "{key}", "key_authz")
	path = r.Replace(path)
	if path == "/static/" {
		path = "/static/style.css"
	}
	return method, path
}

type caller struct {
	name   string
	role   kakunin.Role // "" for anonymous and the API key
	cookie string
	apiKey string
}

func TestEveryRouteAllowsExactlyTheRolesInTheMatrix(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		tc := newTestConsole(t, dsn)
		s, h, staff := tc.srv, tc.h, tc.staff
		callers := []caller{{name: "anonymous"}}
		for _, role := range kakunin.Roles {
			in := tc.signIn(role)
			callers = append(callers, caller{name: string(role), role: role, cookie: in.token})
		}
		_, key, err := auth.CreateAPIKey(t.Context(), tc.env.DB, "host", tc.now)
		if err != nil {
			t.Fatal(err)
		}
		callers = append(callers, caller{name: "api key", apiKey: key})

		send := func(c caller, pattern string) *httptest.ResponseRecorder {
			method, path := requestPath(pattern)
			var body io.Reader
			if method != http.MethodGet {
				body = strings.NewReader("{}")
			}
			req := httptest.NewRequest(method, path, body)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			// Signing out would end the caller's session for the rest of the test.
			if c.cookie != "" && pattern != "POST /console/logout" {
				req.AddCookie(&http.Cookie{Name: "kakunin_session", Value: c.cookie})
			}
			if c.apiKey != "" {
				req.Header.Set("Authorization", "Bearer "+c.apiKey)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec
		}
		denied := func(rec *httptest.ResponseRecorder) bool {
			loc := rec.Header().Get("Location")
			return rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden ||
				(rec.Code == http.StatusSeeOther && (loc == "/console/login" || loc == "/signin" || strings.HasPrefix(loc, "/console/reauth")))
		}

		seen := map[string]bool{}
		for _, rt := range s.Routes() {
			seen[rt.Pattern] = true
			want, ok := authzMatrix[rt.Pattern]
			if !ok {
				t.Errorf("route %q has no line in the authorization matrix", rt.Pattern)
				continue
			}
			who, isFresh := strings.CutSuffix(want, "+fresh")
			if isFresh != rt.Access.Fresh {
				t.Errorf("%s: fresh = %v, matrix says %q", rt.Pattern, rt.Access.Fresh, want)
			}
			for _, c := range callers {
				var allowed bool
				switch who {
				case "public":
					// Public routes pass no wrapper: their own answers (a
					// wrong password is a 401) are not a denial of the caller.
					if rec := send(c, rt.Pattern); rec.Code == http.StatusForbidden {
						t.Errorf("%s as %s: 403", rt.Pattern, c.name)
					}
					continue
				case "api":
					allowed = c.apiKey != ""
				case "member":
					// Only a member session opens these; no caller here
					// has one (a staff session is none): portal_test.go.
					allowed = false
				default:
					allowed = c.role != "" && slices.Contains(strings.Split(who, ","), string(c.role))
				}
				rec := send(c, rt.Pattern)
				if got := !denied(rec); got != allowed {
					t.Errorf("%-40s as %-9s: status %d (Location %q), want allowed=%v", rt.Pattern, c.name, rec.Code, rec.Header().Get("Location"), allowed)
				}
			}
		}
		for p := range authzMatrix {
			if !seen[p] {
				t.Errorf("the matrix names %q, which the server does not serve", p)
			}
		}

		// Past the re-authentication window, sensitive routes ask for the
		// second factor again and the others still work.
		tc.now = tc.now.Add(staff.ReauthAfter + time.Minute)
		for _, c := range callers[1 : len(callers)-1] {
			for _, rt := range s.Routes() {
				who, isFresh := strings.CutSuffix(authzMatrix[rt.Pattern], "+fresh")
				if !slices.Contains(strings.Split(who, ","), string(c.role)) {
					continue
				}
				rec := send(c, rt.Pattern)
				asks := rec.Code == http.StatusSeeOther && strings.HasPrefix(rec.Header().Get("Location"), "/console/reauth?next=")
				if asks != isFresh {
					t.Errorf("%s as %s after the window: status %d Location %q", rt.Pattern, c.name, rec.Code, rec.Header().Get("Location"))
				}
			}
		}
	})
}
