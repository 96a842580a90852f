package web

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/web/pages"
)

func TestAPageHandlersErrorIsShownOnceWithItsStatusAndItsDetailOnlyLogged(t *testing.T) {
	renderer, err := pages.New()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := &Server{Pages: renderer, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	for _, tc := range []struct {
		name    string
		h       func(w http.ResponseWriter, r *http.Request) error
		status  int
		logged  bool
		written string // what the handler itself wrote, kept as it is
	}{
		{"an internal error", func(w http.ResponseWriter, r *http.Request) error {
			return fmt.Errorf("read incident: %w", errors.New("disk detail 7f3a"))
		}, http.StatusInternalServerError, true, ""},
		{"a coded error", func(w http.ResponseWriter, r *http.Request) error {
			return kakunin.Errorf(kakunin.ENOTFOUND, "no such incident detail 7f3a")
		}, http.StatusNotFound, false, ""},
		{"a form rendered again by its handler", func(w http.ResponseWriter, r *http.Request) error {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte("the form, with what was wrong"))
			return nil
		}, http.StatusBadRequest, false, "the form, with what was wrong"},
	} {
		logs.Reset()
		rec := httptest.NewRecorder()
		s.page(tc.h).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/console/x", nil))
		body := rec.Body.String()
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, rec.Code, tc.status)
		}
		if strings.Contains(body, "7f3a") {
			t.Errorf("%s: the page shows the error's detail", tc.name)
		}
		if got := strings.Contains(logs.String(), "7f3a"); got != tc.logged {
			t.Errorf("%s: detail logged = %v, want %v (log %q)", tc.name, got, tc.logged, logs.String())
		}
		if tc.written != "" && body != tc.written {
			t.Errorf("%s: body %q, want the handler's own %q", tc.name, body, tc.written)
		}
		if tc.written == "" && !strings.Contains(body, "<html") {
			t.Errorf("%s: no error page rendered: %q", tc.name, body)
		}
	}
}
