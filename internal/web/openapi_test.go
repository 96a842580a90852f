package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	liberrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/schema_validation"
	"github.com/pb33f/libopenapi/datamodel/high/base"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/erasure"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/verification"
)

func init() {
	addAuthz(map[string]string{"GET /api/v1/openapi.json": "public"})
}

// openAPIModel parses the embedded document and checks it against the
// OpenAPI 3.1 specification's own schema.
func openAPIModel(t *testing.T) (*v3.Document, validator.Validator) {
	t.Helper()
	doc, err := libopenapi.NewDocument(OpenAPIDocument)
	if err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi.json is OpenAPI %s, want 3.1", v)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("openapi.json does not build: %v", err)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatalf("validator: %v", errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("openapi.json against the OpenAPI schema: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	return &model.Model, v
}

// documentedOperations is every "METHOD /path" the document describes.
func documentedOperations(m *v3.Document) map[string]bool {
	out := map[string]bool{}
	for path, item := range m.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			out[strings.ToUpper(method)+" "+path] = true
		}
	}
	return out
}

// The document and the route table name the same host routes: a route
// added to the API without its description fails here, and so does a
// description of a route that is gone. net/http patterns and OpenAPI paths
// write parameters alike ({id}).
func TestTheOpenAPIDocumentNamesEveryHostRouteAndNoOther(t *testing.T) {
	m, _ := openAPIModel(t)
	documented := documentedOperations(m)
	srv := &Server{}
	served := map[string]bool{}
	for _, rt := range srv.Routes() {
		_, path := requestPath(rt.Pattern)
		if !rt.Access.APIKey && !strings.HasPrefix(path, "/api/") {
			continue
		}
		served[rt.Pattern] = true
		if !documented[rt.Pattern] {
			t.Errorf("the route %q is not in internal/web/openapi.json", rt.Pattern)
		}
	}
	for op := range documented {
		if !served[op] {
			t.Errorf("internal/web/openapi.json describes %q, which the server does not serve", op)
		}
	}
	if len(served) < 10 {
		t.Fatalf("only %d host routes found: the walk is broken", len(served))
	}
	// Every documented operation says which errors it answers, in the
	// one error shape.
	for path, item := range m.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			if op.OperationId == "" || op.Description == "" {
				t.Errorf("%s %s has no operationId or description", method, path)
			}
		}
	}
}

// Every event type the code can emit has its payload under webhooks.
func TestTheOpenAPIDocumentDescribesEveryWebhookType(t *testing.T) {
	m, _ := openAPIModel(t)
	types := []string{"member.erasure_requested", "member.erased"} // internal/erasure
	for _, st := range kakunin.Statuses {
		if st != kakunin.StatusAwaitingUpload { // opening sends nothing
			types = append(types, verification.EventType(st))
		}
	}
	for _, typ := range types {
		if _, ok := m.Webhooks.Get(typ); !ok {
			t.Errorf("webhooks has no %s", typ)
		}
	}
	if n := m.Webhooks.Len(); n != len(types) {
		t.Errorf("webhooks names %d types, the code emits %d", n, len(types))
	}
}

// schemaProblems validates body against the named component schema.
func schemaProblems(t *testing.T, m *v3.Document, name string, body []byte) []string {
	t.Helper()
	proxy, ok := m.Components.Schemas.Get(name)
	if !ok {
		t.Fatalf("no schema %s", name)
	}
	return validateAgainst(proxy.Schema(), body)
}

func validateAgainst(schema *base.Schema, body []byte) []string {
	ok, errs := schema_validation.NewSchemaValidator().ValidateSchemaBytes(schema, body)
	if ok {
		return nil
	}
	var out []string
	for _, e := range errs {
		out = append(out, e.Message+": "+e.Reason)
		for _, se := range e.SchemaValidationErrors {
			out = append(out, "  "+se.FieldPath+": "+se.Reason)
		}
	}
	return out
}

// openAPIFlow sends requests through the real handlers over a real
// database and validates each answer against the document.
type openAPIFlow struct {
	*testConsole
	model *v3.Document
	v     validator.Validator
	key   string
}

