package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// TokenLen is the length of every NewToken: 32 bytes, unpadded base64url.
const TokenLen = 43

// NewToken returns a random 256-bit token, URL-safe: sessions, API keys,
// sign-in links and image grants all use it.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is how tokens are stored: a database copy yields no usable
// session or API key. SHA-256 suffices for 256-bit random secrets.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// DecodeTag decodes the MAC tag of a signed link, accepting exactly one
// spelling of it. Go's base64 decoders skip '\r' and '\n' even when
// Strict, so "ab\rcd" would otherwise pass as "abcd": a second spelling
// of the same link, which the fuzzer found.
func DecodeTag(s string) ([]byte, error) {
	tag, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.RawURLEncoding.EncodeToString(tag) != s {
		return nil, errors.New("tag is not in its one spelling")
	}
	return tag, nil
}
