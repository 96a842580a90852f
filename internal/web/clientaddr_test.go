package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestTheClientAddressComesFromAProxyHeaderOnlyThroughATrustedProxy(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for _, tc := range []struct {
		name, header, remote string
		xff, fwd             []string
		want                 string
	}{
		{name: "no header", remote: "10.1.1.1:5000", want: "10.1.1.1"},
		{name: "spoofed header from a stranger is ignored", remote: "198.51.100.7:5000", xff: []string{"203.0.113.9"}, want: "198.51.100.7"},
		{name: "spoofed Forwarded from a stranger is ignored", header: HeaderForwarded, remote: "198.51.100.7:5000", fwd: []string{"for=203.0.113.9"}, want: "198.51.100.7"},
		{name: "trusted proxy names the client", remote: "10.1.1.1:5000", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "client-written hops left of the real one are ignored", remote: "10.1.1.1:5000", xff: []string{"1.2.3.4, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "a chain of trusted proxies is walked", remote: "10.1.1.1:5000", xff: []string{"1.2.3.4, 203.0.113.9, 10.2.2.2"}, want: "203.0.113.9"},
		{name: "several header lines are one list", remote: "10.1.1.1:5000", xff: []string{"1.2.3.4", "203.0.113.9"}, want: "203.0.113.9"},
		{name: "garbage stops the walk at the last trusted hop", remote: "10.1.1.1:5000", xff: []string{"203.0.113.9, bogus"}, want: "10.1.1.1"},
		{name: "all hops trusted: the leftmost", remote: "10.1.1.1:5000", xff: []string{"10.3.3.3, 10.2.2.2"}, want: "10.3.3.3"},
		{name: "the other header is not read", header: HeaderForwarded, remote: "10.1.1.1:5000", xff: []string{"203.0.113.9"}, want: "10.1.1.1"},
		{name: "Forwarded names the client", header: HeaderForwarded, remote: "10.1.1.1:5000", fwd: []string{`for=1.2.3.4, for="203.0.113.9:4711";proto=https`}, want: "203.0.113.9"},
		{name: "Forwarded IPv6 in brackets", header: HeaderForwarded, remote: "[fd00::1]:5000", fwd: []string{`for="[2001:db8:cafe::17]:4711"`}, want: "2001:db8:cafe::17"},
		{name: "Forwarded obfuscated hop stops the walk", header: HeaderForwarded, remote: "10.1.1.1:5000", fwd: []string{`for=203.0.113.9, for=_hidden`}, want: "10.1.1.1"},
		{name: "IPv4-mapped IPv6 peer is matched as IPv4", remote: "[::ffff:10.1.1.1]:5000", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
	} {
		s := &Server{Proxies: ProxyTrust{Proxies: proxies, Header: tc.header}}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		for _, v := range tc.fwd {
			r.Header.Add("Forwarded", v)
		}
		if got := s.clientAddr(r); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestWithoutTrustedProxiesEveryHeaderIsIgnored(t *testing.T) {
	s := &Server{}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1234"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set("Forwarded", "for=203.0.113.9")
	if got := s.clientAddr(r); got != "127.0.0.1" {
		t.Fatalf("client %s, want the peer", got)
	}
}

// The audit origin (and so the per-client /check limit, keyed by it) is the
// address clientAddr decides, through the whole handler chain.
func TestTheAuditOriginUsesTheTrustedClientAddress(t *testing.T) {
	var seen []string
	s := &Server{OriginOf: func(ip string) string { return "h(" + ip + ")" },
		Proxies: ProxyTrust{Proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	h := s.withOrigin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, audit.OriginFrom(r.Context()))
	}))
	for _, remote := range []string{"10.9.9.9:1", "198.51.100.7:1"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if len(seen) != 2 || seen[0] != "h(203.0.113.9)" || seen[1] != "h(198.51.100.7)" {
		t.Fatalf("origins %q, want the forwarded client then the untrusted peer", seen)
	}
}

// A spoofed X-Forwarded-For from a client that is not a trusted proxy does
// not buy it fresh /check quota; through the trusted proxy, two real clients
// each get their own.
func TestSpoofedForwardedHeadersDoNotEscapeTheCheckLimit(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newCheckFixture(t, dsn)
		c.srv.Exposure.Limits = exposure.Limits{Client: 2, ClientWindow: time.Hour}
		c.srv.Proxies = ProxyTrust{Proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
		check := func(peer, xff string) int {
			req := httptest.NewRequest(http.MethodPost, "/check", strings.NewReader(url.Values{"email": {c.stranger}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			req.Header.Set("X-Forwarded-For", xff)
			req.RemoteAddr = peer + ":40000"
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			return rec.Code
		}
		for i, want := range []int{200, 200, 429} {
			if got := check("198.51.100.7", fmt.Sprintf("203.0.113.%d", i+1)); got != want {
				t.Fatalf("stranger's check %d with a new spoofed header: %d, want %d", i+1, got, want)
			}
		}
		for i, want := range []int{200, 200, 429} {
			if got := check("10.0.0.2", "203.0.113.50"); got != want {
				t.Fatalf("first client's check %d through the proxy: %d, want %d", i+1, got, want)
			}
		}
		if got := check("10.0.0.2", "203.0.113.51"); got != 200 {
			t.Fatalf("a second client through the same proxy: %d, want 200 (its own quota)", got)
		}
	})
}
