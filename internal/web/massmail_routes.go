package web

import (
	"net/http"

	"github.com/kakunin/kakunin"
)

// massmailRoutes is the route table's part for this area (see Routes): an
// incident's mass notification. Responders write, preview and run it;
// auditors may read its progress. Starting (and resuming) sends mail to
// every affected member, so it needs a fresh second factor.
func (s *Server) massmailRoutes() []Route {
	responder := staffOnly(kakunin.RoleResponder)
	return []Route{
		{"GET /console/incidents/{id}/notification", staffOnly(kakunin.RoleResponder, kakunin.RoleAuditor), http.HandlerFunc(s.notificationPage)},
		{"POST /console/incidents/{id}/notification", responder, http.HandlerFunc(s.saveNotification)},
		{"GET /console/incidents/{id}/notification/preview", responder, http.HandlerFunc(s.previewNotification)},
		{"POST /console/incidents/{id}/notification/start", fresh(responder), http.HandlerFunc(s.startNotification)},
		{"POST /console/incidents/{id}/notification/pause", responder, http.HandlerFunc(s.pauseNotification)},
		{"POST /console/incidents/{id}/notification/resume", fresh(responder), http.HandlerFunc(s.resumeNotification)},
	}
}
