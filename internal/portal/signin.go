package portal

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/bymail"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// Keys is the part of the vault this package uses (the members' address
// index and sealing, as verification has them).
type Keys = verification.Keys

// Rate-limit scopes, kept in the exposure check's tables under their own
// names so the two forms' limits never mix.
const (
	ScopeClient  = "signin_client"  // sign-in requests per client (origin hash)
	ScopeAddress = "signin_address" // sign-in mails per address (blind index)
)

// Defaults of the Service's zero values.
const (
	DefaultClientLimit   = 10
	DefaultClientWindow  = time.Hour
	DefaultAddressLimit  = 5
	DefaultAddressWindow = time.Hour
	// DefaultLinkTTL: a sign-in link is a bearer credential in a mailbox;
	// a quarter of an hour is long enough to open the mail.
	DefaultLinkTTL = 15 * time.Minute
	// DefaultIdleTimeout ends a member session nobody used for this long;
	// DefaultMaxSession ends any session this old.
	DefaultIdleTimeout = 15 * time.Minute
	DefaultMaxSession  = 8 * time.Hour
)

// Ways a link was issued, stored with it and audited.
const (
	ViaMail    = "mail"
	ViaHandoff = "handoff"
)

// Limits are the rate limits of /signin.
type Limits struct {
	Client        int
	ClientWindow  time.Duration
	Address       int
	AddressWindow time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.Client <= 0 {
		l.Client = DefaultClientLimit
	}
	if l.ClientWindow <= 0 {
		l.ClientWindow = DefaultClientWindow
	}
	if l.Address <= 0 {
		l.Address = DefaultAddressLimit
	}
	if l.AddressWindow <= 0 {
		l.AddressWindow = DefaultAddressWindow
	}
	return l
}

// Service runs the members' portal.
type Service struct {
	DB   *store.DB
	Keys Keys
	Jobs alert.Enqueuer
	// Requests, when set, commits the form's requests together with
	// other clients' (the server's group committer); nil: one
	// transaction each.
	Requests *bymail.Committer
	Audit    *audit.Log
	// PublicURL is the base of the links in mails and hand-offs.
	PublicURL string
	// Brand is the sign-in mail's From name and signature.
	Brand       brand.Brand
	Limits      Limits
	LinkTTL     time.Duration
	IdleTimeout time.Duration
	MaxSession  time.Duration
	// Spread delays each request's job by a random time up to this long,
	// so a member's extra work does not follow the request at a fixed
	// distance (as the exposure check's).
	Spread time.Duration
	Now    func() time.Time
	Log    *slog.Logger // required
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// SigninArgs is the job that answers one /signin request.
type SigninArgs struct {
	ID string `json:"id"` // sgn_…, the audit event's subject
	// Address is the typed address sealed by the vault: the job table
	// never holds it in clear.
	Address []byte `json:"address"`
}

// Kind implements river.JobArgs. Stored jobs refer to it: never change it.
func (SigninArgs) Kind() string { return "portal_signin" }

// MaxAttempts: a sign-in link lives a quarter of an hour, so retrying
// longer than that would mail a link to a member who gave up. River's
// back-off (attempt⁴ s) spends about 15 minutes in six attempts.
const MaxAttempts = 6

// InsertOpts gives the job MaxAttempts however it is enqueued.
func (SigninArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: MaxAttempts} }

var errLimited = errors.New("rate limited")

// RequestLink accepts a sign-in request for address, typed on /signin. It
// does no membership look-up, so its result and its work are the same for
// every valid address: EINVALID for text that is no address, ERATELIMIT
// when this client sent too many, otherwise nil once the job and the audit
// event are committed together.
func (s *Service) RequestLink(ctx context.Context, address string) error {
	addr, ok := exposure.ValidAddress(address)
	if !ok {
		return kakunin.Errorf(kakunin.EINVALID, "invalid_address")
	}
	sealed, err := s.Keys.SealField(vault.PurposePortalSigninAddress, []byte(addr))
	if err != nil {
		return fmt.Errorf("sign-in request: %w", err)
	}
	now := s.now()
	lim := s.Limits.withDefaults()
	id := kakunin.NewID("sgn")
	hash := s.Keys.BlindIndex(vault.PurposeAuditSigninAddress, []byte(verification.NormalizeEmail(addr)))
	err = s.enqueue(ctx, now, bymail.Request{
		Scope: ScopeClient, Limit: lim.Client, Window: lim.ClientWindow,
		Job: SigninArgs{ID: id, Address: sealed}, MaxAttempts: MaxAttempts, Spread: s.Spread,
		Event: audit.Event{Action: audit.PortalSigninRequested, Actor: "public", Subject: id,
			Detail: map[string]string{"address_hash": hex.EncodeToString(hash[:8])}},
	})
	if errors.Is(err, bymail.ErrLimited) {
		return kakunin.Errorf(kakunin.ERATELIMIT, "too many sign-in requests from this client")
	}
	if err != nil {
		return fmt.Errorf("sign-in request: %w", err)
	}
	return nil
}

// Link is a one-time sign-in URL.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// issue makes a new link for memberID, revoking the member's older unused
// ones, and audits it, in q's transaction.
func (s *Service) issue(ctx context.Context, tx *store.Tx, memberID, via, actor string) (Link, error) {
	now := s.now()
	token := auth.NewToken()
	exp := now.Add(orDefault(s.LinkTTL, DefaultLinkTTL)).Truncate(time.Second).UTC()
	l := &store.SigninLink{TokenHash: auth.HashToken(token), MemberID: memberID, Via: via, CreatedAt: now, ExpiresAt: exp}
	if err := tx.ReplaceSigninLink(ctx, l); err != nil {
		return Link{}, err
	}
	err := s.Audit.AppendTx(ctx, tx, audit.Event{Action: audit.PortalLinkIssued, Actor: actor, Subject: memberID,
		Origin: audit.OriginFrom(ctx), Detail: map[string]string{"via": via, "expires": exp.Format(time.RFC3339)}})
	if err != nil {
		return Link{}, err
	}
	return Link{URL: strings.TrimSuffix(s.PublicURL, "/") + "/signin/" + token, ExpiresAt: exp}, nil
}

// HandoffLink returns a one-time sign-in link for the member the host
// knows as externalID, for the host to send its signed-in member to. It
// revokes the member's older links and is audited as the API key in ctx.
func (s *Service) HandoffLink(ctx context.Context, externalID string) (Link, error) {
	rec, err := s.DB.MemberByExternalID(ctx, externalID)
	if err != nil {
		return Link{}, err
	}
	if rec.DeletedAt != nil {
		return Link{}, kakunin.Errorf(kakunin.ECONFLICT, "this member has left; register them again first")
	}
	var l Link
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		l, err = s.issue(ctx, tx, rec.ID, ViaHandoff, audit.ActorFrom(ctx))
		return err
	})
	if err != nil {
		return Link{}, fmt.Errorf("portal hand-off link: %w", err)
	}
	return l, nil
}

// enqueue commits a public request through the server's group committer,
// or alone when there is none.
func (s *Service) enqueue(ctx context.Context, now time.Time, r bymail.Request) error {
	if s.Requests != nil {
		return s.Requests.Enqueue(ctx, now, r)
	}
	return bymail.Enqueue(ctx, s.DB, s.Jobs, s.Audit, now, r)
}
