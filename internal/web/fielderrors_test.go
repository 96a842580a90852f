package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

var invalidField = regexp.MustCompile(`id="([a-z_]+)"[^>]*aria-invalid="true"`)

// A refused incident form marks the fields that are wrong, each with its
// own message, and only those: a bad window no longer marks the title and
// the discovery time.
func TestTheIncidentFormMarksOnlyTheWrongFields(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		resp := c.signIn(kakunin.RoleResponder)
		for _, tc := range []struct {
			form  url.Values
			marks string
			says  string
		}{
			{url.Values{"title": {"Bucket listed"}, "discovered_at": {"2026-11-24T17:00"}, "window_from": {"2026-11-22T00:00"}, "window_to": {"2026-11-20T00:00"}},
				"window_to", "The window must end after it starts."},
			{url.Values{"title": {"Bucket listed"}, "discovered_at": {"2026-11-24T17:00"}, "window_from": {"2026-11-20T00:00"}},
				"window_to", "Give both ends of the window, or neither."},
			{url.Values{"title": {""}, "discovered_at": {"yesterday"}},
				"title discovered_at", "Give a title of 1 to 200 characters."},
			{url.Values{"title": {"Bucket listed"}, "discovered_at": {"2027-01-01T00:00"}},
				"discovered_at", "The discovery time is in the future."},
		} {
			rec := c.post(resp.token, "/console/incidents?lang=en", tc.form.Encode())
			body := rec.Body.String()
			var marked []string
			for _, m := range invalidField.FindAllStringSubmatch(body, -1) {
				marked = append(marked, m[1])
			}
			if rec.Code != http.StatusBadRequest || strings.Join(marked, " ") != tc.marks || !strings.Contains(body, `<p class="field-error" id="`+strings.Fields(tc.marks)[0]+`-error">`+tc.says+`</p>`) {
				t.Errorf("%v: %d, marked %v, want %s saying %q", tc.form, rec.Code, marked, tc.marks, tc.says)
			}
		}
	})
}
