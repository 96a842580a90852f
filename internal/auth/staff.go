package auth

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"net/mail"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// FieldSealer seals small secrets (TOTP seeds) with the vault's record key
// and hashes identifiers for the audit log.
type FieldSealer interface {
	SealField(purpose string, plaintext []byte) ([]byte, error)
	OpenField(purpose string, ciphertext []byte) ([]byte, error)
	BlindIndex(purpose string, value []byte) []byte
}

// Session stages: after the password, before the second factor; and fully
// signed in.
const (
	StagePassword = "password"
	StageFull     = "full"
)

// Staff signs staff in and out. Every sign-in, failure, sign-out, password
// change and re-authentication is written to the audit log.
type Staff struct {
	DB          *store.DB
	Sealer      FieldSealer
	Audit       *audit.Log
	Now         func() time.Time
	IdleTimeout time.Duration // a session unused this long ends
	MaxAge      time.Duration // a session ends this long after sign-in regardless
	// LockAfter is how many wrong second factors in a row, each after the
	// right password, lock an account. Wrong passwords never lock one:
	// Throttle slows them down instead.
	LockAfter   int
	ReauthAfter time.Duration // sensitive actions need the second factor again after this long
	Throttle    Throttle      // sign-in guessing limits (DefaultThrottle)
	// Alert raises an alert to admins inside tx (alert.Raise in service):
	// an account locked, a throttle reached. Nil raises none.
	Alert func(ctx context.Context, tx *store.Tx, kind, staffID string, detail map[string]string) error
	// PasswordCost is how new password hashes are made; leave it zero in
	// production (see PasswordCost).
	PasswordCost PasswordCost

	checkPassword func(hash, password string) bool // CheckPassword unless a test watches it
}

func (s *Staff) passwordMatches(hash, password string) bool {
	if s.checkPassword != nil {
		return s.checkPassword(hash, password)
	}
	return CheckPassword(hash, password)
}

// NewStaff returns a Staff with the defaults: 15 minutes idle, 12 hours at
// most, locked after 5 wrong second factors in a row, DefaultThrottle,
// second factor again after 5 minutes for sensitive actions. With a sealer,
// it also gives db the keys of staff addresses (StaffEmails), which every
// staff query needs.
func NewStaff(db *store.DB, sealer FieldSealer, log *audit.Log) *Staff {
	if sealer != nil {
		db.UseStaffEmails(StaffEmails{Keys: sealer})
	}
	return &Staff{DB: db, Sealer: sealer, Audit: log, Now: time.Now, IdleTimeout: 15 * time.Minute,
		MaxAge: 12 * time.Hour, LockAfter: 5, ReauthAfter: 5 * time.Minute, Throttle: DefaultThrottle()}
}

// record appends an audit event about a staff member; the actor is the
// staff member unless the context names another (an admin, the CLI).
func (s *Staff) record(ctx context.Context, action, staffID string, detail map[string]string) error {
	return s.Audit.Append(ctx, s.event(ctx, action, staffID, detail))
}

func (s *Staff) event(ctx context.Context, action, staffID string, detail map[string]string) audit.Event {
	actor := audit.ActorFrom(ctx)
	if actor == "system" && staffID != "" {
		actor = audit.StaffActor(staffID)
	}
	return audit.Event{Action: action, Actor: actor, Subject: staffID, Origin: audit.OriginFrom(ctx), Detail: detail}
}

// failed records a failed sign-in step. An attempt for an unknown address
// names the address only by its keyed hash.
func (s *Staff) failed(ctx context.Context, staffID, email, reason string) error {
	return s.DB.WithTx(ctx, func(tx *store.Tx) error { return s.failedTx(ctx, tx, staffID, email, reason) })
}

func (s *Staff) failedTx(ctx context.Context, tx *store.Tx, staffID, email, reason string) error {
	d := map[string]string{"reason": reason}
	if staffID == "" {
		d["email_hash"] = hexPrefix(s.Sealer.BlindIndex(vault.PurposeAuditStaffEmail, []byte(strings.ToLower(email))))
		return s.Audit.AppendTx(ctx, tx, audit.Event{Action: audit.StaffLoginFailed, Actor: "anonymous", Origin: audit.OriginFrom(ctx), Detail: d})
	}
	return s.Audit.AppendTx(ctx, tx, s.event(ctx, audit.StaffLoginFailed, staffID, d))
}

