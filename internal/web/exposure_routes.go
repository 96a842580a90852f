package web

// exposureRoutes is the route table's part for this area (see Routes).
func (s *Server) exposureRoutes() []Route {
	return nil
}
