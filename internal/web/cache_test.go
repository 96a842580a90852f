package web

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// cacheCaller is one kind of visitor the cache test sends every route as.
type cacheCaller struct {
	name    string
	cookies []*http.Cookie
	// session: the member session whose pages /me/{key} are.
	session string
}

// personalHeaderProblem says what is wrong with a response that must never
// be kept by a shared cache, or "" (invariant 7): no-store and private,
// Vary on the cookie that selects it, and no validator a cache could
// revalidate it with.
func personalHeaderProblem(h http.Header) string {
	cc := h.Get("Cache-Control")
	switch {
	case !strings.Contains(cc, "no-store") || !strings.Contains(cc, "private"):
		return "Cache-Control " + cc
	case strings.Contains(cc, "public") || strings.Contains(cc, "max-age") || strings.Contains(cc, "s-maxage"):
		return "Cache-Control " + cc
	case !slices.Contains(strings.Split(strings.ReplaceAll(h.Get("Vary"), " ", ""), ","), "Cookie"):
		return "Vary " + h.Get("Vary")
	case h.Get("ETag") != "" || h.Get("Last-Modified") != "" || h.Get("Expires") != "":
		return "a validator or Expires: " + h.Get("ETag") + h.Get("Last-Modified") + h.Get("Expires")
	}
	return ""
}

// Every route the server answers is either named in PublicCacheable or
// answers every caller no-store, private — whatever the caller, whatever
// the answer (a page, a redirect, a refusal). A route added without
// thought fails here; so does a cacheable one whose answer is not the same
// for everyone. The desk's and any later area's routes are in Routes()
// and so are walked without a change here.
func TestEveryRouteIsPersonalOrMarkedPublicCacheable(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		member := c.signInMember(t, "ext-check")
		callers := []cacheCaller{{name: "anonymous"},
			{name: "member", session: member, cookies: []*http.Cookie{{Name: "kakunin_member", Value: member}}}}
		for _, role := range kakunin.Roles {
			in := c.signIn(role)
			callers = append(callers, cacheCaller{name: string(role), cookies: []*http.Cookie{{Name: "kakunin_session", Value: in.token}}})
		}
		send := func(who cacheCaller, method, path string) *httptest.ResponseRecorder {
			if who.session != "" {
				path = strings.Replace(path, "/me/key_authz", memberHome(who.session), 1)
			}
			req := httptest.NewRequest(method, path, strings.NewReader("x=1"))
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, ck := range who.cookies {
				req.AddCookie(ck)
			}
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			return rec
		}

		routes := map[string]bool{}
		for _, rt := range c.srv.Routes() {
			routes[rt.Pattern] = true
			method, path := requestPath(rt.Pattern)
			if rt.Pattern == "POST /signout" || rt.Pattern == "POST /console/logout" {
				continue // would end the callers' sessions; sent last, below
			}
			_, shared := PublicCacheable[rt.Pattern]
			var first string
			for i, who := range callers {
				rec := send(who, method, path)
				if !shared {
					if p := personalHeaderProblem(rec.Header()); p != "" {
						t.Errorf("%s as %s (%d): %s; neither no-store nor marked public-cacheable", rt.Pattern, who.name, rec.Code, p)
					}
					continue
				}
				// Cacheable: the same bytes for everyone, and nothing a
				// cache would hand to the next visitor with it.
				if i == 0 {
					first = rec.Body.String()
				} else if rec.Body.String() != first {
					t.Errorf("%s is marked public-cacheable but answers %s differently from an anonymous visitor", rt.Pattern, who.name)
				}
				if cc := rec.Header().Get("Cache-Control"); strings.Contains(cc, "public") && len(rec.Result().Cookies()) > 0 {
					t.Errorf("%s as %s: cacheable (%s) with Set-Cookie", rt.Pattern, who.name, cc)
				}
			}
		}
		for p := range PublicCacheable {
			if !routes[p] {
				t.Errorf("PublicCacheable names %q, which the server does not serve", p)
			}
		}
		// What no route answers: the 404 page, the API's 404, a method
		// the route does not take; and the two sign-outs.
		for _, probe := range []struct{ method, path string }{
			{"GET", "/no/such/page"}, {"GET", "/api/v1/nothing"}, {"DELETE", "/notices"}, {"PUT", "/console"},
			{"POST", "/signout"}, {"POST", "/console/logout"},
		} {
			for _, who := range callers {
				rec := send(who, probe.method, probe.path)
				if p := personalHeaderProblem(rec.Header()); p != "" {
					t.Errorf("%s %s as %s (%d): %s", probe.method, probe.path, who.name, rec.Code, p)
				}
			}
		}
	})
}

// The cache test's own check must catch what it exists for: a cacheable
// answer, a lost Vary, a validator.
func TestThePersonalHeaderCheckCatchesCacheableAnswers(t *testing.T) {
	good := http.Header{"Cache-Control": {"no-store, private"}, "Vary": {"Cookie, Authorization"}}
	if p := personalHeaderProblem(good); p != "" {
		t.Fatalf("the default headers fail: %s", p)
	}
	for name, change := range map[string]func(http.Header){
		"public":        func(h http.Header) { h.Set("Cache-Control", "public, max-age=60") },
		"no-store only": func(h http.Header) { h.Set("Cache-Control", "no-store") },
		"no Vary":       func(h http.Header) { h.Del("Vary") },
		"Vary on other": func(h http.Header) { h.Set("Vary", "Accept-Language") },
		"ETag":          func(h http.Header) { h.Set("ETag", `"x"`) },
		"Last-Modified": func(h http.Header) { h.Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT") },
	} {
		h := good.Clone()
		change(h)
		if personalHeaderProblem(h) == "" {
			t.Errorf("%s passes", name)
		}
	}
}
