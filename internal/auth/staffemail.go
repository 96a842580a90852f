package auth

import (
	"strings"

	"github.com/kakunin/kakunin/internal/vault"
)

// StaffEmails seals staff addresses for the store (store.StaffEmails):
// under the record key, with a blind index of the normalized address for
// sign-in, each under its own purpose. Give it to the database with
// db.UseStaffEmails before any staff query.
type StaffEmails struct{ Keys FieldSealer }

// normalizeStaffEmail is the address as it is matched: one account per
// address whatever its case.
func normalizeStaffEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// SealStaffEmail seals the normalized address.
func (e StaffEmails) SealStaffEmail(email string) ([]byte, error) {
	return e.Keys.SealField(vault.PurposeStaffEmail, []byte(normalizeStaffEmail(email)))
}

// OpenStaffEmail opens a sealed address.
func (e StaffEmails) OpenStaffEmail(sealed []byte) (string, error) {
	b, err := e.Keys.OpenField(vault.PurposeStaffEmail, sealed)
	return string(b), err
}

// StaffEmailIndex is the blind index of the normalized address.
func (e StaffEmails) StaffEmailIndex(email string) []byte {
	return e.Keys.BlindIndex(vault.PurposeStaffEmailIndex, []byte(normalizeStaffEmail(email)))
}
