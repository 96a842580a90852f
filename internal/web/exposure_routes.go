package web

import "net/http"

// exposureRoutes is the route table's part for this area (see Routes): the
// public "am I affected?" form, a member's answer behind a signed link, and
// the host's request for such a link (the hand-off).
func (s *Server) exposureRoutes() []Route {
	return []Route{
		{"GET /check", public, http.HandlerFunc(s.checkPage)},
		{"POST /check", public, http.HandlerFunc(s.submitCheck)},
		{"GET /check/r/{token}", public, http.HandlerFunc(s.checkResult)},
		{"POST /api/v1/members/{external_id}/exposure-link", hostAPI, s.api(s.exposureLink)},
	}
}
