package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
)

// Ceremony purposes: each challenge is good for one kind of answer only.
const (
	purposeRegister = "register"
	purposeLogin    = "login"
	purposeReauth   = "reauth"
)

const (
	// MaxPasskeys bounds how many passkeys one staff member may register.
	MaxPasskeys = 10
	// MaxPasskeyName is the longest name a passkey may be given, in characters.
	MaxPasskeyName = 60
	// ceremonyTimeout is how long a begun ceremony may be answered: the
	// browser is told so, and the stored challenge expires with it.
	ceremonyTimeout = 3 * time.Minute
)

// Passkeys lets staff prove their second factor with a passkey (WebAuthn)
// instead of a TOTP code: at sign-in after the password, and again before
// sensitive actions. A passkey is an option beside TOTP, never instead of
// it, so an account is never left without a factor that needs no script.
//
// The challenge of a ceremony lives in the database, bound to the hash of
// the session token that began it, for at most ceremonyTimeout, and is
// deleted when it is answered: any replica can finish a ceremony, and no
// answer can be replayed.
type Passkeys struct {
	Staff *Staff

	rp          *webauthn.WebAuthn
	unavailable error
}

// NewPasskeys returns the passkey service of the installation reached at
// publicURL: its host is the relying party ID, its scheme and host the one
// origin accepted. WebAuthn refuses IP addresses as relying party IDs, so
// an installation reached by IP has no passkeys (Available says why) and
// signs in with TOTP only.
func NewPasskeys(staff *Staff, publicURL string) *Passkeys {
	p := &Passkeys{Staff: staff}
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" {
		p.unavailable = fmt.Errorf("passkeys: public URL %q has no host", publicURL)
		return p
	}
	p.rp, err = webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: "kakunin",
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		// Only the key matters: which authenticator model made it is not
		// checked, so asking for attestation would only cost privacy.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.VerificationPreferred,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTimeout, TimeoutUVD: ceremonyTimeout},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTimeout, TimeoutUVD: ceremonyTimeout},
		},
	})
	if err != nil {
		p.rp, p.unavailable = nil, fmt.Errorf("passkeys need the public URL %s to name a host, not an IP address: %w", publicURL, err)
	}
	return p
}

// Available reports why passkeys cannot be used here, or nil.
func (p *Passkeys) Available() error {
	if p == nil {
		return fmt.Errorf("passkeys are not configured")
	}
	return p.unavailable
}

// passkeyUser is a staff member as go-webauthn sees them. The user handle
// is the staff ID: random, and no personal data.
type passkeyUser struct {
	rec  *store.StaffRecord
	keys []*store.Passkey
}

func (u passkeyUser) WebAuthnID() []byte          { return []byte(u.rec.ID) }
func (u passkeyUser) WebAuthnName() string        { return u.rec.Email }
func (u passkeyUser) WebAuthnDisplayName() string { return u.rec.Email }

func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	out := make([]webauthn.Credential, 0, len(u.keys))
	for _, k := range u.keys {
		flags := protocol.FlagUserPresent
		if k.UserVerified {
			flags |= protocol.FlagUserVerified
		}
		if k.BackupEligible {
			flags |= protocol.FlagBackupEligible
		}
		if k.BackupState {
			flags |= protocol.FlagBackupState
		}
		var transports []protocol.AuthenticatorTransport
		for _, t := range k.Transports {
			transports = append(transports, protocol.AuthenticatorTransport(t))
		}
		out = append(out, webauthn.Credential{
			ID: k.CredentialID, PublicKey: k.PublicKey, AttestationType: k.AttestationType, AttestationFormat: k.AttestationFormat,
			Transport: transports, Flags: webauthn.NewCredentialFlags(flags),
			Authenticator: webauthn.Authenticator{AAGUID: k.AAGUID, SignCount: k.SignCount},
		})
	}
	return out
}

// ceremony is what is stored between the two requests of a ceremony:
// go-webauthn's session data, and for a registration the name chosen
// before the authenticator was asked.
type ceremony struct {
	Session webauthn.SessionData `json:"session"`
	Name    string               `json:"name,omitempty"`
}

// List returns a staff member's passkeys, oldest first.
func (p *Passkeys) List(ctx context.Context, staffID string) ([]*store.Passkey, error) {
	return p.Staff.Passkeys(ctx, staffID)
}

