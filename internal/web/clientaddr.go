package web

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/kakunin/kakunin/internal/audit"
)

// Proxy headers a trusted reverse proxy may name the client in.
const (
	HeaderXForwardedFor = "x-forwarded-for"
	HeaderForwarded     = "forwarded" // RFC 7239
)

// ProxyTrust says which peers are the operator's reverse proxies, and in
// which header they name the client. With no proxies, every header is
// ignored and the connection's peer is the client.
type ProxyTrust struct {
	Proxies []netip.Prefix
	Header  string // HeaderXForwardedFor (default) or HeaderForwarded
}

func (p ProxyTrust) trusted(a netip.Addr) bool {
	return slices.ContainsFunc(p.Proxies, func(pr netip.Prefix) bool { return pr.Contains(a) })
}

// clientAddr is the one place that decides a request's client address, for
// the rate limits and the audit log's origin. A proxy header counts only
// when the connection itself comes from a trusted proxy, and then only up to
// the rightmost hop that is not a trusted proxy: everything left of that hop
// was written by the client and may be forged.
func (s *Server) clientAddr(r *http.Request) string {
	peer := remoteAddr(r.RemoteAddr)
	if !peer.IsValid() {
		return r.RemoteAddr // not an IP (a test or a unix socket): use as is
	}
	if !s.Proxies.trusted(peer) {
		return peer.String()
	}
	hops := s.Proxies.hops(r.Header)
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := hops[i].addr, hops[i].ok
		if !ok {
			break // garbage or an obfuscated hop: stop at the last address we trust
		}
		client = a
		if !s.Proxies.trusted(a) {
			break
		}
	}
	return client.String()
}

// hop is one address a proxy header names; ok is false for a hop that is not
// an IP address ("unknown", an obfuscated name, garbage).
type hop struct {
	addr netip.Addr
	ok   bool
}

// hops lists the addresses of the configured header, leftmost (claimed
// client) first, across every line of the header.
func (p ProxyTrust) hops(h http.Header) []hop {
	var out []hop
	if p.Header == HeaderForwarded {
		for _, line := range h.Values("Forwarded") {
			for elem := range strings.SplitSeq(line, ",") {
				a, ok := forwardedFor(elem)
				out = append(out, hop{a, ok})
			}
		}
		return out
	}
	for _, line := range h.Values("X-Forwarded-For") {
		for part := range strings.SplitSeq(line, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(part))
			out = append(out, hop{a.Unmap(), err == nil})
		}
	}
	return out
}

// forwardedFor reads the for= parameter of one RFC 7239 element:
// for=192.0.2.60, for="[2001:db8::17]:4711", for="192.0.2.60:80".
func forwardedFor(elem string) (netip.Addr, bool) {
	for pair := range strings.SplitSeq(elem, ";") {
		k, v, found := strings.Cut(strings.TrimSpace(pair), "=")
		if !found || !strings.EqualFold(k, "for") {
			continue
		}
		v = strings.Trim(v, `"`)
		if strings.HasPrefix(v, "[") {
			end := strings.IndexByte(v, ']')
			if end < 0 {
				return netip.Addr{}, false
			}
			v = v[1:end]
		} else if host, _, err := net.SplitHostPort(v); err == nil {
			v = host
		}
		a, err := netip.ParseAddr(v)
		return a.Unmap(), err == nil
	}
	return netip.Addr{}, false
}

func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// withOrigin puts the keyed hash of the client's address in the request's
// context, for the audit events the request causes and the per-client
// limits. The address itself is never stored.
func (s *Server) withOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.OriginOf != nil {
			r = r.WithContext(audit.WithOrigin(r.Context(), s.OriginOf(s.clientAddr(r))))
		}
		next.ServeHTTP(w, r)
	})
}
