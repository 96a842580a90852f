// Package web serves kakunin over HTTP: the host platform's JSON API, the
// member's upload pages and the staff console. It owns the rules every
// response follows: security headers, CSRF protection on forms, and
// Cache-Control no-store on everything personal (invariant 7), and the
// route × role table that decides who may do what.
package web

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/erasure"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/inquiry"
	"github.com/kakunin/kakunin/internal/jpki"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/portal"
	"github.com/kakunin/kakunin/internal/publicnotice"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/verification"
	"github.com/kakunin/kakunin/internal/web/pages"
)

// Server holds what the handlers need.
type Server struct {
	Verifications  *verification.Service
	Documents      *document.Service
	Review         *review.Service
	Notices        *publicnotice.Service
	Incidents      *incident.Service // the incident desk: records, deadlines, report drafts
	Exposure       *exposure.Service // the public "am I affected?" check
	MassMail       *massmail.Service // mass notification of affected members
	Portal         *portal.Service   // the members' own pages
	Erasure        *erasure.Service  // members' erasure requests and their receipts
	Desk           *inquiry.Service  // the inquiry desk: /contact, threads, the support queue
	JPKI           *jpki.Service     // the My Number card check (no photo); nil: not configured
	APIKeys        *auth.APIKeys     // the host platform's keys
	Staff          *auth.Staff
	Passkeys       *auth.Passkeys // nil: no passkeys, TOTP only
	Audit          *audit.Log
	Pages          *pages.Renderer
	Log            *slog.Logger
	OriginOf       func(ip string) string // keyed hash of a client address, for the audit log
	Proxies        ProxyTrust             // reverse proxies whose header names the client
	Signer         auth.Signer            // signs kakunin doctor's canary sessions (nil: no canary)
	Metrics        Observer               // nil: nothing counted (no --metrics-addr)
	Ready          []ReadyCheck           // what /readyz probes
	MaxUploadBytes int64
	SecureCookies  bool // the public URL is https
	KeepBirthDate  bool
	// MailOff: serve runs without --smtp-url, so no mail leaves. Every
	// console page says so, and the public check, whose answer only mail
	// carries, says it is unavailable (for everyone alike).
	MailOff   bool
	PublicURL string // e.g. https://kakunin.example.jp, for absolute links (the Atom feed)
	// Brand is who runs the service, on every page and in the Atom feed.
	Brand brand.Brand
	Now   func() time.Time
}

// Access says who may use a route.
type Access struct {
	Public bool           // anyone, signed in or not
	APIKey bool           // the host platform, with an API key
	Roles  []kakunin.Role // staff with a full session and one of these roles
	// Fresh: the second factor must have been proved within the
	// re-authentication window (sensitive actions).
	Fresh bool
	// Member: a signed-in member (a member session, never a staff one).
	Member bool
}

var (
	public   = Access{Public: true}
	hostAPI  = Access{APIKey: true}
	anyStaff = Access{Roles: kakunin.Roles}
	// memberAccess: the members' portal, behind a member session.
	memberAccess = Access{Member: true}
)

func staffOnly(roles ...kakunin.Role) Access { return Access{Roles: roles} }

func fresh(a Access) Access { a.Fresh = true; return a }

// Route is one entry of the route table.
type Route struct {
	Pattern string // a net/http pattern with its method
	Access  Access
	handler http.Handler
}

