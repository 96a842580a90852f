package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// apiKey makes a fresh API key for the test console.
func (c *testConsole) apiKey() string {
	c.t.Helper()
	_, key, err := auth.CreateAPIKey(c.t.Context(), c.env.DB, "host", c.now)
	if err != nil {
		c.t.Fatal(err)
	}
	return key
}

// apiCallType is apiCall with a chosen Content-Type ("" sends none).
func (c *testConsole) apiCallType(key, method, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

type apiErrorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

func decodeAPIError(t *testing.T, rec *httptest.ResponseRecorder) apiErrorBody {
	t.Helper()
	var e apiErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body %q is not JSON: %v", rec.Body, err)
	}
	return e
}

var requestIDPattern = regexp.MustCompile(`^req_[0-9a-f]{24}$`)

func TestEveryResponseCarriesARequestIDThatErrorsQuote(t *testing.T) {
	c := newTestConsole(t, storetest.SQLiteDSN(t))
	key := c.apiKey()
	seen := map[string]bool{}
	for _, path := range []string{"/healthz", "/console/login", "/nothing-here", "/api/v1/verifications/ver_nope", "/api/v1/nope"} {
		rec := c.apiCall(key, http.MethodGet, path, "")
		id := rec.Header().Get(HeaderRequestID)
		if !requestIDPattern.MatchString(id) {
			t.Fatalf("GET %s: Request-Id = %q, want req_ and 24 hex digits", path, id)
		}
		if seen[id] {
			t.Fatalf("GET %s: Request-Id %s given twice", path, id)
		}
		seen[id] = true
		if strings.HasPrefix(path, "/api/") {
			if e := decodeAPIError(t, rec); e.Error.RequestID != id {
				t.Fatalf("GET %s: error quotes request_id %q, header says %q", path, e.Error.RequestID, id)
			}
		}
	}
	// A client cannot choose the ID its request is logged under.
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set(HeaderRequestID, "req_forged")
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	if rec.Header().Get(HeaderRequestID) == "req_forged" {
		t.Fatal("the client's Request-Id was taken")
	}
}

func TestAPIWrongMethodIs405WithAllowAndUnknownRouteIs404(t *testing.T) {
	c := newTestConsole(t, storetest.SQLiteDSN(t))
	key := c.apiKey()
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodDelete, "/api/v1/verifications", http.StatusMethodNotAllowed, "GET, POST, HEAD"},
		{http.MethodPost, "/api/v1/verifications/ver_1", http.StatusMethodNotAllowed, "GET, HEAD"},
		{http.MethodGet, "/api/v1/members/m-1", http.StatusMethodNotAllowed, "PUT, DELETE"},
		{http.MethodGet, "/api/v1/nothing", http.StatusNotFound, ""},
		{http.MethodPost, "/api/v2/verifications", http.StatusNotFound, ""},
	} {
		rec := c.apiCall(key, tc.method, tc.path, "")
		if rec.Code != tc.status || rec.Header().Get("Allow") != tc.allow {
			t.Errorf("%s %s = %d Allow %q, want %d Allow %q", tc.method, tc.path, rec.Code, rec.Header().Get("Allow"), tc.status, tc.allow)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s %s: Content-Type %q, want JSON", tc.method, tc.path, ct)
		}
		decodeAPIError(t, rec)
	}
}

func TestAPIBodyThatIsNotJSONIs415(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		key := c.apiKey()
		body := `{"email":"a@example.jp"}`
		for _, ct := range []string{"", "application/x-www-form-urlencoded", "text/plain", "application/jsonx"} {
			rec := c.apiCallType(key, http.MethodPut, "/api/v1/members/m-415", ct, body)
			if rec.Code != http.StatusUnsupportedMediaType || decodeAPIError(t, rec).Error.Code != "unsupported" {
				t.Errorf("Content-Type %q: %d %s, want 415 unsupported", ct, rec.Code, rec.Body)
			}
		}
		if rec := c.apiCallType(key, http.MethodPut, "/api/v1/members/m-415", "application/json; charset=utf-8", body); rec.Code != http.StatusCreated {
			t.Fatalf("application/json; charset=utf-8: %d %s, want 201", rec.Code, rec.Body)
		}
	})
}

var secondsTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)

// checkTimes fails unless every *_at field at any depth is RFC 3339 UTC
// in whole seconds.
func checkTimes(t *testing.T, what string, v any) {
	t.Helper()
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && strings.HasSuffix(k, "_at") && !secondsTime.MatchString(s) {
				t.Errorf("%s: %s = %q, want RFC 3339 UTC seconds", what, k, s)
			}
			checkTimes(t, what, e)
		}
	case []any:
		for _, e := range x {
			checkTimes(t, what, e)
		}
	}
}

func TestEvery201HasLocationAndTimesAreWholeSecondsUTC(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		c.now = c.now.Add(123456789) // a fraction of a second the API must not show
		c.env.Clock.Set(c.now)
		key := c.apiKey()
		rec := c.apiCall(key, http.MethodPut, "/api/v1/members/m%2Floc", `{"email":"loc@example.jp"}`)
		if rec.Code != http.StatusBadRequest {
			t.Fatalf("member id with '/': %d, want 400", rec.Code)
		}
		for _, step := range []struct{ method, path, body, location string }{
			{http.MethodPut, "/api/v1/members/m-loc", `{"email":"loc@example.jp"}`, "/api/v1/members/m-loc"},
			{http.MethodPost, "/api/v1/verifications", `{"external_id":"m-loc"}`, "/api/v1/verifications/ver_"},
			{http.MethodPost, "/api/v1/members/m-loc/portal-link", "", "https://kakunin.example.jp/signin/"},
		} {
			rec := c.apiCall(key, step.method, step.path, step.body)
			if rec.Code != http.StatusCreated || !strings.HasPrefix(rec.Header().Get("Location"), step.location) {
				t.Fatalf("%s %s = %d Location %q, want 201 Location %s…", step.method, step.path, rec.Code, rec.Header().Get("Location"), step.location)
			}
			var out map[string]any
			if err := json.NewDecoder(bytes.NewReader(rec.Body.Bytes())).Decode(&out); err != nil {
				t.Fatal(err)
			}
			checkTimes(t, step.path, out)
			if id, ok := out["id"].(string); ok {
				get := c.apiCall(key, http.MethodGet, rec.Header().Get("Location"), "")
				if get.Code != http.StatusOK || !strings.Contains(get.Body.String(), id) {
					t.Fatalf("GET Location = %d %s", get.Code, get.Body)
				}
			}
		}
	})
}
