package auth

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// PasswordCost is the argon2id work that hashing a new password costs. A
// hash records its own parameters, so CheckPassword verifies a hash of any
// cost; the cost only decides how new hashes are made.
//
// The zero value is the production cost (HashPassword's), which is also the
// cost of the hash an unknown address is checked against: only with it does
// a sign-in for a missing account take as long as one for a real account.
// Tests inject a cheap cost so that each staff account they create does not
// spend 64 MiB and a tenth of a second.
type PasswordCost struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
	Threads   uint8
}

// Hash returns a PHC-format argon2id hash of password at cost c.
func (c PasswordCost) Hash(password string) string {
	if c == (PasswordCost{}) {
		return HashPassword(password)
	}
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, c.Time, c.MemoryKiB, c.Threads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, c.MemoryKiB, c.Time, c.Threads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// unknownAccountHash is what a sign-in for an unknown address is checked
// against, so that it costs what a real account's check costs: at the
// production cost the package's dummy hash; at an injected cost (tests) a
// hash of that cost, made afresh — twice a cheap cost is still cheap, where
// the production dummy would cost each test's unknown sign-in 64 MiB and a
// tenth of a second.
func (s *Staff) unknownAccountHash() string {
	if s.PasswordCost == (PasswordCost{}) {
		return dummyHash
	}
	return s.PasswordCost.Hash("kakunin-dummy-password-for-timing")
}
