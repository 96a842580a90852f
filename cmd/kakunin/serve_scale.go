package main

import (
	"github.com/kakunin/kakunin/internal/web"
)

// scaleOut sets what running behind a load balancer needs on the web
// server: the trusted proxies whose header names the client. Kept apart
// from serve.go's wiring so the two change independently.
func (a *app) scaleOut(srv *web.Server) {
	srv.Proxies = web.ProxyTrust{Proxies: a.cfg.TrustedProxies, Header: a.cfg.ProxyHeader}
}
