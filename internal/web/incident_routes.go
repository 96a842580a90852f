package web

// incidentRoutes is the route table's part for this area (see Routes).
func (s *Server) incidentRoutes() []Route {
	return nil
}