// NewAccount is what the person creating an account must hand over.
type NewAccount struct {
	Staff    *store.StaffRecord
	Password string // one-time: must be changed at first sign-in
	TOTPURI  string // otpauth:// enrolment URI
	Secret   string // the TOTP seed, for authenticators that take it typed
}

// CheckStaffEmail refuses what cannot be a staff member's address, so the
// CLI can say so before it opens anything.
func CheckStaffEmail(email string) error {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return kakunin.Errorf(kakunin.EINVALID, "%q is not an e-mail address", email)
	}
	return nil
}

// Add creates a staff account with a one-time password and a TOTP seed.
func (s *Staff) Add(ctx context.Context, email string, role kakunin.Role) (*NewAccount, error) {
	if err := CheckStaffEmail(email); err != nil {
		return nil, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "kakunin", AccountName: strings.ToLower(email)})
	if err != nil {
		return nil, err
	}
	sealed, err := s.Sealer.SealField(vault.PurposeStaffTOTP, []byte(key.Secret()))
	if err != nil {
		return nil, err
	}
	password := RandomPassword()
	rec := &store.StaffRecord{
		ID: kakunin.NewID("stf"), Email: strings.ToLower(email), Role: role,
		PasswordHash: s.PasswordCost.Hash(password), TOTPSealed: sealed, MustChangePassword: true, CreatedAt: s.Now().UTC(),
	}
	if err := s.DB.InsertStaff(ctx, rec); err != nil {
		return nil, err
	}
	if err := s.record(ctx, audit.StaffAdded, rec.ID, map[string]string{"role": string(role)}); err != nil {
		return nil, err
	}
	return &NewAccount{Staff: rec, Password: password, TOTPURI: key.URL(), Secret: key.Secret()}, nil
}

var (
	errBadCredentials = kakunin.Errorf(kakunin.EUNAUTHORIZED, "wrong e-mail address or password")
	errLocked         = kakunin.Errorf(kakunin.EFORBIDDEN, "this account is locked; ask an administrator")
)

// Login checks a password and starts a session that still needs the second
// factor. It returns the session token for the cookie. Throttle may refuse
// the attempt before the password is looked at (*ThrottledError), the same
// way whether or not the address is a staff member's.
func (s *Staff) Login(ctx context.Context, email, password string) (string, error) {
	rec, err := s.DB.StaffByEmail(ctx, email)
	known := err == nil
	if err != nil && kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
		return "", err
	}
	staffID := ""
	if known {
		staffID = rec.ID
	}
	att, err := s.admit(ctx, email, staffID)
	if err != nil {
		return "", err
	}
	if !known {
		s.passwordMatches(s.unknownAccountHash(), password) // same cost as a real account
		if err := s.stepFailed(ctx, att, "", email, "unknown_account"); err != nil {
			return "", err
		}
		return "", errBadCredentials
	}
	if !s.passwordMatches(rec.PasswordHash, password) {
		if err := s.stepFailed(ctx, att, rec.ID, "", "bad_password"); err != nil {
			return "", err
		}
		return "", errBadCredentials
	}
	if err := s.passed(ctx, att, true); err != nil {
		return "", err
	}
	if rec.LockedAt != nil {
		if err := s.failed(ctx, rec.ID, "", "locked"); err != nil {
			return "", err
		}
		return "", kakunin.Errorf(kakunin.EFORBIDDEN, "this account is locked; ask an administrator")
	}
	return s.newSession(ctx, rec.ID, StagePassword)
}

func (s *Staff) newSession(ctx context.Context, staffID, stage string) (string, error) {
	token := NewToken()
	now := s.Now().UTC()
	sess := &store.StaffSession{TokenHash: HashToken(token), StaffID: staffID, Stage: stage, CreatedAt: now, LastSeenAt: now}
	if stage == StageFull {
		sess.ReauthAt = now // the second factor was just proved
	}
	err := s.DB.InsertSession(ctx, sess)
	if err != nil {
		return "", err
	}
	return token, nil
}