// Routes is every route the server answers, with who may use it. The
// authorization test walks this table for every role.
func (s *Server) Routes() []Route {
	reviewer := staffOnly(kakunin.RoleReviewer)
	responder := staffOnly(kakunin.RoleResponder)
	routes := []Route{
		{"GET /healthz", public, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })},
		{"GET /readyz", public, http.HandlerFunc(s.readyz)},
		{"GET /static/", public, staticCache(pages.Static())},
		{"GET /favicon.ico", public, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })},
		{"GET /{$}", public, http.HandlerFunc(s.home)},

		{"PUT /api/v1/members/{external_id}", hostAPI, s.api(s.putMember)},
		{"DELETE /api/v1/members/{external_id}", hostAPI, s.api(s.deleteMember)},
		{"POST /api/v1/verifications", hostAPI, s.api(s.createVerification)},
		{"GET /api/v1/verifications", hostAPI, s.api(s.listVerifications)},
		{"GET /api/v1/verifications/{id}", hostAPI, s.api(s.getVerification)},
		{"POST /api/v1/verifications/{id}/cancel", hostAPI, s.api(s.cancelVerification)},
		{"GET /api/v1/events", hostAPI, s.api(s.listEvents)},
		{"POST /api/v1/events/{id}/redeliver", hostAPI, s.api(s.redeliverEvent)},

		{"GET /notices", public, s.page(s.publicNotices)},
		{"GET /notices/{id}", public, s.page(s.publicNotice)},
		{"GET /notices.atom", public, s.page(s.noticesFeed)},

		{"GET /u/{token}", public, http.HandlerFunc(s.uploadPage)},
		{"POST /u/{token}", public, http.HandlerFunc(s.upload)},
		// The page's form posts here, not to the page's own URL: a cache
		// that keys on the URL without the method would otherwise answer
		// the upload with the stored page and swallow it (docs/caching.md).
		{"POST /u/{token}/send", public, http.HandlerFunc(s.upload)},

		{"GET /console/login", public, http.HandlerFunc(s.loginPage)},
		{"POST /console/login", public, http.HandlerFunc(s.login)},
		{"GET /console/login/totp", public, http.HandlerFunc(s.totpPage)},
		{"POST /console/login/totp", public, http.HandlerFunc(s.totp)},
		{"POST /console/logout", public, http.HandlerFunc(s.logout)},
		{"GET /console/password", anyStaff, s.page(s.passwordPage)},
		{"POST /console/password", anyStaff, s.page(s.changePassword)},
		{"GET /console/reauth", anyStaff, s.page(s.reauthPage)},
		{"POST /console/reauth", anyStaff, s.page(s.reauth)},
		{"GET /console", anyStaff, s.page(s.consoleHome)},

		// Passkeys: an option beside TOTP. Adding or removing one changes
		// how the account signs in, so both need a fresh second factor.
		{"GET /console/passkeys", anyStaff, s.page(s.passkeysPage)},
		{"POST /console/passkeys/options", fresh(anyStaff), http.HandlerFunc(s.passkeyRegisterOptions)},
		{"POST /console/passkeys", fresh(anyStaff), http.HandlerFunc(s.passkeyRegister)},
		{"POST /console/passkeys/{id}/delete", fresh(anyStaff), s.page(s.removePasskey)},
		{"POST /console/login/passkey/options", public, http.HandlerFunc(s.passkeyLoginOptions)},
		{"POST /console/login/passkey", public, http.HandlerFunc(s.passkeyLogin)},
		{"POST /console/reauth/passkey/options", anyStaff, http.HandlerFunc(s.passkeyReauthOptions)},
		{"POST /console/reauth/passkey", anyStaff, http.HandlerFunc(s.passkeyReauth)},

		{"POST /console/tasks/next", reviewer, s.page(s.nextTask)},
		{"GET /console/tasks/{id}", reviewer, s.page(s.task)},
		{"GET /console/images/{token}", reviewer, http.HandlerFunc(s.taskImage)},
		{"POST /console/tasks/{id}/approve", reviewer, s.page(s.approve)},
		{"POST /console/tasks/{id}/reject", reviewer, s.page(s.reject)},
		{"POST /console/tasks/{id}/release", reviewer, s.page(s.release)},

		{"GET /console/verifications", staffOnly(kakunin.RoleSupport), s.page(s.verificationLookup)},

		{"GET /console/audit", staffOnly(kakunin.RoleAuditor), s.page(s.auditLog)},
		{"GET /console/audit/export", fresh(staffOnly(kakunin.RoleAuditor)), s.page(s.auditExport)},
		{"GET /console/incident/scope", staffOnly(kakunin.RoleResponder, kakunin.RoleAuditor), s.page(s.incidentScope)},

		{"GET /console/notices", responder, s.page(s.consoleNotices)},
		{"POST /console/notices", responder, s.page(s.createNotice)},
		{"GET /console/notices/{id}", responder, s.page(s.editNoticePage)},
		{"POST /console/notices/{id}", responder, s.page(s.updateNotice)},
		{"POST /console/notices/{id}/publish", responder, s.page(s.publishNotice)},

		{"GET /console/staff", staffOnly(kakunin.RoleAdmin), s.page(s.staffList)},
		{"POST /console/staff/{id}/unlock", fresh(staffOnly(kakunin.RoleAdmin)), s.page(s.unlockStaff)},
	}
	// The breach desk's areas keep their routes beside their handlers.
	routes = append(routes, s.incidentRoutes()...)
	routes = append(routes, s.exposureRoutes()...)
	routes = append(routes, s.massmailRoutes()...)
	routes = append(routes, s.portalRoutes()...)
	routes = append(routes, s.erasureRoutes()...)
	routes = append(routes, s.canaryRoutes()...)
	routes = append(routes, s.deskRoutes()...)
	routes = append(routes, s.jpkiRoutes()...)
	routes = append(routes, s.openapiRoutes()...)
	return routes
}

// PublicCacheable names the routes whose answers a shared cache may keep,
// each with why: the answer is the same for everyone who asks for that URL
// (it depends on nothing but the URL and Accept-Language, carries no
// Set-Cookie when cacheable, and no personal data). Every other route
// answers Cache-Control: no-store, private (securityHeaders), and
// cache_test.go walks the route table to hold both to it (invariant 7).
// A route is added here only on purpose, never to make a test pass.
var PublicCacheable = map[string]string{
	"GET /static/":      "stylesheet and scripts, named by their content hash",
	"GET /notices":      "the published notices, the same for every visitor in a language",
	"GET /notices/{id}": "one published notice, the same for every visitor in a language",
	"GET /notices.atom": "the notices feed, chosen by ?lang only",
	// The host API's OpenAPI document: the embedded file, the same bytes
	// for every caller (openapi.go).
	"GET /api/v1/openapi.json": "the API's description, one embedded file",
}

// Handler returns the whole service as one handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.Routes() {
		h := rt.handler
		if len(rt.Access.Roles) > 0 {
			h = s.console(h, rt.Access)
		}
		if rt.Access.Member {
			h = s.memberOnly(h)
		}
		mux.Handle(rt.Pattern, h)
	}
	mux.Handle("/api/", apiNoRoute(mux))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "not_found", nil)
	})

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, "forbidden", nil)
	}))
	// withOrigin is outermost: it copies the request, and the mux must set
	// the route pattern on the very request logRequests holds.
	h := securityHeaders(csrf.Handler(mux))
	if strings.HasPrefix(s.PublicURL, "https://") {
		h = strictTransport(h)
	}
	return withRequestID(s.withOrigin(s.recoverPanics(s.logRequests(h))))
}

func staticCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Static files carry a content hash in their URL and nothing personal.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		h.ServeHTTP(w, r)
	})
}
