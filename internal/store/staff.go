package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
)

// StaffRecord is a staff account as stored; the TOTP secret is sealed, and
// so is the address (Email is it opened: StaffEmails).
type StaffRecord struct {
	ID                 string
	Email              string
	Role               kakunin.Role
	PasswordHash       string
	TOTPSealed         []byte
	TOTPLastStep       int64
	MustChangePassword bool
	FailedLogins       int
	LockedAt           *time.Time
	CreatedAt          time.Time
}

// The email column holds the account's ID since migration 00012 (unique,
// not null, and no address); the address is in email_sealed.
const staffColumns = `id, email, email_sealed, role, password_hash, totp_sealed, totp_last_step, must_change_password, failed_logins, locked_at, created_at`

func (q Queries) scanStaff(row interface{ Scan(...any) error }) (*StaffRecord, error) {
	var s StaffRecord
	var role, legacy string
	var sealed []byte
	var locked sql.NullInt64
	var created int64
	if err := row.Scan(&s.ID, &legacy, &sealed, &role, &s.PasswordHash, &s.TOTPSealed, &s.TOTPLastStep, &s.MustChangePassword, &s.FailedLogins, &locked, &created); err != nil {
		return nil, err
	}
	var err error
	if s.Email, err = q.openStaffEmail(sealed, legacy); err != nil {
		return nil, err
	}
	s.Role, s.LockedAt, s.CreatedAt = kakunin.Role(role), timePtr(locked), fromMicros(created)
	return &s, nil
}

// InsertStaff creates a staff account; the address must be unused. It is
// stored sealed, with its blind index for StaffByEmail.
func (q Queries) InsertStaff(ctx context.Context, s *StaffRecord) error {
	sealed, index, err := q.sealStaffEmail(s.Email)
	if err != nil {
		return err
	}
	return q.InsertStaffSealed(ctx, s, sealed, index)
}

// InsertStaffSealed is InsertStaff with the address already sealed and
// indexed (s.Email is not stored): for synthetic data, which holds random
// bytes there as it does for members.
func (q Queries) InsertStaffSealed(ctx context.Context, s *StaffRecord, sealed, index []byte) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO staff (`+staffColumns+`, email_index) VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		s.ID, sealed, string(s.Role), s.PasswordHash, s.TOTPSealed, s.TOTPLastStep, s.MustChangePassword, s.FailedLogins, nullMicros(s.LockedAt), micros(s.CreatedAt), index)
	if err != nil {
		if strings.Contains(strings.ToLower(err.Error()), "unique") {
			return kakunin.Errorf(kakunin.ECONFLICT, "a staff account with this e-mail address already exists")
		}
		return fmt.Errorf("insert staff: %w", err)
	}
	return nil
}

// StaffByEmail looks up a staff account by its (case-insensitive) address,
// through the blind index.
func (q Queries) StaffByEmail(ctx context.Context, email string) (*StaffRecord, error) {
	if q.emails == nil {
		return nil, errNoStaffEmails
	}
	s, err := q.scanStaff(q.q.QueryRowContext(ctx, `SELECT `+staffColumns+` FROM staff WHERE email_index = $1`, q.emails.StaffEmailIndex(email)))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "staff not found")
	}
	if err != nil {
		return nil, fmt.Errorf("staff by email: %w", err)
	}
	return s, nil
}

// StaffByID looks up a staff account.
func (q Queries) StaffByID(ctx context.Context, id string) (*StaffRecord, error) {
	s, err := q.scanStaff(q.q.QueryRowContext(ctx, `SELECT `+staffColumns+` FROM staff WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "staff not found")
	}
	if err != nil {
		return nil, fmt.Errorf("staff by id: %w", err)
	}
	return s, nil
}

// ResetLoginFailures clears the failure count after a full login.
func (q Queries) ResetLoginFailures(ctx context.Context, id string) error {
	_, err := q.q.ExecContext(ctx, `UPDATE staff SET failed_logins = 0 WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("reset login failures: %w", err)
	}
	return nil
}

// UseTOTPStep records the last TOTP time step used, refusing a replay: it
// reports false when step is not newer than the last one used.
func (q Queries) UseTOTPStep(ctx context.Context, id string, step int64) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE staff SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2`, id, step)
	if err != nil {
		return false, fmt.Errorf("use totp step: %w", err)
	}
	return affectedOne(res)
}

// SetStaffPassword replaces a password hash and clears the must-change flag.
func (q Queries) SetStaffPassword(ctx context.Context, id, hash string, mustChange bool) error {
	_, err := q.q.ExecContext(ctx, `UPDATE staff SET password_hash = $2, must_change_password = $3 WHERE id = $1`, id, hash, mustChange)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// UnlockStaff clears a lock and the failure count.
func (q Queries) UnlockStaff(ctx context.Context, id string) error {
	_, err := q.q.ExecContext(ctx, `UPDATE staff SET locked_at = NULL, failed_logins = 0 WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("unlock staff: %w", err)
	}
	return nil
}

// StaffSession is a console session, keyed by a hash of its cookie value.
type StaffSession struct {
	TokenHash  []byte
	StaffID    string
	Stage      string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ReauthAt   time.Time // when the second factor was last proved
}

// InsertSession stores a new session.
func (q Queries) InsertSession(ctx context.Context, s *StaffSession) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO staff_sessions (token_hash, staff_id, stage, created_at, last_seen_at, reauth_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		s.TokenHash, s.StaffID, s.Stage, micros(s.CreatedAt), micros(s.LastSeenAt), micros(s.ReauthAt))
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// Session returns a session by token hash.
func (q Queries) Session(ctx context.Context, tokenHash []byte) (*StaffSession, error) {
	var s StaffSession
	var created, seen, reauth int64
	err := q.q.QueryRowContext(ctx, `SELECT token_hash, staff_id, stage, created_at, last_seen_at, reauth_at FROM staff_sessions WHERE token_hash = $1`, tokenHash).
		Scan(&s.TokenHash, &s.StaffID, &s.Stage, &created, &seen, &reauth)
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "not signed in")
	}
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	s.CreatedAt, s.LastSeenAt, s.ReauthAt = fromMicros(created), fromMicros(seen), fromMicros(reauth)
	return &s, nil
}

// TouchSession moves a session's idle clock forward.
func (q Queries) TouchSession(ctx context.Context, tokenHash []byte, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE staff_sessions SET last_seen_at = $2 WHERE token_hash = $1`, tokenHash, micros(at))
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session.
func (q Queries) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := q.q.ExecContext(ctx, `DELETE FROM staff_sessions WHERE token_hash = $1`, tokenHash)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteStaffSessions ends every session of a staff member.
func (q Queries) DeleteStaffSessions(ctx context.Context, staffID string) error {
	_, err := q.q.ExecContext(ctx, `DELETE FROM staff_sessions WHERE staff_id = $1`, staffID)
	if err != nil {
		return fmt.Errorf("delete staff sessions: %w", err)
	}
	return nil
}

// LockStaff takes a write lock on a staff row for the rest of the
// transaction, so that one person's concurrent requests run one at a time
// (a no-op update: a row lock on PostgreSQL; SQLite's immediate
// transactions already hold the database's write lock).
func (q Queries) LockStaff(ctx context.Context, id string) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE staff SET id = id WHERE id = $1`, id); err != nil {
		return fmt.Errorf("lock staff %s: %w", id, err)
	}
	return nil
}
