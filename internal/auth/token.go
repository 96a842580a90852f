package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// newToken returns a random 256-bit token, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how tokens are stored: a database copy yields no usable
// session or API key. SHA-256 suffices for 256-bit random secrets.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
