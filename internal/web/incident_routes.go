package web

import (
	"github.com/kakunin/kakunin"
)

// incidentRoutes is the route table's part for this area (see Routes):
// the incident desk, for responders, which auditors may read; and the
// notice actions that came with it (unpublish, delete).
func (s *Server) incidentRoutes() []Route {
	responder := staffOnly(kakunin.RoleResponder)
	readers := staffOnly(kakunin.RoleResponder, kakunin.RoleAuditor)
	return []Route{
		{"GET /console/incidents", readers, s.page(s.consoleIncidents)},
		{"POST /console/incidents", responder, s.page(s.createIncident)},
		{"GET /console/incidents/{id}", readers, s.page(s.incidentPage)},
		{"POST /console/incidents/{id}", responder, s.page(s.updateIncident)},
		{"POST /console/incidents/{id}/status", responder, s.page(s.advanceIncident)},
		{"POST /console/incidents/{id}/updates", responder, s.page(s.noteIncident)},
		{"POST /console/incidents/{id}/reported", responder, s.page(s.reportedIncident)},
		{"POST /console/incidents/{id}/certifier", responder, s.page(s.addCertifierItem)},
		{"POST /console/incidents/{id}/certifier/{item}/done", responder, s.page(s.certifierItemDone)},
		{"GET /console/incidents/{id}/report", readers, s.page(s.incidentReport)},

		{"POST /console/notices/{id}/unpublish", responder, s.page(s.unpublishNotice)},
		{"POST /console/notices/{id}/delete", responder, s.page(s.deleteNotice)},
	}
}
