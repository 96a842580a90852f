package web

// outboxRoutes is the route table's part for this area (see Routes).
func (s *Server) outboxRoutes() []Route {
	return nil
}
