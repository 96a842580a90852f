package web

import (
	"net/http"

	"github.com/kakunin/kakunin"
)

// incidentRoutes is the route table's part for this area (see Routes):
// the incident desk, for responders, which auditors may read; and the
// notice actions that came with it (unpublish, delete).
func (s *Server) incidentRoutes() []Route {
	responder := staffOnly(kakunin.RoleResponder)
	readers := staffOnly(kakunin.RoleResponder, kakunin.RoleAuditor)
	return []Route{
		{"GET /console/incidents", readers, http.HandlerFunc(s.consoleIncidents)},
		{"POST /console/incidents", responder, http.HandlerFunc(s.createIncident)},
		{"GET /console/incidents/{id}", readers, http.HandlerFunc(s.incidentPage)},
		{"POST /console/incidents/{id}", responder, http.HandlerFunc(s.updateIncident)},
		{"POST /console/incidents/{id}/status", responder, http.HandlerFunc(s.advanceIncident)},
		{"POST /console/incidents/{id}/updates", responder, http.HandlerFunc(s.noteIncident)},
		{"POST /console/incidents/{id}/reported", responder, http.HandlerFunc(s.reportedIncident)},
		{"POST /console/incidents/{id}/certifier", responder, http.HandlerFunc(s.addCertifierItem)},
		{"POST /console/incidents/{id}/certifier/{item}/done", responder, http.HandlerFunc(s.certifierItemDone)},
		{"GET /console/incidents/{id}/report", readers, http.HandlerFunc(s.incidentReport)},

		{"POST /console/notices/{id}/unpublish", responder, http.HandlerFunc(s.unpublishNotice)},
		{"POST /console/notices/{id}/delete", responder, http.HandlerFunc(s.deleteNotice)},
	}
}