// call sends one API request and checks its answer's status and, through
// the document, its headers and body; a request meant to succeed is
// validated against the document too.
func (f *openAPIFlow) call(method, path, contentType, body string, header map[string]string, want int) *httptest.ResponseRecorder {
	f.t.Helper()
	newReq := func() *http.Request {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if f.key != "" {
			req.Header.Set("Authorization", "Bearer "+f.key)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return req
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, newReq())
	if rec.Code != want {
		f.t.Fatalf("%s %s = %d %s, want %d", method, path, rec.Code, rec.Body, want)
	}
	if want < 300 {
		if ok, errs := f.v.ValidateHttpRequestSync(newReq()); !ok {
			for _, e := range errs {
				f.t.Errorf("request %s %s: %s: %s", method, path, e.Message, e.Reason)
			}
		}
	}
	resp := rec.Result()
	resp.Body = nopCloser{bytes.NewReader(rec.Body.Bytes())}
	if ok, errs := f.v.ValidateHttpResponse(newReq(), resp); !ok {
		for _, e := range errs {
			f.t.Errorf("answer to %s %s (%d): %s: %s %v", method, path, rec.Code, e.Message, e.Reason, schemaFailures(e.SchemaValidationErrors))
		}
	}
	return rec
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// unrouted sends a request no documented operation takes (an unknown
// route, a method a route does not take) and checks its error body against
// the document's Error schema.
func (f *openAPIFlow) unrouted(method, path string, want int) *httptest.ResponseRecorder {
	f.t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("Authorization", "Bearer "+f.key)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != want {
		f.t.Fatalf("%s %s = %d, want %d", method, path, rec.Code, want)
	}
	for _, p := range schemaProblems(f.t, f.model, "Error", rec.Body.Bytes()) {
		f.t.Errorf("%s %s error body: %s", method, path, p)
	}
	return rec
}

func (f *openAPIFlow) decide(extID string, decide func(reviewer, docID string) error) string {
	f.t.Helper()
	docID := f.submitted(extID, kakunin.DocPassport)
	reviewer := f.signIn(kakunin.RoleReviewer).staffID
	if _, err := f.env.Review.Next(f.t.Context(), reviewer); err != nil {
		f.t.Fatal(err)
	}
	if err := decide(reviewer, docID); err != nil {
		f.t.Fatal(err)
	}
	d, err := f.env.DB.Document(f.t.Context(), docID)
	if err != nil {
		f.t.Fatal(err)
	}
	return d.VerificationID
}

// The e2e flow of a host, through the real handlers and a real database on
// both engines, answer by answer against the document: members, opening,
// idempotent retries and conflicts, the list and its cursors, a cancel, a
// decision of each kind (adult, unreadable, under age), events and a
// redelivery, the member links, the HTTP errors; then every webhook body
// the flow queued against the document's webhooks.
func TestRealAnswersAndWebhooksMatchTheOpenAPIDocument(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		model, v := openAPIModel(t)
		f := &openAPIFlow{testConsole: newTestConsole(t, dsn), model: model, v: v}
		const js = "application/json"

		// The document itself: public, the embedded bytes, cacheable.
		rec := f.call(http.MethodGet, "/api/v1/openapi.json", "", "", nil, http.StatusOK)
		if !bytes.Equal(rec.Body.Bytes(), OpenAPIDocument) || !strings.Contains(rec.Header().Get("Cache-Control"), "public") {
			t.Fatalf("GET /api/v1/openapi.json: %s, %d bytes", rec.Header().Get("Cache-Control"), rec.Body.Len())
		}
		f.unrouted(http.MethodGet, "/api/v1/verifications", http.StatusUnauthorized)
		f.key = f.apiKey()

		f.call(http.MethodPut, "/api/v1/members/m-oa", js, `{"email":"oa@example.jp","locale":"en"}`, nil, http.StatusCreated)
		f.call(http.MethodPut, "/api/v1/members/m-oa", js, `{"email":"oa2@example.jp"}`, nil, http.StatusOK)
		f.call(http.MethodPut, "/api/v1/members/m-oa", js, `{"email":1}`, nil, http.StatusBadRequest)
		f.call(http.MethodPut, "/api/v1/members/m-oa", "text/plain", `{"email":"x@example.jp"}`, nil, http.StatusUnsupportedMediaType)

		idem := map[string]string{HeaderIdempotencyKey: "oa-open-1"}
		open := `{"external_id":"m-oa","metadata":{"plan":"premium"},"client_reference_id":"signup-42"}`
		first := decodeMap(t, f.call(http.MethodPost, "/api/v1/verifications", js, open, idem, http.StatusCreated).Body.Bytes())
		if rec := f.call(http.MethodPost, "/api/v1/verifications", js, open, idem, http.StatusCreated); rec.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatal("the retry was not a replay")
		}
		f.call(http.MethodPost, "/api/v1/verifications", js, `{"external_id":"m-oa"}`, idem, http.StatusConflict)
		f.call(http.MethodPost, "/api/v1/verifications", js, `{"external_id":"m-oa"}`, nil, http.StatusOK)
		f.call(http.MethodPost, "/api/v1/verifications", js, `{"external_id":"m-oa","methods":["fax"]}`, nil, http.StatusBadRequest)
		f.call(http.MethodPost, "/api/v1/verifications", js, `{"external_id":"m-oa"}`, map[string]string{HeaderIdempotencyKey: strings.Repeat("k", 256)}, http.StatusBadRequest)
		id := first["id"].(string)
		f.call(http.MethodGet, "/api/v1/verifications/"+id, "", "", nil, http.StatusOK)
		f.call(http.MethodGet, "/api/v1/verifications/ver_nope", "", "", nil, http.StatusNotFound)

		// Decisions of every kind: adult, a bad photo (no adult), a minor.
		approved := f.decide("m-ok", func(reviewer, doc string) error {
			return f.env.Review.Approve(t.Context(), reviewer, doc, review.Approval{DocumentName: "旅券", Issuer: "外務省", BirthDate: "1990-04-01"})
		})
		unreadable := f.decide("m-bad", func(reviewer, doc string) error {
			return f.env.Review.Reject(t.Context(), reviewer, doc, "unreadable")
		})
		minor := f.decide("m-minor", func(reviewer, doc string) error {
			return f.env.Review.Reject(t.Context(), reviewer, doc, review.ReasonUnderAge)
		})
		for _, vid := range []string{approved, unreadable, minor} {
			got := decodeMap(t, f.call(http.MethodGet, "/api/v1/verifications/"+vid, "", "", nil, http.StatusOK).Body.Bytes())
			_, hasAdult := got["result"].(map[string]any)["adult"]
			if hasAdult != (vid != unreadable) {
				t.Errorf("%s: result %v", vid, got["result"])
			}
		}

		// The list, a page at a time, and its refusals.
		page := decodeMap(t, f.call(http.MethodGet, "/api/v1/verifications?limit=1", "", "", nil, http.StatusOK).Body.Bytes())
		cursor, _ := page["next_starting_after"].(string)
		if cursor == "" {
			t.Fatalf("first page %v has no cursor", page)
		}
		f.call(http.MethodGet, "/api/v1/verifications?limit=1&starting_after="+cursor, "", "", nil, http.StatusOK)
		f.call(http.MethodGet, "/api/v1/verifications?limit=1000&status=rejected", "", "", nil, http.StatusOK)
		f.call(http.MethodGet, "/api/v1/verifications?external_id=m-oa&starting_after="+cursor, "", "", nil, http.StatusBadRequest)
		f.call(http.MethodGet, "/api/v1/verifications?status=lost", "", "", nil, http.StatusBadRequest)

		f.call(http.MethodPost, "/api/v1/verifications/"+id+"/cancel", "", "", map[string]string{HeaderIdempotencyKey: "oa-cancel"}, http.StatusOK)
		f.call(http.MethodPost, "/api/v1/verifications/"+id+"/cancel", "", "", nil, http.StatusConflict)

		// The member links, and doctor's canary.
		f.call(http.MethodPost, "/api/v1/members/m-oa/portal-link", "", "", nil, http.StatusCreated)
		f.call(http.MethodPost, "/api/v1/members/m-oa/exposure-link", "", "", nil, http.StatusOK)
		f.call(http.MethodPost, "/api/v1/members/m-oa/inquiry-link", "", "", nil, http.StatusCreated)
		f.call(http.MethodPost, "/api/v1/members/nobody/portal-link", "", "", nil, http.StatusNotFound)
		f.call(http.MethodPost, "/api/v1/doctor/canary", "", "", nil, http.StatusCreated)

		// A member's erasure, for its two webhooks.
		m, err := f.env.DB.MemberByExternalID(t.Context(), "m-ok")
		if err != nil {
			t.Fatal(err)
		}
		support := erasure.Actor{Role: "support", Audit: "staff:stf_oa"}
		r, err := f.srv.Erasure.Request(context.Background(), m.ID, erasure.ViaSupport, support, "host confirmed the member by phone")
		if err != nil {
			t.Fatal(err)
		}
		if r.State != erasure.Verified {
			if err := f.srv.Erasure.Verify(context.Background(), r.ID, support, "checked"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.srv.Erasure.Complete(context.Background(), r.ID, erasure.Actor{Role: "admin", Audit: "staff:stf_oa2"}); err != nil {
			t.Fatal(err)
		}

		// Events: the log, a page at a time, a redelivery.
		events := decodeMap(t, f.call(http.MethodGet, "/api/v1/events", "", "", nil, http.StatusOK).Body.Bytes())
		list := events["data"].([]any)
		if len(list) == 0 {
			t.Fatal("no events listed")
		}
		firstEvent := list[0].(map[string]any)["id"].(string)
		f.call(http.MethodGet, "/api/v1/events?limit=1&type=verification.approved", "", "", nil, http.StatusOK)
		f.call(http.MethodGet, "/api/v1/events?after="+firstEvent, "", "", nil, http.StatusOK)
		f.call(http.MethodGet, "/api/v1/events?after=evt_forged", "", "", nil, http.StatusBadRequest)
		f.call(http.MethodPost, "/api/v1/events/"+firstEvent+"/redeliver", "", "", nil, http.StatusAccepted)
		f.call(http.MethodPost, "/api/v1/events/evt_nope/redeliver", "", "", nil, http.StatusNotFound)

		f.call(http.MethodDelete, "/api/v1/members/m-oa", "", "", nil, http.StatusNoContent)

		// What no operation takes.
		f.unrouted(http.MethodGet, "/api/v1/nothing", http.StatusNotFound)
		if rec := f.unrouted(http.MethodPatch, "/api/v1/verifications", http.StatusMethodNotAllowed); rec.Header().Get("Allow") == "" {
			t.Error("405 without Allow")
		}

		// Every webhook body the flow queued, against webhooks.
		seen := map[string]bool{}
		for _, job := range f.queuedDeliveries() {
			ev := job.Event
			body, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			item, ok := model.Webhooks.Get(ev.Type)
			if !ok || item.Post == nil {
				t.Errorf("webhook %s is not in the document", ev.Type)
				continue
			}
			media, _ := item.Post.RequestBody.Content.Get("application/json")
			for _, p := range validateAgainst(media.Schema.Schema(), body) {
				t.Errorf("webhook %s %s: %s", ev.Type, body, p)
			}
			seen[ev.Type] = true
		}
		for _, typ := range []string{"verification.submitted", "verification.approved", "verification.rejected", "verification.canceled", "member.erasure_requested", "member.erased"} {
			if !seen[typ] {
				t.Errorf("the flow queued no %s webhook to validate (queued: %v)", typ, slices.Sorted(mapsKeys(seen)))
			}
		}
	})
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func schemaFailures(fs []*liberrors.SchemaValidationFailure) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.FieldPath+": "+f.Reason)
	}
	return out
}

