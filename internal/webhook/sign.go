// Package webhook tells the host platform about events (a verification
// decided, an incident declared), and the operator's alert endpoint about
// alerts (an account locked), with Standard Webhooks
// (https://www.standardwebhooks.com/): HMAC-SHA256 signed requests, sent
// from the durable job queue and retried with back-off until the receiver
// acknowledges them (invariant 8: a webhook is durable and retried).
//
// Neither payloads nor secrets are ever logged or put in an error: bodies may
// carry personal data, and only status codes are recorded.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names fixed by Standard Webhooks.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix marks a Standard Webhooks secret; the rest is base64.
const SecretPrefix = "whsec_"

// DefaultTolerance is how far a webhook-timestamp may be from the
// receiver's clock, as Standard Webhooks recommends: enough for clock skew,
// short enough that a captured request cannot be replayed much later.
const DefaultTolerance = 5 * time.Minute

// minKeyLen is the shortest HMAC key accepted. Standard Webhooks asks for
// 24 to 64 bytes; 16 bytes (128 bits) is the floor below which guessing the
// key becomes conceivable.
const minKeyLen = 16

// Errors Verify returns (wrapped), so that a receiver can tell them apart.
var (
	ErrMissingHeaders   = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature")
	ErrStaleTimestamp   = errors.New("webhook: timestamp outside the tolerance")
	ErrInvalidSignature = errors.New("webhook: no valid signature")
)

// NewSecret returns a fresh secret, 32 random bytes, in whsec_ form.
func NewSecret() string {
	key := make([]byte, 32)
	rand.Read(key) // never fails since Go 1.24; it crashes the program instead
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign returns the webhook-signature value for a message: "v1," followed by
// base64(HMAC-SHA256(key, id "." unix-seconds "." body)). The id and
// timestamp are inside the MAC so that neither can be swapped to replay an
// old body as a new event.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	return "v1," + base64.StdEncoding.EncodeToString(mac(key, id, ts.Unix(), body)), nil
}

// Verify checks a received webhook: the three headers are present, the
// timestamp is within tolerance of now (DefaultTolerance when tolerance is
// zero or less), and one of the space-separated signatures is a valid v1
// signature of id, timestamp and body under secret.
func Verify(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	id, tsText, sigs := header.Get(HeaderID), header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if id == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q is not unix seconds", ErrStaleTimestamp, tsText)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Both directions: a timestamp far in the future would let a captured
	// request be replayed until that future arrives.
	if skew := now.Sub(time.Unix(ts, 0)); skew > tolerance || skew < -tolerance {
		return ErrStaleTimestamp
	}
	want := mac(key, id, ts, body)
	// Several signatures let a sender rotate its secret without downtime;
	// other versions are skipped so that future schemes can coexist.
	for _, sig := range strings.Fields(sigs) {
		version, encoded, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			continue
		}
		if hmac.Equal(got, want) { // constant time
			return nil
		}
	}
	return ErrInvalidSignature
}

func mac(key []byte, id string, ts int64, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(strconv.FormatInt(ts, 10)))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// decodeSecret returns the HMAC key inside a whsec_ secret. Errors never
// quote the secret.
func decodeSecret(secret string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, errors.New("webhook: secret does not start with " + SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, errors.New("webhook: secret is not valid base64")
	}
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("webhook: secret key is %d bytes, want at least %d", len(key), minKeyLen)
	}
	return key, nil
}
