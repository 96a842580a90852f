package auth

import (
	"context"
	"crypto/subtle"
	"net/mail"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
)

// FieldSealer seals small secrets (TOTP seeds) with the vault's record key.
type FieldSealer interface {
	SealField(purpose string, plaintext []byte) ([]byte, error)
	OpenField(purpose string, ciphertext []byte) ([]byte, error)
}

const totpPurpose = "staff-totp/v1"

// Session stages: after the password, before the second factor; and fully
// signed in.
const (
	StagePassword = "password"
	StageFull     = "full"
)

// Staff signs staff in and out.
type Staff struct {
	DB          *store.DB
	Sealer      FieldSealer
	Now         func() time.Time
	IdleTimeout time.Duration // a session unused this long ends
	MaxAge      time.Duration // a session ends this long after sign-in regardless
	LockAfter   int           // consecutive failures that lock an account
}

// NewStaff returns a Staff with the defaults: 30 minutes idle, 12 hours at
// most, locked after 10 failures in a row.
func NewStaff(db *store.DB, sealer FieldSealer) *Staff {
	return &Staff{DB: db, Sealer: sealer, Now: time.Now, IdleTimeout: 30 * time.Minute, MaxAge: 12 * time.Hour, LockAfter: 10}
}

// NewAccount is what the person creating an account must hand over.
type NewAccount struct {
	Staff    *store.StaffRecord
	Password string // one-time: must be changed at first sign-in
	TOTPURI  string // otpauth:// enrolment URI
	Secret   string // the TOTP seed, for authenticators that take it typed
}

// Add creates a staff account with a one-time password and a TOTP seed.
func (s *Staff) Add(ctx context.Context, email string, role kakunin.Role) (*NewAccount, error) {
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 {
		return nil, kakunin.Errorf(kakunin.EINVALID, "%q is not an e-mail address", email)
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "kakunin", AccountName: strings.ToLower(email)})
	if err != nil {
		return nil, err
	}
	sealed, err := s.Sealer.SealField(totpPurpose, []byte(key.Secret()))
	if err != nil {
		return nil, err
	}
	password := RandomPassword()
	rec := &store.StaffRecord{
		ID: kakunin.NewID("stf"), Email: strings.ToLower(email), Role: role,
		PasswordHash: HashPassword(password), TOTPSealed: sealed, MustChangePassword: true, CreatedAt: s.Now().UTC(),
	}
	if err := s.DB.InsertStaff(ctx, rec); err != nil {
		return nil, err
	}
	return &NewAccount{Staff: rec, Password: password, TOTPURI: key.URL(), Secret: key.Secret()}, nil
}

var errBadCredentials = kakunin.Errorf(kakunin.EUNAUTHORIZED, "wrong e-mail address or password")

// Login checks a password and starts a session that still needs the second
// factor. It returns the session token for the cookie.
func (s *Staff) Login(ctx context.Context, email, password string) (string, error) {
	rec, err := s.DB.StaffByEmail(ctx, email)
	if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		CheckPassword(dummyHash, password) // same cost as a real account
		return "", errBadCredentials
	}
	if err != nil {
		return "", err
	}
	if !CheckPassword(rec.PasswordHash, password) {
		if err := s.DB.RecordLoginFailure(ctx, rec.ID, s.LockAfter, s.Now()); err != nil {
			return "", err
		}
		return "", errBadCredentials
	}
	if rec.LockedAt != nil {
		return "", kakunin.Errorf(kakunin.EFORBIDDEN, "this account is locked; ask an administrator")
	}
	return s.newSession(ctx, rec.ID, StagePassword)
}

func (s *Staff) newSession(ctx context.Context, staffID, stage string) (string, error) {
	token := newToken()
	now := s.Now().UTC()
	err := s.DB.InsertSession(ctx, &store.StaffSession{TokenHash: hashToken(token), StaffID: staffID, Stage: stage, CreatedAt: now, LastSeenAt: now})
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
		if err := s.DB.RecordLoginFailure(ctx, rec.ID, s.LockAfter, s.Now()); err != nil {
			return "", err
		}
		return "", kakunin.Errorf(kakunin.EUNAUTHORIZED, "wrong code")
	}
	if err := s.DB.DeleteSession(ctx, sess.TokenHash); err != nil {
		return "", err
	}
	if err := s.DB.ResetLoginFailures(ctx, rec.ID); err != nil {
		return "", err
	}
	return s.newSession(ctx, rec.ID, StageFull)
}

func (s *Staff) matchTOTP(rec *store.StaffRecord, code string) (int64, bool, error) {
	if len(code) != 6 {
		return 0, false, nil
	}
	seed, err := s.Sealer.OpenField(totpPurpose, rec.TOTPSealed)
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
	Staff *store.StaffRecord
	Stage string
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
	return &SignedIn{Staff: rec, Stage: sess.Stage}, nil
}

func (s *Staff) session(ctx context.Context, token string) (*store.StaffSession, *store.StaffRecord, error) {
	notSignedIn := kakunin.Errorf(kakunin.EUNAUTHORIZED, "not signed in")
	if token == "" || len(token) > 100 {
		return nil, nil, notSignedIn
	}
	sess, err := s.DB.Session(ctx, hashToken(token))
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
	if token == "" {
		return nil
	}
	return s.DB.DeleteSession(ctx, hashToken(token))
}

// ChangePassword sets a staff member's own new password.
func (s *Staff) ChangePassword(ctx context.Context, staffID, password string) error {
	if len([]rune(password)) < MinPasswordLength {
		return kakunin.Errorf(kakunin.EINVALID, "a password needs at least %d characters", MinPasswordLength)
	}
	if len(password) > 1024 {
		return kakunin.Errorf(kakunin.EINVALID, "that password is too long")
	}
	return s.DB.SetStaffPassword(ctx, staffID, HashPassword(password), false)
}

// CurrentTOTP returns the code an authenticator would show now; for the
// demo and for tests, which play the staff member's phone.
func CurrentTOTP(secret string, at time.Time) (string, error) {
	return totp.GenerateCode(secret, at)
}
