package web

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/kakunin/kakunin/internal/metrics"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// Labels of /metrics carry route patterns, methods, codes and job kinds
// only: a request whose path holds a bearer token, a member's external ID
// or an address never puts any of it in a label.
func TestMetricsLabelsCarryNoPersonalData(t *testing.T) {
	c := newTestConsole(t, storetest.SQLiteDSN(t))
	m := metrics.New(c.env.DB, c.srv.Log)
	c.srv.Metrics = m
	secrets := []string{"tok-SECRET-1234", "member-ext-77", "hanako@example.jp", "ver_SECRETID"}
	for _, path := range []string{
		"/u/" + secrets[0], "/api/v1/members/" + secrets[1], "/nothing/" + secrets[2], "/api/v1/verifications/" + secrets[3],
		"/check?email=" + secrets[2], "/healthz",
	} {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", "Bearer "+secrets[0])
		c.h.ServeHTTP(httptest.NewRecorder(), r)
	}
	r := httptest.NewRequest("PROPFIND", "/u/"+secrets[0], nil)
	c.h.ServeHTTP(httptest.NewRecorder(), r)

	// The table's patterns, and the two catch-alls Handler adds.
	patterns := map[string]bool{"unmatched": true, "/": true, "/api/": true}
	for _, rt := range c.srv.Routes() {
		patterns[rt.Pattern] = true
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`^[1-5][0-9][0-9]$`)
	seen := 0
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			for _, l := range mm.GetLabel() {
				v := l.GetValue()
				for _, s := range secrets {
					if strings.Contains(v, s) {
						t.Errorf("%s{%s=%q} carries a request's personal data", mf.GetName(), l.GetName(), v)
					}
				}
				switch l.GetName() {
				case "route":
					seen++
					if !patterns[v] {
						t.Errorf("%s route label %q is not a route pattern", mf.GetName(), v)
					}
				case "method":
					if !regexp.MustCompile(`^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|other)$`).MatchString(v) {
						t.Errorf("method label %q", v)
					}
				case "code":
					if !code.MatchString(v) {
						t.Errorf("code label %q", v)
					}
				}
			}
		}
	}
	if seen == 0 {
		t.Fatal("no request was counted")
	}
}
