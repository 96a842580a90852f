// Package jpki checks a member's age with the My Number card's chip,
// through the Digital Agency's デジタル認証アプリ, as an OpenID Connect
// relying party: the authorization-code flow with state, PKCE (S256) and a
// nonce, scopes openid and birthdate only. The ID token is verified by
// github.com/coreos/go-oidc (signature against the provider's published
// keys, issuer, audience, expiry); the birth date it carries is turned at
// once into adult yes/no by the reviewer's own rule (review.IsAdult, the
// Japanese calendar day) and dropped: it is never stored, logged or
// audited. No image exists on this path, so no reviewer is involved.
//
// Every refusal (a state that is unknown, spent, expired or another
// browser's; a provider error; a code the provider refuses, such as one
// used twice; an ID token that fails verification, names another client or
// another issuer, or lacks the nonce; a birth date missing or not
// YYYY-MM-DD) is a *Refusal with a reason code, audited as jpki.refused,
// and changes nothing on the verification.
package jpki

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/review"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/verification"
)

// What the verification record says of a check by this path: the dating-
// site law's record names the document and who issued it. The birth date
// comes from the card's signature certificate, which J-LIS issues.
const (
	DocumentName = "マイナンバーカード（公的個人認証）"
	IssuerName   = "地方公共団体情報システム機構（J-LIS）"
)

// CallbackPath is where the provider sends the member back, under the
// public URL; the operator registers PUBLIC_URL + CallbackPath.
const CallbackPath = "/oidc/jpki/callback"

// FlowTTL is how long a member has at the provider before the state
// expires.
const FlowTTL = 10 * time.Minute

// Scopes are all kakunin asks for. There is no age-only claim; name,
// address and gender are never requested.
var Scopes = []string{oidc.ScopeOpenID, "birthdate"}

// Audit actions of this path.
const (
	ActionStarted = audit.JPKIStarted
	ActionChecked = audit.JPKIChecked
	ActionRefused = audit.JPKIRefused
)

// Refusal reasons, shown to the member (catalogue agecheck.refused.*) and
// audited.
const (
	ReasonState       = "state"       // unknown, spent, expired, or started in another browser
	ReasonIssuer      = "issuer"      // the answer names another issuer (mix-up)
	ReasonCancelled   = "cancelled"   // the member or the provider ended it (error=access_denied)
	ReasonProvider    = "provider"    // the provider answered another error
	ReasonCode        = "code"        // the provider refused the code (used twice, wrong verifier…)
	ReasonToken       = "token"       // the ID token failed verification (signature, audience, issuer, expiry, nonce)
	ReasonClaims      = "claims"      // no birth date, or not YYYY-MM-DD
	ReasonDecided     = "decided"     // the verification was no longer waiting
	ReasonUnavailable = "unavailable" // the provider could not be reached
)

// Refusal is a callback that was refused. Verification is the ID of the
// verification it was for, when the state named one.
type Refusal struct {
	Reason       string
	Verification string
	err          error
}

func (r *Refusal) Error() string {
	if r.err != nil {
		return "jpki: refused (" + r.Reason + "): " + r.err.Error()
	}
	return "jpki: refused (" + r.Reason + ")"
}

func (r *Refusal) Unwrap() error { return r.err }

// Config is what the operator was given by the Digital Agency.
type Config struct {
	Issuer       string // discovery at Issuer + /.well-known/openid-configuration
	ClientID     string
	ClientSecret string
	RedirectURL  string // PUBLIC_URL + CallbackPath
}

// Service runs the flow. It is safe for concurrent use.
type Service struct {
	Config
	DB    *store.DB
	Audit *audit.Log
	Jobs  document.Enqueuer
	Now   func() time.Time
	Log   *slog.Logger
	// HTTPClient reaches the provider (default: a client with a 15 s
	// timeout).
	HTTPClient *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

func (s *Service) client() *http.Client {
	if s.HTTPClient != nil {
		return s.HTTPClient
	}
	return &http.Client{Timeout: 15 * time.Second}
}

func (s *Service) ctx(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, s.client())
}

