package auth

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/vault"
)

// Signer is the part of the vault that makes and checks keyed tags.
type Signer interface {
	MAC(purpose string, msg []byte) []byte
	VerifyMAC(purpose string, msg, tag []byte) bool
}

// UploadToken returns the token of a member's upload link: the
// verification's ID, its expiry and a MAC over both. It cannot be forged or
// stretched without the index key; single use is enforced by the
// verification's status, which leaves awaiting_upload on the first upload.
func UploadToken(s Signer, verificationID string, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	tag := s.MAC(vault.PurposeUploadLink, []byte(verificationID+"."+exp))
	return verificationID + "." + exp + "." + base64.RawURLEncoding.EncodeToString(tag)
}

// CheckUploadToken returns the verification ID a token was made for. An
// altered token is EINVALID; an expired one is EGONE.
func CheckUploadToken(s Signer, token string, now time.Time) (string, error) {
	invalid := kakunin.Errorf(kakunin.EINVALID, "this link is not valid")
	if len(token) > 200 {
		return "", invalid
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", invalid
	}
	// Strict: one link has exactly one spelling.
	tag, err := DecodeTag(parts[2])
	if err != nil || !s.VerifyMAC(vault.PurposeUploadLink, []byte(parts[0]+"."+parts[1]), tag) {
		return "", invalid
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", invalid
	}
	if !now.Before(time.Unix(exp, 0)) {
		return "", kakunin.Errorf(kakunin.EGONE, "this link has expired")
	}
	return parts[0], nil
}
