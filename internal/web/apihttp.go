package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
)

// HeaderRequestID names the header every response carries: the ID the
// request is logged under, quoted in API error bodies, for a host to give
// support.
const HeaderRequestID = "Request-Id"

type requestIDCtx struct{}

// withRequestID gives each request a fresh random ID, in the response's
// Request-Id header and the request's context (logRequests logs it). A
// client's own header is not taken: a chosen ID could be made to look like
// someone else's request in the logs.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 12)
		rand.Read(b)
		id := "req_" + hex.EncodeToString(b)
		w.Header().Set(HeaderRequestID, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDCtx{}, id)))
	})
}

// requestID returns the ID withRequestID gave r, or "".
func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDCtx{}).(string)
	return id
}

// apiTime is a timestamp as the API writes it (kakunin.APITime): RFC 3339,
// UTC, whole seconds, the one precision of every API answer and webhook.
type apiTime time.Time

func (t apiTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(kakunin.APITime(time.Time(t)))
}

// apiMethods are the methods the API's routes use, tried by apiNoRoute to
// tell a wrong method (405) from an unknown route (404).
var apiMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// apiNoRoute answers what no API route matched: 405 with Allow when the
// path exists under other methods, else 404, both as JSON errors.
func apiNoRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range apiMethods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/api/" && pattern != "/" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			if slices.Contains(allow, http.MethodGet) {
				allow = append(allow, http.MethodHead)
			}
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeJSONError(w, http.StatusMethodNotAllowed, "method_not_allowed", "this route does not take "+r.Method+"; see Allow")
			return
		}
		writeJSONError(w, http.StatusNotFound, kakunin.ENOTFOUND, "no such API route")
	})
}

// requireJSON refuses a request body that does not say it is JSON.
func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return kakunin.Errorf(kakunin.EUNSUPPORTED, "send the body as Content-Type: application/json")
	}
	return nil
}
