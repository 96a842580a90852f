package web

import "net/http"

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request)      { s.errorPage(w, r, 501, "internal", nil) }
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request)   { s.errorPage(w, r, 501, "internal", nil) }
func (s *Server) incidentScope(w http.ResponseWriter, r *http.Request) { s.errorPage(w, r, 501, "internal", nil) }
