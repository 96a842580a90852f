package web

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
)

// OpenAPIDocument is the OpenAPI 3.1 description of the host API: every
// route, schema, error and webhook payload. It is kept in the repository
// (internal/web/openapi.json) and served as it is, so that the file a host
// generates a client from and the one the server answers are the same
// bytes. openapi_test.go holds it to the route table and validates real
// answers and webhook bodies against it.
//
//go:embed openapi.json
var OpenAPIDocument []byte

// openapiETag lets a cache or a client revalidate the document cheaply;
// it changes only with a new build.
var openapiETag = func() string {
	sum := sha256.Sum256(OpenAPIDocument)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}()

// openapiRoutes is the route table's part for the API's own description.
// It is public: it holds nothing personal and is the same for everyone, so
// a client generator needs no key to read it.
func (s *Server) openapiRoutes() []Route {
	return []Route{{"GET /api/v1/openapi.json", public, http.HandlerFunc(serveOpenAPI)}}
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	// The same bytes for every caller, whoever they are (PublicCacheable):
	// the personal-answer defaults of securityHeaders do not apply.
	h.Set("Cache-Control", "public, max-age=3600")
	h.Del("Pragma")
	h.Del("Vary")
	h.Set("ETag", openapiETag)
	if match := r.Header.Get("If-None-Match"); match == openapiETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Write(OpenAPIDocument)
}