// VerifyTOTP completes a sign-in: the code must match the current 30-second
// step or one either side, and no step may be used twice. On success the
// half-session is replaced by a new full one (a fresh token, so a token seen
// before the second factor is worthless after it).
func (s *Staff) VerifyTOTP(ctx context.Context, token, code string) (string, error) {
	sess, rec, err := s.session(ctx, token)
	if err != nil {
		return "", err
	}
	if sess.Stage != StagePassword {
		return "", kakunin.Errorf(kakunin.ECONFLICT, "already signed in")
	}
	att, err := s.admit(ctx, "", rec.ID)
	if err != nil {
		return "", err
	}
	step, ok, err := s.matchTOTP(rec, code)
	if err != nil {
		return "", err
	}
	if ok {
		ok, err = s.DB.UseTOTPStep(ctx, rec.ID, step)
		if err != nil {
			return "", err
		}
	}
	if !ok {
		locked, err := s.secondFactorFailed(ctx, att, rec.ID, "bad_totp")
		if err != nil {
			return "", err
		}
		if locked {
			return "", errLocked
		}
		return "", kakunin.Errorf(kakunin.EUNAUTHORIZED, "wrong code")
	}
	if err := s.passed(ctx, att, false); err != nil {
		return "", err
	}
	if err := s.DB.DeleteSession(ctx, sess.TokenHash); err != nil {
		return "", err
	}
	if err := s.DB.ResetLoginFailures(ctx, rec.ID); err != nil {
		return "", err
	}
	if err := s.record(ctx, audit.StaffLogin, rec.ID, map[string]string{"factor": "totp"}); err != nil {
		return "", err
	}
	return s.newSession(ctx, rec.ID, StageFull)
}

func (s *Staff) matchTOTP(rec *store.StaffRecord, code string) (int64, bool, error) {
	if len(code) != 6 {
		return 0, false, nil
	}
	seed, err := s.Sealer.OpenField(vault.PurposeStaffTOTP, rec.TOTPSealed)
	if err != nil {
		return 0, false, err
	}
	now := s.Now()
	opts := totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
	for _, skew := range []int64{0, -1, 1} {
		at := now.Add(time.Duration(skew*30) * time.Second)
		want, err := totp.GenerateCodeCustom(string(seed), at, opts)
		if err != nil {
			return 0, false, err
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return at.Unix() / 30, true, nil
		}
	}
	return 0, false, nil
}

// SignedIn is a live session and its staff member.
type SignedIn struct {
	Staff    *store.StaffRecord
	Stage    string
	ReauthAt time.Time // when the second factor was last proved
	// Session identifies this session (the hash of its token, never the
	// token): what a single-use image URL is bound to.
	Session []byte
}

// Fresh reports whether the session proved its second factor recently
// enough for a sensitive action.
func (s *Staff) Fresh(in *SignedIn) bool {
	return in.Stage == StageFull && s.Now().Sub(in.ReauthAt) <= s.ReauthAfter
}

// Reauthenticate proves the second factor again inside a full session, for
// sensitive actions. A wrong code counts as a failed sign-in.
func (s *Staff) Reauthenticate(ctx context.Context, token, code string) error {
	sess, rec, err := s.session(ctx, token)
	if err != nil {
		return err
	}
	if sess.Stage != StageFull {
		return kakunin.Errorf(kakunin.EUNAUTHORIZED, "not signed in")
	}
	att, err := s.admit(ctx, "", rec.ID)
	if err != nil {
		return err
	}
	step, ok, err := s.matchTOTP(rec, code)
	if err != nil {
		return err
	}
	if ok {
		if ok, err = s.DB.UseTOTPStep(ctx, rec.ID, step); err != nil {
			return err
		}
	}
	if !ok {
		locked, err := s.secondFactorFailed(ctx, att, rec.ID, "bad_totp_reauth")
		if err != nil {
			return err
		}
		if locked {
			return errLocked
		}
		return kakunin.Errorf(kakunin.EUNAUTHORIZED, "wrong code")
	}
	if err := s.passed(ctx, att, false); err != nil {
		return err
	}
	if err := s.DB.SetSessionReauth(ctx, sess.TokenHash, s.Now().UTC()); err != nil {
		return err
	}
	return s.record(ctx, audit.StaffReauth, rec.ID, map[string]string{"factor": "totp"})
}

