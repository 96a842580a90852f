package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
)

// Passkey is a staff member's WebAuthn credential: its public key and what
// the verifier must remember between uses (the signature counter and the
// backup flags).
type Passkey struct {
	ID                string // pk_…
	StaffID           string
	CredentialID      []byte
	PublicKey         []byte // COSE_Key
	SignCount         uint32
	Transports        []string
	AAGUID            []byte
	AttestationType   string
	AttestationFormat string
	UserVerified      bool
	BackupEligible    bool
	BackupState       bool
	Name              string
	CreatedAt         time.Time
	LastUsedAt        *time.Time
}

const passkeyColumns = `id, staff_id, credential_id, public_key, sign_count, transports, aaguid, attestation_type,
	attestation_format, user_verified, backup_eligible, backup_state, name, created_at, last_used_at`

func scanPasskey(row interface{ Scan(...any) error }) (*Passkey, error) {
	var p Passkey
	var transports string
	var signCount, created int64
	var used sql.NullInt64
	if err := row.Scan(&p.ID, &p.StaffID, &p.CredentialID, &p.PublicKey, &signCount, &transports, &p.AAGUID, &p.AttestationType,
		&p.AttestationFormat, &p.UserVerified, &p.BackupEligible, &p.BackupState, &p.Name, &created, &used); err != nil {
		return nil, err
	}
	if transports != "" {
		p.Transports = strings.Split(transports, ",")
	}
	p.SignCount, p.CreatedAt, p.LastUsedAt = uint32(signCount), fromMicros(created), timePtr(used)
	return &p, nil
}

// InsertPasskey stores a newly registered passkey. A credential ID already
// registered (by anyone) is a conflict.
func (q Queries) InsertPasskey(ctx context.Context, p *Passkey) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO staff_passkeys (`+passkeyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		p.ID, p.StaffID, p.CredentialID, p.PublicKey, int64(p.SignCount), strings.Join(p.Transports, ","), p.AAGUID, p.AttestationType,
		p.AttestationFormat, p.UserVerified, p.BackupEligible, p.BackupState, p.Name, micros(p.CreatedAt), nullMicros(p.LastUsedAt))
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "unique") {
			return kakunin.Errorf(kakunin.ECONFLICT, "this passkey is already registered")
		}
		return fmt.Errorf("insert passkey: %w", err)
	}
	return nil
}

// PasskeysOfStaff returns a staff member's passkeys, oldest first.
func (q Queries) PasskeysOfStaff(ctx context.Context, staffID string) ([]*Passkey, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+passkeyColumns+` FROM staff_passkeys WHERE staff_id = $1 ORDER BY created_at, id`, staffID)
	if err != nil {
		return nil, fmt.Errorf("passkeys of %s: %w", staffID, err)
	}
	defer rows.Close()
	var out []*Passkey
	for rows.Next() {
		p, err := scanPasskey(rows)
		if err != nil {
			return nil, fmt.Errorf("passkeys of %s: %w", staffID, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeletePasskey removes one of a staff member's passkeys. Another person's
// passkey is not found, the same as one that does not exist.
func (q Queries) DeletePasskey(ctx context.Context, staffID, id string) error {
	res, err := q.q.ExecContext(ctx, `DELETE FROM staff_passkeys WHERE id = $1 AND staff_id = $2`, id, staffID)
	if err != nil {
		return fmt.Errorf("delete passkey %s: %w", id, err)
	}
	if ok, err := affectedOne(res); err != nil || !ok {
		if err != nil {
			return fmt.Errorf("delete passkey %s: %w", id, err)
		}
		return kakunin.Errorf(kakunin.ENOTFOUND, "no such passkey")
	}
	return nil
}

// UsePasskey records a successful assertion: the new signature counter,
// the backup state the authenticator reported, and when.
func (q Queries) UsePasskey(ctx context.Context, id string, signCount uint32, backupState bool, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE staff_passkeys SET sign_count = $2, backup_state = $3, last_used_at = $4 WHERE id = $1`,
		id, int64(signCount), backupState, micros(at))
	if err != nil {
		return fmt.Errorf("use passkey %s: %w", id, err)
	}
	return nil
}

// WebAuthnChallenge is a WebAuthn ceremony in progress: what its second
// request is checked against.
type WebAuthnChallenge struct {
	TokenHash   []byte // the session's
	Purpose     string // register | login | reauth
	StaffID     string
	SessionData []byte
	ExpiresAt   time.Time
}

// PutWebAuthnChallenge stores the ceremony a session has begun, replacing
// any earlier one of that session, and clears out expired ceremonies.
func (q Queries) PutWebAuthnChallenge(ctx context.Context, c *WebAuthnChallenge, now time.Time) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM staff_webauthn_challenges WHERE expires_at < $1`, micros(now)); err != nil {
		return fmt.Errorf("clear expired webauthn challenges: %w", err)
	}
	_, err := q.q.ExecContext(ctx, `INSERT INTO staff_webauthn_challenges (token_hash, purpose, staff_id, session_data, expires_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (token_hash) DO UPDATE SET purpose = excluded.purpose, staff_id = excluded.staff_id,
			session_data = excluded.session_data, expires_at = excluded.expires_at`,
		c.TokenHash, c.Purpose, c.StaffID, c.SessionData, micros(c.ExpiresAt))
	if err != nil {
		return fmt.Errorf("put webauthn challenge: %w", err)
	}
	return nil
}

// TakeWebAuthnChallenge removes and returns the ceremony a session began
// for purpose. Whatever is found is deleted, so a challenge is answered at
// most once; one of another purpose, or expired, is not found.
func (q Queries) TakeWebAuthnChallenge(ctx context.Context, tokenHash []byte, purpose string, now time.Time) (*WebAuthnChallenge, error) {
	c := WebAuthnChallenge{TokenHash: tokenHash}
	var expires int64
	err := q.q.QueryRowContext(ctx, `DELETE FROM staff_webauthn_challenges WHERE token_hash = $1
		RETURNING purpose, staff_id, session_data, expires_at`, tokenHash).Scan(&c.Purpose, &c.StaffID, &c.SessionData, &expires)
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no passkey ceremony in progress")
	}
	if err != nil {
		return nil, fmt.Errorf("take webauthn challenge: %w", err)
	}
	c.ExpiresAt = fromMicros(expires)
	if c.Purpose != purpose || !now.Before(c.ExpiresAt) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no passkey ceremony in progress")
	}
	return &c, nil
}
