package exposure

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/vault"
)

// How a member came by a link, recorded in the audit event of each view.
const (
	ViaMail    = 'm' // the answer mail
	ViaHandoff = 'h' // the host platform's hand-off
)

func viaName(via byte) string {
	if via == ViaHandoff {
		return "handoff"
	}
	return "mail"
}

// LinkToken returns the token of a link to memberID's answer:
// "memberID.expiry.via.tag", the tag a MAC over the rest under the vault's
// index key. It cannot be forged, pointed at another member or stretched
// without that key. It is a bearer token for one member's answer until it
// expires: the answer page is the same as the mail that carried it.
func LinkToken(s auth.Signer, memberID string, via byte, expires time.Time) string {
	msg := memberID + "." + strconv.FormatInt(expires.Unix(), 10) + "." + string(via)
	return msg + "." + base64.RawURLEncoding.EncodeToString(s.MAC(vault.PurposeExposureLink, []byte(msg)))
}

// CheckLinkToken returns the member, the way and the expiry of a token. An
// altered token is EINVALID, an expired one EGONE (callers show both
// alike).
func CheckLinkToken(s auth.Signer, token string, now time.Time) (memberID string, via byte, expires time.Time, err error) {
	invalid := kakunin.Errorf(kakunin.EINVALID, "this link is not valid")
	if len(token) > 200 {
		return "", 0, time.Time{}, invalid
	}
	parts := strings.Split(token, ".")
	if len(parts) != 4 || len(parts[2]) != 1 {
		return "", 0, time.Time{}, invalid
	}
	// Strict: one link has exactly one spelling.
	tag, err := auth.DecodeTag(parts[3])
	if err != nil || !s.VerifyMAC(vault.PurposeExposureLink, []byte(parts[0]+"."+parts[1]+"."+parts[2]), tag) {
		return "", 0, time.Time{}, invalid
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", 0, time.Time{}, invalid
	}
	expires = time.Unix(exp, 0).UTC()
	if !now.Before(expires) {
		return "", 0, time.Time{}, kakunin.Errorf(kakunin.EGONE, "this link has expired")
	}
	return parts[0], parts[2][0], expires, nil
}
