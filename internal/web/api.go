package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/verification"
)

const maxJSONBody = 64 << 10

type apiKeyCtx struct{}

// api wraps a JSON handler with API-key authentication and error mapping.
func (s *Server) api(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kakunin"`)
			writeJSONError(w, http.StatusUnauthorized, kakunin.EUNAUTHORIZED, "send the API key as Authorization: Bearer <key>")
			return
		}
		key, err := s.APIKeys.Check(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			s.apiError(w, r, err)
			return
		}
		ctx := context.WithValue(r.Context(), apiKeyCtx{}, key)
		r = r.WithContext(audit.WithActor(ctx, "apikey:"+key.ID))
		if err := s.idempotent(w, r, key.ID, h); err != nil {
			s.apiError(w, r, err)
		}
	})
}

func (s *Server) apiError(w http.ResponseWriter, r *http.Request, err error) {
	s.logInternal(r, err)
	code := kakunin.ErrorCode(err)
	if code == kakunin.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kakunin"`)
	}
	writeJSONError(w, statusOf(code), code, kakunin.ErrorMessage(err))
}

// writeJSONError writes {"error": {"code", "message", "request_id"}}; the
// request ID is the response's Request-Id, for the host to quote to support.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	e := map[string]string{"code": code, "message": message}
	if id := w.Header().Get(HeaderRequestID); id != "" {
		e["request_id"] = id
	}
	writeJSON(w, status, map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v)
}

// decodeJSON reads one JSON object into v, refusing unknown fields, keys
// named twice in one object (at any depth), trailing data and bodies over
// 64 KiB, and a body not sent as application/json (415: curl -d sends a
// form type, and a host should learn that at once, not from a surprise).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return kakunin.Errorf(kakunin.ETOOLARGE, "the request body is larger than 64 KiB")
		}
		return kakunin.Errorf(kakunin.EINVALID, "the request body could not be read")
	}
	if err := checkDuplicateKeys(data); err != nil {
		return kakunin.Errorf(kakunin.EINVALID, "the request body is not valid JSON for this route: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return kakunin.Errorf(kakunin.EINVALID, "the request body is not valid JSON for this route: %s", jsonProblem(err))
	}
	if dec.More() {
		return kakunin.Errorf(kakunin.EINVALID, "the request body must hold exactly one JSON object")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "syntax error"
	case errors.As(err, &typ):
		return "field " + typ.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	case errors.Is(err, io.EOF):
		return "empty body"
	}
	return "malformed"
}

type memberJSON struct {
	ExternalID string         `json:"external_id"`
	Email      string         `json:"email"`
	Locale     kakunin.Locale `json:"locale"`
	CreatedAt  apiTime        `json:"created_at"`
	UpdatedAt  apiTime        `json:"updated_at"`
}

func (s *Server) putMember(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Email  string `json:"email"`
		Locale string `json:"locale"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.Locale == "" {
		body.Locale = string(kakunin.LocaleJA)
	}
	m, created, err := s.Verifications.UpsertMember(r.Context(), r.PathValue("external_id"), body.Email, kakunin.Locale(body.Locale))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/members/"+url.PathEscape(m.ExternalID))
	}
	writeJSON(w, status, memberJSON{ExternalID: m.ExternalID, Email: m.Email, Locale: m.Locale, CreatedAt: apiTime(m.CreatedAt), UpdatedAt: apiTime(m.UpdatedAt)})
	return nil
}

func (s *Server) deleteMember(w http.ResponseWriter, r *http.Request) error {
	// The change and its audit event commit together (the service
	// appends the event in its transaction), or neither does.
	if err := s.Verifications.MemberLeft(r.Context(), r.PathValue("external_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type verificationJSON struct {
	ID                string            `json:"id"`
	ExternalID        string            `json:"external_id"`
	Status            string            `json:"status"`
	Result            *kakunin.Result   `json:"result"`
	Method            *string           `json:"method"`            // photo | jpki_app once decided, null until then
	Methods           []string          `json:"methods,omitempty"` // what the host offered, when it chose
	Metadata          map[string]string `json:"metadata"`
	ClientReferenceID *string           `json:"client_reference_id"`
	UploadURL         string            `json:"upload_url,omitempty"`
	ExpiresAt         apiTime           `json:"expires_at"`
	CreatedAt         apiTime           `json:"created_at"`
	UpdatedAt         apiTime           `json:"updated_at"`
}

func toJSON(v *kakunin.Verification) verificationJSON {
	out := verificationJSON{ID: v.ID, ExternalID: v.ExternalID, Status: string(v.Status), Result: v.Result, Methods: v.Methods,
		Metadata: verification.Metadata(v), ClientReferenceID: verification.Reference(v),
		ExpiresAt: apiTime(v.ExpiresAt), CreatedAt: apiTime(v.CreatedAt), UpdatedAt: apiTime(v.UpdatedAt)}
	if m := verification.MethodOf(v); m != "" {
		out.Method = &m
	}
	return out
}

func (s *Server) createVerification(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		ExternalID        string            `json:"external_id"`
		Metadata          map[string]string `json:"metadata"`
		ClientReferenceID string            `json:"client_reference_id"`
		Methods           []string          `json:"methods"`
	}
	if err := decodeJSON(w, r, &body); err != nil {
		return err
	}
	if body.ExternalID == "" {
		return kakunin.Errorf(kakunin.EINVALID, "external_id is required")
	}
	if err := s.checkMethods(body.Methods); err != nil {
		return err
	}
	// One open verification per member: asking again returns the open one
	// (200) rather than a second link able to hold an image.
	v, link, created, err := s.Verifications.Open(r.Context(), body.ExternalID,
		verification.Opening{Metadata: body.Metadata, ClientReferenceID: body.ClientReferenceID, Methods: body.Methods})
	if err != nil {
		return err
	}
	out := toJSON(v)
	out.UploadURL = link
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/api/v1/verifications/"+url.PathEscape(v.ID))
	}
	writeJSON(w, status, out)
	return nil
}

func (s *Server) getVerification(w http.ResponseWriter, r *http.Request) error {
	v, err := s.Verifications.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toJSON(v))
	return nil
}

// checkMethods refuses a methods list that names an unknown method, names
// one twice, is given but empty, or asks for the My Number card check on
// a server where the operator has not configured it.
func (s *Server) checkMethods(methods []string) error {
	if methods == nil {
		return nil
	}
	if len(methods) == 0 || len(methods) > 2 {
		return kakunin.Errorf(kakunin.EINVALID, `methods: one or both of "jpki_app" and "photo"`)
	}
	for i, m := range methods {
		if !kakunin.ValidMethod(m) || slices.Contains(methods[:i], m) {
			return kakunin.Errorf(kakunin.EINVALID, `methods: one or both of "jpki_app" and "photo", each once`)
		}
		if m == kakunin.MethodJPKIApp && s.JPKI == nil {
			return kakunin.Errorf(kakunin.EINVALID, "methods: jpki_app is not configured on this server (--jpki-issuer)")
		}
	}
	return nil
}
