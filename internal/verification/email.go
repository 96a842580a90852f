package verification

import "github.com/kakunin/kakunin/internal/vault"

// The exposure check finds a member by the address someone typed and mails
// the address the member registered: both must be computed exactly as
// UpsertMember stores them, so they live here beside it.

// EmailIndex returns the blind index a member registered with email is
// stored under (members.email_index).
func EmailIndex(k Keys, email string) []byte {
	return k.BlindIndex(vault.PurposeMemberEmailIndex, []byte(NormalizeEmail(email)))
}

// OpenEmail unseals a member's registered address (members.email_sealed).
func OpenEmail(k Keys, sealed []byte) (string, error) {
	b, err := k.OpenField(vault.PurposeMemberEmail, sealed)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
