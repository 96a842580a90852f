package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/vault"
)

// HeaderIdempotencyKey is the header a host sends on a POST to make a
// retry safe, as Stripe defines it.
const HeaderIdempotencyKey = "Idempotency-Key"

const (
	// IdempotencyWindow is how long a key's first answer is replayed.
	IdempotencyWindow = 24 * time.Hour
	// idempotencyAbandoned: a key claimed this long ago and still
	// unanswered belonged to a request whose process died; a retry takes
	// it over instead of waiting a day.
	idempotencyAbandoned = 2 * time.Minute
	// MaxIdempotencyKey is the longest key taken, as Stripe's.
	MaxIdempotencyKey = 255
)

// storedAnswer is the first answer under a key, sealed in the database.
type storedAnswer struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type,omitempty"`
	Location    string `json:"location,omitempty"`
	Body        []byte `json:"body"`
}

// bufferedWriter holds a handler's answer so that it can be kept before
// it is sent. Headers go to the real writer's map at once.
type bufferedWriter struct {
	w      http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.w.Header() }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func validIdempotencyKey(k string) bool {
	if k == "" || len(k) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// idempotent runs h for a POST under its Idempotency-Key, if it has one:
// the first request under the key (per API key) is answered and its answer
// kept; a retry with the same method, path and body within
// IdempotencyWindow gets that answer again (Idempotent-Replayed: true);
// another request under the key is 409 idempotency_conflict. Answers worth
// retrying (5xx, 429) are not kept. It returns an error only before h ran.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, apiKeyID string, h func(w http.ResponseWriter, r *http.Request) error) error {
	key := r.Header.Get(HeaderIdempotencyKey)
	if r.Method != http.MethodPost || key == "" && len(r.Header.Values(HeaderIdempotencyKey)) == 0 {
		if err := h(w, r); err != nil {
			s.apiError(w, r, err)
		}
		return nil
	}
	if !validIdempotencyKey(key) {
		return kakunin.Errorf(kakunin.EINVALID, "Idempotency-Key must be 1 to %d printable ASCII characters", MaxIdempotencyKey)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return kakunin.Errorf(kakunin.ETOOLARGE, "the request body is larger than 64 KiB")
		}
		return kakunin.Errorf(kakunin.EINVALID, "the request body could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	hash := sha256.New()
	for _, part := range []string{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type")} {
		hash.Write([]byte(part))
		hash.Write([]byte{0})
	}
	hash.Write(body)
	sum := hash.Sum(nil)

	now := s.Now().UTC()
	rec, claimed, err := s.Verifications.DB.ClaimIdempotencyKey(r.Context(), apiKeyID, key, sum, now,
		now.Add(-IdempotencyWindow), now.Add(-idempotencyAbandoned))
	if err != nil {
		return err
	}
	if !claimed {
		switch {
		case rec == nil:
			return kakunin.Errorf(kakunin.ECONFLICT, "a request with this Idempotency-Key was just being answered; retry")
		case subtle.ConstantTimeCompare(rec.RequestHash, sum) != 1:
			return kakunin.Errorf(kakunin.EIDEMPOTENCY, "this Idempotency-Key was used for another request in the last 24 hours")
		case rec.Status == 0:
			return kakunin.Errorf(kakunin.ECONFLICT, "a request with this Idempotency-Key is still being answered; retry shortly")
		}
		plain, err := s.Verifications.Keys.OpenField(vault.PurposeIdempotentResponse, rec.ResponseSealed)
		if err != nil {
			return err
		}
		var a storedAnswer
		if err := json.Unmarshal(plain, &a); err != nil {
			return err
		}
		if a.ContentType != "" {
			w.Header().Set("Content-Type", a.ContentType)
		}
		if a.Location != "" {
			w.Header().Set("Location", a.Location)
		}
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(a.Status)
		w.Write(a.Body)
		return nil
	}

	buf := &bufferedWriter{w: w}
	if err := h(buf, r); err != nil {
		s.apiError(buf, r, err)
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	// Kept or released in a context the client's going away does not
	// cancel: a key left claimed would make every retry wait.
	ctx := context.WithoutCancel(r.Context())
	if buf.status >= 500 || buf.status == http.StatusTooManyRequests {
		if err := s.Verifications.DB.ReleaseIdempotencyKey(ctx, apiKeyID, key); err != nil {
			s.logInternal(r, err)
		}
	} else {
		a := storedAnswer{Status: buf.status, ContentType: w.Header().Get("Content-Type"), Location: w.Header().Get("Location"), Body: buf.body.Bytes()}
		plain, _ := json.Marshal(a)
		sealed, err := s.Verifications.Keys.SealField(vault.PurposeIdempotentResponse, plain)
		if err == nil {
			err = s.Verifications.DB.FinishIdempotencyKey(ctx, apiKeyID, key, buf.status, sealed)
		}
		if err != nil {
			// The change is made; only the replay is lost. Release the key
			// so a retry is not stuck, and say so in the log.
			s.logInternal(r, err)
			s.Verifications.DB.ReleaseIdempotencyKey(ctx, apiKeyID, key)
		}
	}
	w.WriteHeader(buf.status)
	w.Write(buf.body.Bytes())
	return nil
}