// Has reports whether a staff member can sign in with a passkey here.
func (p *Passkeys) Has(ctx context.Context, staffID string) (bool, error) {
	if p.Available() != nil {
		return false, nil
	}
	keys, err := p.List(ctx, staffID)
	return len(keys) > 0, err
}

// user loads a staff member's passkeys for a ceremony.
func (p *Passkeys) user(ctx context.Context, rec *store.StaffRecord) (passkeyUser, error) {
	keys, err := p.List(ctx, rec.ID)
	return passkeyUser{rec: rec, keys: keys}, err
}

// begin stores a ceremony for the session and returns the options for the
// browser (navigator.credentials.create or get), as JSON.
func (p *Passkeys) begin(ctx context.Context, sess *store.StaffSession, purpose string, c ceremony, options any) ([]byte, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode passkey ceremony: %w", err)
	}
	now := p.Staff.Now().UTC()
	err = p.Staff.DB.PutWebAuthnChallenge(ctx, &store.WebAuthnChallenge{TokenHash: sess.TokenHash, Purpose: purpose,
		StaffID: sess.StaffID, SessionData: data, ExpiresAt: now.Add(ceremonyTimeout)}, now)
	if err != nil {
		return nil, err
	}
	return json.Marshal(options)
}

// take removes the session's ceremony of purpose. A missing, expired or
// foreign one is ENOTFOUND.
func (p *Passkeys) take(ctx context.Context, sess *store.StaffSession, purpose string) (*ceremony, error) {
	ch, err := p.Staff.DB.TakeWebAuthnChallenge(ctx, sess.TokenHash, purpose, p.Staff.Now().UTC())
	if err != nil {
		return nil, err
	}
	var c ceremony
	if ch.StaffID != sess.StaffID || json.Unmarshal(ch.SessionData, &c) != nil {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no passkey ceremony in progress")
	}
	return &c, nil
}

// BeginRegistration starts adding a passkey named name to the account of
// a full session whose second factor is fresh. It returns the creation
// options for navigator.credentials.create, as JSON.
func (p *Passkeys) BeginRegistration(ctx context.Context, token, name string) ([]byte, error) {
	if err := p.Available(); err != nil {
		return nil, kakunin.Errorf(kakunin.EUNSUPPORTED, "passkeys are not available on this installation")
	}
	sess, rec, err := p.freshSession(ctx, token)
	if err != nil {
		return nil, err
	}
	name, err = passkeyName(name)
	if err != nil {
		return nil, err
	}
	u, err := p.user(ctx, rec)
	if err != nil {
		return nil, err
	}
	if len(u.keys) >= MaxPasskeys {
		return nil, kakunin.Errorf(kakunin.ECONFLICT, "at most %d passkeys per account", MaxPasskeys)
	}
	// Excluding the registered credentials stops one authenticator being
	// registered twice.
	creation, sd, err := p.rp.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.WebAuthnCredentials()).CredentialDescriptors()))
	if err != nil {
		return nil, fmt.Errorf("begin passkey registration: %w", err)
	}
	return p.begin(ctx, sess, purposeRegister, ceremony{Session: *sd, Name: name}, creation)
}

// FinishRegistration checks the browser's answer to BeginRegistration and
// stores the new passkey. A refused answer is EINVALID; it changes nothing
// (the session is already signed in, so it is no failed sign-in).
func (p *Passkeys) FinishRegistration(ctx context.Context, token string, response []byte) (*store.Passkey, error) {
	if err := p.Available(); err != nil {
		return nil, kakunin.Errorf(kakunin.EUNSUPPORTED, "passkeys are not available on this installation")
	}
	sess, rec, err := p.freshSession(ctx, token)
	if err != nil {
		return nil, err
	}
	refused := kakunin.Errorf(kakunin.EINVALID, "the passkey could not be registered")
	c, err := p.take(ctx, sess, purposeRegister)
	if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		return nil, refused
	}
	if err != nil {
		return nil, err
	}
	u, err := p.user(ctx, rec)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, refused
	}
	cred, err := p.rp.CreateCredential(u, c.Session, parsed)
	if err != nil {
		return nil, refused
	}
	key := &store.Passkey{
		ID: kakunin.NewID("pk"), StaffID: rec.ID, CredentialID: cred.ID, PublicKey: cred.PublicKey,
		SignCount: cred.Authenticator.SignCount, Transports: knownTransports(cred.Transport), AAGUID: cred.Authenticator.AAGUID,
		AttestationType: cred.AttestationType, AttestationFormat: cred.AttestationFormat, UserVerified: cred.Flags.UserVerified,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, Name: c.Name, CreatedAt: p.Staff.Now().UTC(),
	}
	if err := p.Staff.DB.InsertPasskey(ctx, key); err != nil {
		return nil, err
	}
	// The name is the staff member's own words: it stays out of the log.
	if err := p.Staff.record(ctx, audit.PasskeyAdded, rec.ID, map[string]string{"passkey": key.ID}); err != nil {
		return nil, err
	}
	return key, nil
}

