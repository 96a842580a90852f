package web

import (
	"github.com/kakunin/kakunin"
)

// massmailRoutes is the route table's part for this area (see Routes): an
// incident's mass notification. Responders write, preview and run it;
// auditors may read its progress. Starting (and resuming) sends mail to
// every affected member: it goes through a confirmation page and needs the
// second factor with the form itself, every time (not the re-authentication
// window, which one earlier action would have opened).
func (s *Server) massmailRoutes() []Route {
	responder := staffOnly(kakunin.RoleResponder)
	return []Route{
		{"GET /console/incidents/{id}/notification", staffOnly(kakunin.RoleResponder, kakunin.RoleAuditor), s.page(s.notificationPage)},
		{"POST /console/incidents/{id}/notification", responder, s.page(s.saveNotification)},
		{"GET /console/incidents/{id}/notification/preview", responder, s.page(s.previewNotification)},
		{"GET /console/incidents/{id}/notification/confirm", responder, s.page(s.confirmNotification)},
		{"POST /console/incidents/{id}/notification/start", responder, s.page(s.startNotification)},
		{"POST /console/incidents/{id}/notification/pause", responder, s.page(s.pauseNotification)},
		{"POST /console/incidents/{id}/notification/resume", responder, s.page(s.resumeNotification)},
	}
}
