package web

import (
	"github.com/kakunin/kakunin"
)

// massmailRoutes is the route table's part for this area (see Routes): an
// incident's mass notification. Responders write, preview and run it;
// auditors may read its progress. Starting (and resuming) sends mail to
// every affected member, so it needs a fresh second factor.
func (s *Server) massmailRoutes() []Route {
	responder := staffOnly(kakunin.RoleResponder)
	return []Route{
		{"GET /console/incidents/{id}/notification", staffOnly(kakunin.RoleResponder, kakunin.RoleAuditor), s.page(s.notificationPage)},
		{"POST /console/incidents/{id}/notification", responder, s.page(s.saveNotification)},
		{"GET /console/incidents/{id}/notification/preview", responder, s.page(s.previewNotification)},
		{"POST /console/incidents/{id}/notification/start", fresh(responder), s.page(s.startNotification)},
		{"POST /console/incidents/{id}/notification/pause", responder, s.page(s.pauseNotification)},
		{"POST /console/incidents/{id}/notification/resume", fresh(responder), s.page(s.resumeNotification)},
	}
}
