package web

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func (c *testConsole) postIdem(key, idem, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, idem)
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec
}

func (c *testConsole) countRows(query string, args ...any) int {
	c.t.Helper()
	var n int
	if err := c.env.DB.SQL().QueryRowContext(c.t.Context(), query, args...).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

func TestIdempotencyKeyReplaysTheFirstAnswerAndRefusesAnotherBody(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		c := newTestConsole(t, dsn)
		key, other := c.apiKey(), c.apiKey()
		for _, m := range []string{"m-idem", "m-idem2"} {
			if rec := c.apiCall(key, http.MethodPut, "/api/v1/members/"+m, `{"email":"`+m+`@example.jp"}`); rec.Code != http.StatusCreated {
				t.Fatalf("PUT %s = %d", m, rec.Code)
			}
		}
		first := c.postIdem(key, "retry-1", "/api/v1/verifications", `{"external_id":"m-idem"}`)
		if first.Code != http.StatusCreated || first.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("first = %d %s", first.Code, first.Body)
		}
		// Without the key a second POST answers 200 (the open one); with it,
		// the first answer comes back: 201, the same body and Location.
		again := c.postIdem(key, "retry-1", "/api/v1/verifications", `{"external_id":"m-idem"}`)
		if again.Code != http.StatusCreated || again.Body.String() != first.Body.String() ||
			again.Header().Get("Location") != first.Header().Get("Location") || again.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry = %d %q Location %q, want the first answer replayed", again.Code, again.Body, again.Header().Get("Location"))
		}
		if n := c.countRows(`SELECT COUNT(*) FROM verifications`); n != 1 {
			t.Fatalf("%d verifications, want 1", n)
		}
		// The same key for another request: 409 idempotency_conflict.
		clash := c.postIdem(key, "retry-1", "/api/v1/verifications", `{"external_id":"m-idem2"}`)
		if clash.Code != http.StatusConflict || decodeAPIError(t, clash).Error.Code != kakunin.EIDEMPOTENCY {
			t.Fatalf("other body = %d %s, want 409 idempotency_conflict", clash.Code, clash.Body)
		}
		clash = c.postIdem(key, "retry-1", "/api/v1/members/m-idem/portal-link", ``)
		if clash.Code != http.StatusConflict || decodeAPIError(t, clash).Error.Code != kakunin.EIDEMPOTENCY {
			t.Fatalf("other route = %d %s, want 409 idempotency_conflict", clash.Code, clash.Body)
		}
		// Keys are per API key: another key's "retry-1" is its own.
		mine := c.postIdem(other, "retry-1", "/api/v1/verifications", `{"external_id":"m-idem"}`)
		if mine.Code != http.StatusOK || mine.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("other API key = %d replayed %q, want its own 200", mine.Code, mine.Header().Get("Idempotent-Replayed"))
		}
		// A refusal is an answer too, replayed as such.
		bad := c.postIdem(key, "bad-1", "/api/v1/verifications", `{"external_id":""}`)
		badAgain := c.postIdem(key, "bad-1", "/api/v1/verifications", `{"external_id":""}`)
		if bad.Code != http.StatusBadRequest || badAgain.Code != http.StatusBadRequest || badAgain.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("refusal = %d then %d (replayed %q)", bad.Code, badAgain.Code, badAgain.Header().Get("Idempotent-Replayed"))
		}
		// The kept answer is sealed: the upload link is not in the database.
		var upload struct {
			UploadURL string `json:"upload_url"`
		}
		json.Unmarshal(first.Body.Bytes(), &upload)
		token := upload.UploadURL[strings.LastIndex(upload.UploadURL, "/")+1:]
		var sealed []byte
		if err := c.env.DB.SQL().QueryRowContext(t.Context(), `SELECT response_sealed FROM idempotency_keys WHERE idem_key = 'retry-1'`).Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if len(token) < 20 || bytes.Contains(sealed, []byte(token)) || bytes.Contains(sealed, []byte("m-idem")) {
			t.Fatal("the kept answer is in the database in the clear")
		}

		// After 24 hours the key is new again; the sweep removes old keys.
		c.now = c.now.Add(IdempotencyWindow + time.Second)
		c.env.Clock.Set(c.now)
		late := c.postIdem(key, "retry-1", "/api/v1/verifications", `{"external_id":"m-idem2"}`)
		if late.Code != http.StatusCreated || late.Header().Get("Idempotent-Replayed") != "" {
			t.Fatalf("after 24h = %d %s, want a new 201", late.Code, late.Body)
		}
		n, err := c.env.DB.SweepIdempotencyKeys(t.Context(), c.now.Add(-IdempotencyWindow))
		if err != nil || n != 2 {
			t.Fatalf("sweep = %d, %v; want the 2 old keys (the third was taken anew)", n, err)
		}
		if left := c.countRows(`SELECT COUNT(*) FROM idempotency_keys`); left != 1 {
			t.Fatalf("%d keys left, want the new one", left)
		}
	})
}

func TestIdempotencyKeyTooLongOrNotASCIIIs400(t *testing.T) {
	c := newTestConsole(t, storetest.SQLiteDSN(t))
	key := c.apiKey()
	for _, idem := range []string{strings.Repeat("k", MaxIdempotencyKey+1), "clé", "a\tb"} {
		rec := c.postIdem(key, idem, "/api/v1/verifications", `{"external_id":"x"}`)
		if rec.Code != http.StatusBadRequest || decodeAPIError(t, rec).Error.Code != kakunin.EINVALID {
			t.Errorf("key %.20q = %d %s, want 400", idem, rec.Code, rec.Body)
		}
	}
	if rec := c.postIdem(key, strings.Repeat("k", MaxIdempotencyKey), "/api/v1/verifications", `{"external_id":"x"}`); rec.Code != http.StatusNotFound {
		t.Errorf("a %d-character key = %d %s, want it taken (404: no such member)", MaxIdempotencyKey, rec.Code, rec.Body)
	}
	if n := c.countRows(`SELECT COUNT(*) FROM idempotency_keys`); n != 1 {
		t.Errorf("%d keys kept, want 1", n)
	}
}
