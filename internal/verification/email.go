package verification

// The exposure check finds a member by the address someone typed and mails
// the address the member registered: both must be computed exactly as
// UpsertMember stores them, so they live here beside it.

// EmailIndex returns the blind index a member registered with email is
// stored under (members.email_index).
func EmailIndex(k Keys, email string) []byte {
	return k.BlindIndex(emailIndexPurpose, []byte(NormalizeEmail(email)))
}

// OpenEmail unseals a member's registered address (members.email_sealed).
func OpenEmail(k Keys, sealed []byte) (string, error) {
	b, err := k.OpenField(emailPurpose, sealed)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// EmailSealPurpose is the vault purpose members.email_sealed is sealed
// under, for those that unseal addresses with their own narrower key
// interface (the mass notification's sender).
const EmailSealPurpose = emailPurpose