// discover fetches the provider's configuration once; a failure is
// retried at the next member's request, so kakunin starts even when the
// provider is down.
func (s *Service) discover(ctx context.Context) (*oidc.Provider, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.provider != nil {
		return s.provider, nil
	}
	// The key set fetches later with this context: it must outlive the
	// request that happened to discover.
	p, err := oidc.NewProvider(s.ctx(context.WithoutCancel(ctx)), s.Issuer)
	if err != nil {
		return nil, fmt.Errorf("jpki discovery: %w", err)
	}
	s.provider = p
	return p, nil
}

func (s *Service) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: s.ClientID, ClientSecret: s.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: s.RedirectURL, Scopes: Scopes}
}

// Begin starts a flow for v: it returns the provider's authorization URL
// to send the member's browser to and the secret to set in that browser's
// cookie, which the callback must bring back.
func (s *Service) Begin(ctx context.Context, v *kakunin.Verification) (authURL, browser string, err error) {
	if v.Status != kakunin.StatusAwaitingUpload {
		return "", "", &Refusal{Reason: ReasonDecided, Verification: v.ID}
	}
	p, err := s.discover(ctx)
	if err != nil {
		return "", "", &Refusal{Reason: ReasonUnavailable, Verification: v.ID, err: err}
	}
	now := s.Now().UTC()
	state, nonce, browser := auth.NewToken(), auth.NewToken(), auth.NewToken()
	verifier := oauth2.GenerateVerifier()
	f := &store.OIDCFlow{StateHash: auth.HashToken(state), BrowserHash: auth.HashToken(browser), VerificationID: v.ID,
		Nonce: nonce, PKCEVerifier: verifier, CreatedAt: now, ExpiresAt: now.Add(FlowTTL)}
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertOIDCFlow(ctx, f); err != nil {
			return err
		}
		return s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: ActionStarted, Actor: "member", Subject: v.ID,
			Origin: audit.OriginFrom(ctx), Detail: map[string]string{"method": kakunin.MethodJPKIApp}})
	})
	if err != nil {
		return "", "", err
	}
	return s.oauth(p).AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), browser, nil
}

// Finish handles the provider's redirect back: query is its query string,
// browser the cookie the browser brought. On success the verification is
// decided (approved, adult or not), its webhook enqueued and the check
// audited in one transaction. Any failure is a *Refusal (audited, nothing
// changed) or an internal error.
func (s *Service) Finish(ctx context.Context, query url.Values, browser string) (*kakunin.Verification, error) {
	v, err := s.finish(ctx, query, browser)
	var ref *Refusal
	if errors.As(err, &ref) {
		detail := map[string]string{"reason": ref.Reason, "method": kakunin.MethodJPKIApp}
		subject := ref.Verification
		if subject == "" {
			subject = "-"
		}
		if aerr := s.Audit.Append(ctx, audit.Event{Action: ActionRefused, Actor: "member", Subject: subject,
			Origin: audit.OriginFrom(ctx), Detail: detail}); aerr != nil {
			return nil, errors.Join(err, aerr)
		}
		// The cause names no personal data: library errors about tokens,
		// never a claim's value (parseClaims' errors say what was wrong,
		// not what was there).
		s.Log.Warn("jpki callback refused", "reason", ref.Reason, "verification", ref.Verification, "cause", ref.err)
	}
	return v, err
}