// Session returns who a token belongs to, ending it if it is idle or old or
// the account is locked, and moving its idle clock forward.
func (s *Staff) Session(ctx context.Context, token string) (*SignedIn, error) {
	sess, rec, err := s.session(ctx, token)
	if err != nil {
		return nil, err
	}
	if err := s.DB.TouchSession(ctx, sess.TokenHash, s.Now().UTC()); err != nil {
		return nil, err
	}
	return &SignedIn{Staff: rec, Stage: sess.Stage, ReauthAt: sess.ReauthAt, Session: sess.TokenHash}, nil
}

func (s *Staff) session(ctx context.Context, token string) (*store.StaffSession, *store.StaffRecord, error) {
	notSignedIn := kakunin.Errorf(kakunin.EUNAUTHORIZED, "not signed in")
	if token == "" || len(token) > 100 {
		return nil, nil, notSignedIn
	}
	sess, err := s.DB.Session(ctx, HashToken(token))
	if err != nil {
		return nil, nil, err
	}
	now := s.Now()
	if now.Sub(sess.LastSeenAt) > s.IdleTimeout || now.Sub(sess.CreatedAt) > s.MaxAge {
		s.DB.DeleteSession(ctx, sess.TokenHash)
		return nil, nil, notSignedIn
	}
	rec, err := s.DB.StaffByID(ctx, sess.StaffID)
	if err != nil {
		return nil, nil, err
	}
	if rec.LockedAt != nil {
		s.DB.DeleteStaffSessions(ctx, rec.ID)
		return nil, nil, kakunin.Errorf(kakunin.EFORBIDDEN, "this account is locked; ask an administrator")
	}
	return sess, rec, nil
}

// Logout ends a session.
func (s *Staff) Logout(ctx context.Context, token string) error {
	if token == "" || len(token) > 100 {
		return nil
	}
	sess, err := s.DB.Session(ctx, HashToken(token))
	if kakunin.ErrorCode(err) == kakunin.EUNAUTHORIZED {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.DB.DeleteSession(ctx, sess.TokenHash); err != nil {
		return err
	}
	return s.record(ctx, audit.StaffLogout, sess.StaffID, nil)
}

// ChangePassword sets a staff member's own new password.
func (s *Staff) ChangePassword(ctx context.Context, staffID, password string) error {
	if len([]rune(password)) < MinPasswordLength {
		return kakunin.Errorf(kakunin.EINVALID, "a password needs at least %d characters", MinPasswordLength)
	}
	if len(password) > 1024 {
		return kakunin.Errorf(kakunin.EINVALID, "that password is too long")
	}
	if err := s.DB.SetStaffPassword(ctx, staffID, s.PasswordCost.Hash(password), false); err != nil {
		return err
	}
	return s.record(ctx, audit.StaffPassword, staffID, nil)
}

// List returns every staff account, by address.
func (s *Staff) List(ctx context.Context) ([]*store.StaffRecord, error) {
	return s.DB.ListStaff(ctx)
}

// Passkeys returns a staff member's passkeys, oldest first. It works where
// passkeys are not offered too (no Passkeys service, or one unavailable),
// so the passkeys page still lists the ones registered before.
func (s *Staff) Passkeys(ctx context.Context, staffID string) ([]*store.Passkey, error) {
	return s.DB.PasskeysOfStaff(ctx, staffID)
}

// Unlock lets a locked account sign in again. The context names the admin
// (audit.WithActor); the unlock is audited.
func (s *Staff) Unlock(ctx context.Context, staffID string) error {
	if _, err := s.DB.StaffByID(ctx, staffID); err != nil {
		return err
	}
	if err := s.DB.UnlockStaff(ctx, staffID); err != nil {
		return err
	}
	return s.record(ctx, audit.StaffUnlocked, staffID, nil)
}

func hexPrefix(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return hex.EncodeToString(b)
}

// CurrentTOTP returns the code an authenticator would show now; for the
// demo and for tests, which play the staff member's phone.
func CurrentTOTP(secret string, at time.Time) (string, error) {
	return totp.GenerateCode(secret, at)
}