// The validation above must be able to fail: an answer with a field the
// document does not name, a missing one, an adult that is not a boolean, or
// an error without its request_id is refused.
func TestTheOpenAPIValidationRefusesWrongAnswers(t *testing.T) {
	m, v := openAPIModel(t)
	good := `{"id":"ver_1","external_id":"m","status":"rejected","result":{"document_type":"passport","reject_reason":"unreadable","checked_at":"2026-11-25T04:12:00Z"},` +
		`"method":"photo","metadata":{},"client_reference_id":null,"expires_at":"2026-11-26T03:00:00Z","created_at":"2026-11-25T03:00:00Z","updated_at":"2026-11-25T04:12:00Z"}`
	if p := schemaProblems(t, m, "Verification", []byte(good)); p != nil {
		t.Fatalf("a right answer is refused: %v", p)
	}
	for name, body := range map[string]string{
		"unknown field":     strings.Replace(good, `"method":"photo"`, `"method":"photo","extra":1`, 1),
		"missing field":     strings.Replace(good, `"client_reference_id":null,`, ``, 1),
		"adult null":        strings.Replace(good, `"document_type"`, `"adult":null,"document_type"`, 1),
		"fractional time":   strings.Replace(good, `04:12:00Z"}`, `04:12:00.123Z"}`, 1),
		"unknown status":    strings.Replace(good, `"rejected"`, `"declined"`, 1),
		"unknown rejection": strings.Replace(good, `"unreadable"`, `"blurry"`, 1),
	} {
		if schemaProblems(t, m, "Verification", []byte(body)) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if schemaProblems(t, m, "Error", []byte(`{"error":{"code":"not_found","message":"x"}}`)) == nil {
		t.Error("an error body without request_id is accepted")
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/verifications/ver_1", nil)
	resp := &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_0123456789abcdef01234567"}},
		Body: nopCloser{bytes.NewReader([]byte(`{"id":"ver_1"}`))}, Request: req}
	if ok, _ := v.ValidateHttpResponse(req, resp); ok {
		t.Error("a response missing every field but id is accepted")
	}
}

// The document's examples are what a host reads first: each one holds to
// its own schema.
func TestTheOpenAPIExamplesMatchTheirSchemas(t *testing.T) {
	m, _ := openAPIModel(t)
	n := 0
	for name, proxy := range m.Components.Schemas.FromOldest() {
		s := proxy.Schema()
		for i, ex := range s.Examples {
			var v any
			if err := ex.Decode(&v); err != nil {
				t.Fatalf("%s example %d: %v", name, i, err)
			}
			body, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range validateAgainst(s, body) {
				t.Errorf("%s example %d: %s", name, i, p)
			}
			n++
		}
	}
	check := func(where string, media *v3.MediaType) {
		for exName, ex := range media.Examples.FromOldest() {
			var v any
			if err := ex.Value.Decode(&v); err != nil {
				t.Fatalf("%s example %s: %v", where, exName, err)
			}
			body, _ := json.Marshal(v)
			for _, p := range validateAgainst(media.Schema.Schema(), body) {
				t.Errorf("%s example %s: %s", where, exName, p)
			}
			n++
		}
	}
	for code, r := range m.Components.Responses.FromOldest() {
		for ct, media := range r.Content.FromOldest() {
			check("response "+code+" "+ct, media)
		}
	}
	for path, item := range m.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			for code, r := range op.Responses.Codes.FromOldest() {
				for ct, media := range r.Content.FromOldest() {
					check(method+" "+path+" "+code+" "+ct, media)
				}
			}
		}
	}
	if n < 25 {
		t.Fatalf("only %d examples checked", n)
	}
}

func TestTheOpenAPIResponseValidationChecksRequiredHeaders(t *testing.T) {
	_, v := openAPIModel(t)
	req := httptest.NewRequest(http.MethodPut, "/api/v1/members/m", strings.NewReader(`{"email":"a@example.jp"}`))
	req.Header.Set("Content-Type", "application/json")
	body := `{"external_id":"m","email":"a@example.jp","locale":"ja","created_at":"2026-11-25T03:00:00Z","updated_at":"2026-11-25T03:00:00Z"}`
	resp := &http.Response{StatusCode: http.StatusCreated, Header: http.Header{"Content-Type": {"application/json"}, "Request-Id": {"req_0123456789abcdef01234567"}},
		Body: nopCloser{bytes.NewReader([]byte(body))}, Request: req}
	if ok, _ := v.ValidateHttpResponse(req, resp); ok {
		t.Error("a 201 without Location is accepted")
	}
}