func (s *Service) finish(ctx context.Context, query url.Values, browser string) (*kakunin.Verification, error) {
	state := query.Get("state")
	if state == "" || len(state) > 256 {
		return nil, &Refusal{Reason: ReasonState}
	}
	now := s.Now().UTC()
	f, err := s.DB.SpendOIDCFlow(ctx, auth.HashToken(state), now)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return nil, &Refusal{Reason: ReasonState}
	}
	if browser == "" || subtle.ConstantTimeCompare(auth.HashToken(browser), f.BrowserHash) != 1 {
		return nil, &Refusal{Reason: ReasonState, Verification: f.VerificationID}
	}
	refuse := func(reason string, err error) (*kakunin.Verification, error) {
		return nil, &Refusal{Reason: reason, Verification: f.VerificationID, err: err}
	}
	// RFC 9207: an answer that names its issuer must name ours.
	if iss, ok := query["iss"]; ok && (len(iss) != 1 || iss[0] != s.Issuer) {
		return refuse(ReasonIssuer, errors.New("the authorization response names another issuer"))
	}
	if e := query.Get("error"); e != "" {
		if e == "access_denied" {
			return refuse(ReasonCancelled, nil)
		}
		return refuse(ReasonProvider, fmt.Errorf("provider error %.40q", e))
	}
	code := query.Get("code")
	if code == "" || len(code) > 2048 {
		return refuse(ReasonProvider, errors.New("no code in the answer"))
	}
	p, err := s.discover(ctx)
	if err != nil {
		return refuse(ReasonUnavailable, err)
	}
	hctx := s.ctx(ctx)
	tok, err := s.oauth(p).Exchange(hctx, code, oauth2.VerifierOption(f.PKCEVerifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return refuse(ReasonCode, fmt.Errorf("token endpoint: %s", re.ErrorCode))
		}
		return refuse(ReasonUnavailable, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return refuse(ReasonToken, errors.New("no id_token in the token response"))
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: s.ClientID, Now: s.Now}).Verify(hctx, raw)
	if err != nil {
		return refuse(ReasonToken, err)
	}
	var c Claims
	if err := idt.Claims(&c); err != nil {
		return refuse(ReasonToken, errors.New("claims do not decode"))
	}
	// With several audiences the token must say it was issued to us.
	if len(idt.Audience) > 1 && c.AuthorizedParty != s.ClientID {
		return refuse(ReasonToken, errors.New("azp is not this client"))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return refuse(ReasonToken, errors.New("nonce does not match this flow"))
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return refuse(ReasonToken, err)
		}
	}
	birthRaw := c.Birthdate
	if birthRaw == nil {
		// Not in the ID token: ask the UserInfo endpoint, whose answer
		// must be about the same subject.
		ui, err := p.UserInfo(hctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return refuse(ReasonClaims, errors.New("no birthdate in the ID token and UserInfo failed"))
		}
		if ui.Subject != idt.Subject {
			return refuse(ReasonToken, errors.New("UserInfo is about another subject"))
		}
		var uc Claims
		if err := ui.Claims(&uc); err != nil {
			return refuse(ReasonClaims, errors.New("UserInfo claims do not decode"))
		}
		birthRaw = uc.Birthdate
	}
	birth, err := ParseBirthdate(birthRaw, now)
	if err != nil {
		return refuse(ReasonClaims, err)
	}
	r := &kakunin.Result{Adult: kakunin.Bool(review.IsAdult(birth, now)), Method: kakunin.MethodJPKIApp,
		DocumentType: kakunin.DocMyNumberCard, DocumentName: DocumentName, Issuer: IssuerName, CheckedAt: now}
	var v *kakunin.Verification
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		ok, err := tx.RecordCheck(ctx, f.VerificationID, r)
		if err != nil {
			return err
		}
		if !ok {
			return &Refusal{Reason: ReasonDecided, Verification: f.VerificationID}
		}
		if v, err = tx.Verification(ctx, f.VerificationID); err != nil {
			return err
		}
		err = s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: ActionChecked, Actor: "member", Subject: v.ID,
			Origin: audit.OriginFrom(ctx), Detail: map[string]string{"method": kakunin.MethodJPKIApp,
				"adult": fmt.Sprint(*r.Adult), "issuer": s.Issuer}})
		if err != nil {
			return err
		}
		return verification.Announce(ctx, s.Jobs, tx, v)
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}
