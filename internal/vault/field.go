package vault

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/kakunin/kakunin"
)

// prfSize is the length of a blind index or MAC: 256 bits, the full
// HMAC-SHA256 output, so neither collisions nor forgeries are practical.
const prfSize = 32

// SealField encrypts a small value (an e-mail address, a TOTP secret) with
// the record key. purpose is the associated data, so a value sealed for one
// purpose does not open as another.
func (v *Vault) SealField(purpose string, plaintext []byte) ([]byte, error) {
	if purpose == "" {
		return nil, kakunin.Errorf(kakunin.EINVALID, "field purpose is empty")
	}
	ct, err := v.records.Encrypt(plaintext, []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("seal field %s: %w", purpose, err)
	}
	return ct, nil
}

// OpenField decrypts a value sealed by SealField with the same purpose.
func (v *Vault) OpenField(purpose string, ciphertext []byte) ([]byte, error) {
	if purpose == "" {
		return nil, kakunin.Errorf(kakunin.EINVALID, "field purpose is empty")
	}
	pt, err := v.records.Decrypt(ciphertext, []byte(purpose))
	if err != nil {
		return nil, fmt.Errorf("open field %s: %w", purpose, err)
	}
	return pt, nil
}

// BlindIndex returns a keyed 32-byte PRF of value for look-ups (e.g. purpose
// "member-email", value already normalised by the caller). It is
// deterministic for the same key and reveals nothing without it.
func (v *Vault) BlindIndex(purpose string, value []byte) []byte {
	return v.prf(labelBlindIndex, purpose, value)
}

// MAC returns a 32-byte keyed tag over msg, e.g. to sign an upload link.
// It never equals a BlindIndex: the two are framed with different labels.
func (v *Vault) MAC(purpose string, msg []byte) []byte {
	return v.prf(labelMAC, purpose, msg)
}

// VerifyMAC reports whether tag is MAC(purpose, msg), in constant time.
func (v *Vault) VerifyMAC(purpose string, msg, tag []byte) bool {
	return subtle.ConstantTimeCompare(v.MAC(purpose, msg), tag) == 1
}

func (v *Vault) prf(label, purpose string, data []byte) []byte {
	out, err := v.index.ComputePrimaryPRF(frame([]byte(label), []byte(purpose), data), prfSize)
	if err != nil {
		// New computed this PRF once already; HMAC-SHA256 of any input to
		// 32 bytes cannot fail after that.
		panic(fmt.Sprintf("vault: index PRF failed: %v", err))
	}
	return out
}

// frame length-prefixes each part so that no two different part lists give
// the same bytes ("ab"+"c" and "a"+"bc" differ).
func frame(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}
