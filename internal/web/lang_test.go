package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestOpeningTheEnglishReportDraftLeavesTheConsoleInTheReadersLanguage(t *testing.T) {
	c := newTestConsole(t, storetest.SQLiteDSN(t))
	resp := c.signIn(kakunin.RoleResponder)
	id := c.openIncident(resp.token, url.Values{"title": {"Bucket listed"}, "discovered_at": {"2026-11-24T17:00"}, "held_database": {"1"}})
	// get sends the session and, when lang is set, the language cookie the
	// browser would hold.
	get := func(path, lang string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.AddCookie(&http.Cookie{Name: "kakunin_session", Value: resp.token})
		if lang != "" {
			req.AddCookie(&http.Cookie{Name: langCookie, Value: lang})
		}
		rec := newRecorder()
		c.h.ServeHTTP(rec, req)
		return rec.Result()
	}
	for _, tc := range []struct{ cookie, draft, want string }{{"", "en", "en"}, {"ja", "en", "en"}, {"en", "ja", "ja"}} {
		res := get("/console/incidents/"+id+"/report?lang="+tc.draft, tc.cookie)
		body := readAll(res)
		if res.StatusCode != http.StatusOK || !strings.Contains(body, `<html lang="`+tc.want+`"`) {
			t.Errorf("draft in %s (console %q): %d, not in %s", tc.draft, tc.cookie, res.StatusCode, tc.want)
		}
		for _, ck := range res.Cookies() {
			if ck.Name == langCookie {
				t.Errorf("opening the %s draft set the console language to %q", tc.draft, ck.Value)
			}
		}
	}
	// The console keeps the language the reader chose, page after page.
	res := get("/console?lang=en", "")
	var chosen string
	for _, ck := range res.Cookies() {
		if ck.Name == langCookie {
			chosen = ck.Value
		}
	}
	if chosen != "en" {
		t.Fatalf("choosing English set %q", chosen)
	}
	for _, p := range []string{"/console", "/console/incidents", "/console/incidents/" + id} {
		if body := readAll(get(p, chosen)); !strings.Contains(body, `<html lang="en"`) {
			t.Errorf("%s is not in the chosen language", p)
		}
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func readAll(res *http.Response) string {
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return string(b)
}
