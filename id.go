package kakunin

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewID returns a random identifier such as "doc_k4x…": a type prefix and
// 128 random bits, so IDs reveal nothing and cannot be guessed or counted.
func NewID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b) // never fails (crypto/rand panics on a broken system source)
	return prefix + "_" + strings.ToLower(idEncoding.EncodeToString(b))
}