// Remove deletes one of a staff member's passkeys. TOTP always remains, so
// removing the last passkey locks no one out.
func (p *Passkeys) Remove(ctx context.Context, staffID, id string) error {
	if err := p.Staff.DB.DeletePasskey(ctx, staffID, id); err != nil {
		return err
	}
	return p.Staff.record(ctx, audit.PasskeyRemoved, staffID, map[string]string{"passkey": id})
}

// BeginLogin starts the second factor of a sign-in with a passkey: the
// session must have passed the password step and the account must have a
// passkey. It returns the request options for navigator.credentials.get,
// as JSON.
func (p *Passkeys) BeginLogin(ctx context.Context, token string) ([]byte, error) {
	return p.beginAssertion(ctx, token, StagePassword, purposeLogin)
}

// FinishLogin completes a sign-in with the browser's answer to BeginLogin,
// exactly as VerifyTOTP does with a code: the half session is replaced by a
// new full one, whose token it returns. A refused answer counts as a
// failed sign-in.
func (p *Passkeys) FinishLogin(ctx context.Context, token string, response []byte) (string, error) {
	sess, rec, err := p.Staff.session(ctx, token)
	if err != nil {
		return "", err
	}
	if sess.Stage != StagePassword {
		return "", kakunin.Errorf(kakunin.ECONFLICT, "already signed in")
	}
	key, err := p.verifyAssertion(ctx, sess, rec, purposeLogin, response, "bad_passkey")
	if err != nil {
		return "", err
	}
	if err := p.Staff.DB.DeleteSession(ctx, sess.TokenHash); err != nil {
		return "", err
	}
	if err := p.Staff.DB.ResetLoginFailures(ctx, rec.ID); err != nil {
		return "", err
	}
	if err := p.Staff.record(ctx, audit.StaffLogin, rec.ID, map[string]string{"factor": "passkey", "passkey": key.ID}); err != nil {
		return "", err
	}
	return p.Staff.newSession(ctx, rec.ID, StageFull)
}

// BeginReauth starts proving the second factor again with a passkey inside
// a full session, for sensitive actions.
func (p *Passkeys) BeginReauth(ctx context.Context, token string) ([]byte, error) {
	return p.beginAssertion(ctx, token, StageFull, purposeReauth)
}

// FinishReauth checks the browser's answer to BeginReauth and marks the
// session's second factor fresh. A refused answer counts as a failed
// sign-in, as a wrong code does.
func (p *Passkeys) FinishReauth(ctx context.Context, token string, response []byte) error {
	sess, rec, err := p.Staff.session(ctx, token)
	if err != nil {
		return err
	}
	if sess.Stage != StageFull {
		return kakunin.Errorf(kakunin.EUNAUTHORIZED, "not signed in")
	}
	key, err := p.verifyAssertion(ctx, sess, rec, purposeReauth, response, "bad_passkey_reauth")
	if err != nil {
		return err
	}
	if err := p.Staff.DB.SetSessionReauth(ctx, sess.TokenHash, p.Staff.Now().UTC()); err != nil {
		return err
	}
	return p.Staff.record(ctx, audit.StaffReauth, rec.ID, map[string]string{"factor": "passkey", "passkey": key.ID})
}

