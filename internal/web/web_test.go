package web

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
)

func TestEveryErrorCodeHasItsOwnStatus(t *testing.T) {
	want := map[string]int{
		kakunin.EINVALID: 400, kakunin.EUNAUTHORIZED: 401, kakunin.EFORBIDDEN: 403, kakunin.ENOTFOUND: 404,
		kakunin.ECONFLICT: 409, kakunin.EIDEMPOTENCY: 409, kakunin.EGONE: 410, kakunin.ETOOLARGE: 413, kakunin.EUNSUPPORTED: 415,
		kakunin.ERATELIMIT: 429, kakunin.ENOSPACE: 507, kakunin.EINTERNAL: 500, "something new": 500,
	}
	for code, status := range want {
		if got := statusOf(code); got != status {
			t.Errorf("statusOf(%q) = %d, want %d", code, got, status)
		}
	}
}

func TestJSONBodiesMustBeOneKnownObject(t *testing.T) {
	type body struct {
		ExternalID string `json:"external_id"`
	}
	for _, tc := range []struct {
		in   string
		code string
	}{
		{`{"external_id":"a"}`, ""},
		{` {"external_id":"a"} `, ""},
		{`{"external_id":"a","extra":1}`, kakunin.EINVALID},
		// A key twice: refused wherever it is, whatever its case.
		{`{"external_id":"a","external_id":"b"}`, kakunin.EINVALID},
		{`{"external_id":"a","External_ID":"b"}`, kakunin.EINVALID},
		{`{"external_id":"a","meta":{"k":1,"k":2}}`, kakunin.EINVALID},
		{`{"external_id":"a","meta":[{"k":1},{"k":1,"j":{"x":[1,{"y":1,"y":2}]}}]}`, kakunin.EINVALID},
		{`{"external_id":"a"} {"external_id":"b"}`, kakunin.EINVALID},
		{`{"external_id":1}`, kakunin.EINVALID},
		{``, kakunin.EINVALID},
		{`{`, kakunin.EINVALID},
		{`{"external_id":"` + strings.Repeat("x", 70<<10) + `"}`, kakunin.ETOOLARGE},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(tc.in))
		r.Header.Set("Content-Type", "application/json")
		var b body
		err := decodeJSON(httptest.NewRecorder(), r, &b)
		if kakunin.ErrorCode(err) != tc.code {
			t.Errorf("%.40q: %v, want code %q", tc.in, err, tc.code)
		}
		if err != nil && strings.Contains(kakunin.ErrorMessage(err), "xxxx") {
			t.Errorf("the error echoes the input: %v", err)
		}
	}
}

func TestThePageLanguageFollowsChoiceThenCookieThenMemberThenBrowser(t *testing.T) {
	s := &Server{}
	for _, tc := range []struct {
		name     string
		query    string
		cookie   string
		fallback kakunin.Locale
		accept   string
		want     kakunin.Locale
	}{
		{"explicit choice wins", "?lang=en", "ja", kakunin.LocaleJA, "ja", kakunin.LocaleEN},
		{"cookie beats the member's locale", "", "en", kakunin.LocaleJA, "", kakunin.LocaleEN},
		{"member's locale beats the browser", "", "", kakunin.LocaleJA, "en-US,en", kakunin.LocaleJA},
		{"browser when nothing else", "", "", "", "en-GB,en;q=0.8", kakunin.LocaleEN},
		{"Japanese by default", "", "", "", "fr-FR", kakunin.LocaleJA},
		{"unknown choice ignored", "?lang=xx", "", kakunin.LocaleEN, "", kakunin.LocaleEN},
	} {
		r := httptest.NewRequest("GET", "/"+tc.query, nil)
		if tc.cookie != "" {
			r.AddCookie(&http.Cookie{Name: langCookie, Value: tc.cookie})
		}
		r.Header.Set("Accept-Language", tc.accept)
		w := httptest.NewRecorder()
		if got := s.pageLang(w, r, tc.fallback); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
		if tc.query == "?lang=en" && !strings.Contains(w.Header().Get("Set-Cookie"), langCookie+"=en") {
			t.Errorf("%s: the choice was not remembered", tc.name)
		}
	}
}

func TestUploadFailuresMapToTheMembersMessageAndStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   string
		status int
	}{
		{kakunin.Errorf(kakunin.EUNSUPPORTED, "HEIC"), "unsupported", 415},
		{kakunin.Errorf(kakunin.ETOOLARGE, "big"), "too_large", 413},
		{kakunin.Errorf(kakunin.EGONE, "used"), "gone", 410},
		{kakunin.Errorf(kakunin.EUNAVAILABLE, "busy"), "busy", 503},
		{kakunin.Errorf(kakunin.ENOSPACE, "storage_full"), "storage_full", 507},
		{kakunin.Errorf(kakunin.EINVALID, "missing_file"), "missing_file", 400},
		{kakunin.Errorf(kakunin.EINVALID, "missing_type"), "missing_type", 400},
		{kakunin.Errorf(kakunin.EINVALID, "the file is damaged"), "invalid", 400},
		{http.ErrHandlerTimeout, "internal", 500},
	} {
		code, status := uploadErrorCode(tc.err)
		if code != tc.code || status != tc.status {
			t.Errorf("%v: %s %d, want %s %d", tc.err, code, status, tc.code, tc.status)
		}
	}
}

func TestDuplicateKeysAreFoundAtEveryDepthAndOnlyThere(t *testing.T) {
	for in, dup := range map[string]bool{
		`{"a":1,"b":{"a":1},"c":[{"a":1},{"a":2}]}`: false, // the same key in different objects
		`{"a":"a","b":"a"}`:                         false, // a value equal to a key
		`{"a":{"b":1},"b":2}`:                       false,
		`[{"a":1,"a":1}]`:                           true,
		`{"a":{"b":{"c":{"d":1,"d":1}}}}`:           true,
		`{"a":[],"a":{}}`:                           true,
		`{"x":{"a":1},"y":2,"y":3}`:                 true, // after a nested object closes
	} {
		if got := checkDuplicateKeys([]byte(in)) != nil; got != dup {
			t.Errorf("%s: duplicate = %v, want %v", in, got, dup)
		}
	}
}

func TestHSTSIsSentExactlyWhenThePublicURLIsHTTPS(t *testing.T) {
	for url, want := range map[string]bool{"https://id.example.jp": true, "http://127.0.0.1:8080": false} {
		s := &Server{PublicURL: url, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		for _, path := range []string{"/", "/api/nothing"} {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			got := rec.Header().Get("Strict-Transport-Security")
			if (got != "") != want || (want && !strings.Contains(got, "max-age=31536000")) {
				t.Errorf("%s %s: Strict-Transport-Security %q", url, path, got)
			}
		}
	}
}
