package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/pb33f/libopenapi-validator/paths"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
)

// The host API's OpenAPI document, the file the binary embeds and serves,
// read once for every e2e test: each answer instance.API receives from the
// real binary is checked against it (the document is the contract a host
// generates its client from).
var openAPI = sync.OnceValues(func() (*openAPIChecker, error) {
	raw, err := os.ReadFile(filepath.Join("..", "internal", "web", "openapi.json"))
	if err != nil {
		return nil, err
	}
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapi.json: %v", errs)
	}
	return &openAPIChecker{model: &model.Model, v: v}, nil
})

type openAPIChecker struct {
	mu    sync.Mutex // the validator's caches are not documented as safe for concurrent use
	model *v3.Document
	v     validator.Validator
}

// problems returns what is wrong with one answer to req, by the document.
// An answer to what no documented operation takes (an unknown route, a
// wrong method) must be a 404 or 405 in the document's Error shape.
func (c *openAPIChecker) problems(req *http.Request, resp *http.Response, body []byte) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	if _, errs, _ := paths.FindPath(req, c.model, config.NewValidationOptions()); len(errs) > 0 {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			return []string{fmt.Sprintf("%s %s answered %d, and the document has no such operation", req.Method, req.URL.Path, resp.StatusCode)}
		}
		schema, _ := c.model.Components.Schemas.Get("Error")
		if ok, errs := schema_validation.NewSchemaValidator().ValidateSchemaBytes(schema.Schema(), body); !ok {
			for _, e := range errs {
				out = append(out, "error body: "+e.Message+": "+e.Reason)
			}
		}
		return out
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if ok, errs := c.v.ValidateHttpResponse(req, resp); !ok {
		for _, e := range errs {
			line := e.Message + ": " + e.Reason
			for _, f := range e.SchemaValidationErrors {
				line += "; " + f.FieldPath + ": " + f.Reason
			}
			out = append(out, line)
		}
	}
	return out
}

// checkOpenAPI fails the test for an answer the document does not describe.
func (in *instance) checkOpenAPI(req *http.Request, resp *http.Response, body []byte) {
	in.t.Helper()
	c, err := openAPI()
	if err != nil {
		in.t.Fatal(err)
	}
	for _, p := range c.problems(req, resp, body) {
		in.t.Errorf("%s %s (%d) against internal/web/openapi.json: %s", req.Method, req.URL.Path, resp.StatusCode, p)
	}
}