func (p *Passkeys) beginAssertion(ctx context.Context, token, stage, purpose string) ([]byte, error) {
	if err := p.Available(); err != nil {
		return nil, kakunin.Errorf(kakunin.EUNSUPPORTED, "passkeys are not available on this installation")
	}
	sess, rec, err := p.Staff.session(ctx, token)
	if err != nil {
		return nil, err
	}
	if sess.Stage != stage {
		if stage == StagePassword {
			return nil, kakunin.Errorf(kakunin.ECONFLICT, "already signed in")
		}
		return nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "not signed in")
	}
	u, err := p.user(ctx, rec)
	if err != nil {
		return nil, err
	}
	if len(u.keys) == 0 {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "this account has no passkey")
	}
	// The allow list names the account's passkeys: the account is known
	// from the password step, so no discoverable credential is needed.
	assertion, sd, err := p.rp.BeginLogin(u)
	if err != nil {
		return nil, fmt.Errorf("begin passkey assertion: %w", err)
	}
	return p.begin(ctx, sess, purpose, ceremony{Session: *sd}, assertion)
}

// verifyAssertion checks an answer to the session's ceremony of purpose
// and records the passkey's use. Any refusal (no ceremony, an unparsable
// or wrong answer, a signature counter that went backwards) counts as a
// failed sign-in, audited with reason, and is EUNAUTHORIZED.
func (p *Passkeys) verifyAssertion(ctx context.Context, sess *store.StaffSession, rec *store.StaffRecord, purpose string, response []byte, reason string) (*store.Passkey, error) {
	if err := p.Available(); err != nil {
		return nil, kakunin.Errorf(kakunin.EUNSUPPORTED, "passkeys are not available on this installation")
	}
	fail := func(why string) (*store.Passkey, error) {
		locked, err := p.Staff.secondFactorFailed(ctx, nil, rec.ID, why)
		if err != nil {
			return nil, err
		}
		if locked {
			return nil, errLocked
		}
		return nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "the passkey was not accepted")
	}
	c, err := p.take(ctx, sess, purpose)
	if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		return fail(reason)
	}
	if err != nil {
		return nil, err
	}
	u, err := p.user(ctx, rec)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return fail(reason)
	}
	cred, err := p.rp.ValidateLogin(u, c.Session, parsed)
	if err != nil {
		return fail(reason)
	}
	// A counter that did not move forward means two copies of the key may
	// exist. Synced passkeys report 0 every time and never trip this.
	if cred.Authenticator.CloneWarning {
		return fail(reason + "_counter")
	}
	i := slices.IndexFunc(u.keys, func(k *store.Passkey) bool { return string(k.CredentialID) == string(cred.ID) })
	if i < 0 {
		return fail(reason)
	}
	key := u.keys[i]
	if err := p.Staff.DB.UsePasskey(ctx, key.ID, cred.Authenticator.SignCount, cred.Flags.BackupState, p.Staff.Now().UTC()); err != nil {
		return nil, err
	}
	return key, nil
}

// freshSession returns a full session whose second factor was proved
// within the re-authentication window: adding a passkey adds a way in, so
// it asks as much as any sensitive action.
func (p *Passkeys) freshSession(ctx context.Context, token string) (*store.StaffSession, *store.StaffRecord, error) {
	sess, rec, err := p.Staff.session(ctx, token)
	if err != nil {
		return nil, nil, err
	}
	if sess.Stage != StageFull {
		return nil, nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "not signed in")
	}
	if !p.Staff.Fresh(&SignedIn{Staff: rec, Stage: sess.Stage, ReauthAt: sess.ReauthAt}) {
		return nil, nil, kakunin.Errorf(kakunin.EFORBIDDEN, "prove the second factor again first")
	}
	return sess, rec, nil
}

// passkeyName trims and checks the name a staff member gives a passkey.
func passkeyName(name string) (string, error) {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || len([]rune(name)) > MaxPasskeyName {
		return "", kakunin.Errorf(kakunin.EINVALID, "a passkey needs a name of 1 to %d characters", MaxPasskeyName)
	}
	return name, nil
}

// knownTransports keeps the transports WebAuthn defines: the list comes
// from the browser and is only ever handed back to it as a hint.
func knownTransports(ts []protocol.AuthenticatorTransport) []string {
	known := []protocol.AuthenticatorTransport{protocol.USB, protocol.NFC, protocol.BLE, protocol.SmartCard, protocol.Hybrid, protocol.Internal}
	var out []string
	for _, t := range ts {
		if slices.Contains(known, t) && !slices.Contains(out, string(t)) {
			out = append(out, string(t))
		}
	}
	return out
}
