package exposure

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/brand"
	"github.com/kakunin/kakunin/internal/bymail"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// Keys is the part of the vault this package uses.
type Keys interface {
	auth.Signer
	SealField(purpose string, plaintext []byte) ([]byte, error)
	OpenField(purpose string, ciphertext []byte) ([]byte, error)
	BlindIndex(purpose string, value []byte) []byte
}

// Rate-limit scopes, as stored in exposure_limits.
const (
	ScopeClient    = "client"     // checks per client (origin hash)
	ScopeAddress   = "address"    // answer mails per address (blind index)
	ScopeNoAccount = "no_account" // "no account" mails per address
)

// Defaults of Limits' zero values.
const (
	DefaultClientLimit   = 10
	DefaultClientWindow  = time.Hour
	DefaultAddressLimit  = 3
	DefaultAddressWindow = 24 * time.Hour
	// NoAccountWindow: at most one "no account uses this address" mail per
	// address in this long, whatever Limits say.
	NoAccountWindow = 24 * time.Hour
	// MailLinkTTL is how long the link in an answer mail works;
	// HandoffLinkTTL how long a link the host asked for does.
	MailLinkTTL    = 24 * time.Hour
	HandoffLinkTTL = 30 * time.Minute
	// MaxAddress is the longest address accepted (RFC 5321's path limit).
	MaxAddress = 254
)

// Limits are the rate limits of the check.
type Limits struct {
	Client        int           // checks one client may submit per ClientWindow
	ClientWindow  time.Duration //
	Address       int           // answer mails one address may receive per AddressWindow
	AddressWindow time.Duration //
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

// longestWindow is how far back any limit looks: older hits can go.
func (l Limits) longestWindow() time.Duration {
	l = l.withDefaults()
	return max(l.ClientWindow, l.AddressWindow, NoAccountWindow)
}

// Service runs the exposure check.
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
	// Brand is the answer mails' From name and signature.
	Brand  brand.Brand
	Limits Limits
	// NoAccountMail: an address with no account gets a "no account uses
	// this address" mail (at most one per NoAccountWindow). Off by
	// default: most operators prefer to send nothing to strangers.
	NoAccountMail bool
	// Spread delays each check's job by a random time up to this long, so
	// the extra work a member's check causes (look-ups, a mail) does not
	// follow the request at a fixed distance an observer could time.
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

// ValidAddress returns the address as it will be used (spaces around it
// trimmed) and whether it looks like a plain e-mail address. It looks at
// the text only, so its answer says nothing about membership.
func ValidAddress(typed string) (string, bool) {
	a := strings.TrimSpace(typed)
	if a == "" || len(a) > MaxAddress || strings.ContainsAny(a, "\r\n\x00") {
		return "", false
	}
	p, err := mail.ParseAddress(a)
	if err != nil || p.Address != a || !strings.Contains(a, "@") {
		return "", false
	}
	return a, true
}

// CheckArgs is the job that answers one check.
type CheckArgs struct {
	ID string `json:"id"` // chk_…, the audit event's subject
	// Address is the typed address sealed by the vault: the job table
	// never holds it in clear.
	Address []byte `json:"address"`
	// Lang is the language of the page the check was sent from: the
	// language of a "no account" mail (a member's answer is in theirs).
	Lang kakunin.Locale `json:"lang"`
}

// Kind implements river.JobArgs. Stored jobs refer to it: never change it.
func (CheckArgs) Kind() string { return "exposure_check" }

// MaxAttempts bounds the retries of an answer: with River's back-off
// (attempt⁴ seconds) twelve attempts span about eight hours, long enough
// for a mail server to come back, short enough that the answer still
// matters.
const MaxAttempts = 12

// InsertOpts gives the job MaxAttempts however it is enqueued.
func (CheckArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: MaxAttempts} }

// errLimited rolls a rate-limited transaction back.
var errLimited = errors.New("rate limited")

// Check accepts a check of address, typed on the public form (lang is
// the page's language). It does no membership look-up, so its result and
// its work are the same for every valid address: EINVALID for text that
// is no address, ERATELIMIT when this client (the request's origin hash)
// sent too many checks, otherwise nil once the job and the audit event
// are committed together.
func (s *Service) Check(ctx context.Context, address string, lang kakunin.Locale) error {
	addr, ok := ValidAddress(address)
	if !ok {
		return kakunin.Errorf(kakunin.EINVALID, "invalid_address")
	}
	if _, ok := kakunin.ParseLocale(string(lang)); !ok {
		lang = kakunin.LocaleJA
	}
	sealed, err := s.Keys.SealField(vault.PurposeExposureCheckAddress, []byte(addr))
	if err != nil {
		return fmt.Errorf("exposure check: %w", err)
	}
	now := s.now()
	lim := s.Limits.withDefaults()
	id := kakunin.NewID("chk")
	hash := s.Keys.BlindIndex(vault.PurposeAuditExposureAddress, []byte(verification.NormalizeEmail(addr)))
	err = s.enqueue(ctx, now, bymail.Request{
		Scope: ScopeClient, Limit: lim.Client, Window: lim.ClientWindow,
		Job: CheckArgs{ID: id, Address: sealed, Lang: lang}, MaxAttempts: MaxAttempts, Spread: s.Spread,
		Event: audit.Event{Action: audit.ExposureChecked, Actor: "public", Subject: id,
			Detail: map[string]string{"address_hash": hex.EncodeToString(hash[:8]), "lang": string(lang)}},
	})
	if errors.Is(err, bymail.ErrLimited) {
		return kakunin.Errorf(kakunin.ERATELIMIT, "too many checks from this client")
	}
	if err != nil {
		return fmt.Errorf("exposure check: %w", err)
	}
	return nil
}

// Answer is what one incident means for one member.
type Answer struct {
	Incident *kakunin.Incident
	Exposure *incident.Exposure
}

// Answers computes, for every incident whose window and holdings are
// settled (status identified or later), whether it reached memberID's
// documents. The most recently discovered incident comes first; none at
// all is an honest "no incident known".
func (s *Service) Answers(ctx context.Context, memberID string) ([]Answer, error) {
	all, err := s.DB.ListIncidents(ctx)
	if err != nil {
		return nil, err
	}
	var out []Answer
	for _, in := range all {
		if !in.Status.Scoped() {
			continue
		}
		ex, err := incident.MemberExposure(ctx, s.DB, in, memberID)
		if kakunin.ErrorCode(err) == kakunin.ECONFLICT {
			// Marked identified without a window: nothing can be said yet.
			s.Log.WarnContext(ctx, "exposure: incident has no window; left out of the answer", "incident", in.ID)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Answer{Incident: in, Exposure: ex})
	}
	return out, nil
}

// Link is a signed URL to one member's answer page.
type Link struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Service) link(memberID string, via byte, ttl time.Duration) Link {
	exp := s.now().Add(ttl).Truncate(time.Second).UTC()
	return Link{URL: strings.TrimSuffix(s.PublicURL, "/") + "/check/r/" + LinkToken(s.Keys, memberID, via, exp), ExpiresAt: exp}
}

// HandoffLink returns a short-lived link to the answer of the member the
// host knows as externalID, for the host platform to send its signed-in
// member to. It is audited as issued by the API key in ctx.
func (s *Service) HandoffLink(ctx context.Context, externalID string) (Link, error) {
	rec, err := s.DB.MemberByExternalID(ctx, externalID)
	if err != nil {
		return Link{}, err
	}
	if rec.DeletedAt != nil {
		return Link{}, kakunin.Errorf(kakunin.ECONFLICT, "this member has left; register them again first")
	}
	l := s.link(rec.ID, ViaHandoff, HandoffLinkTTL)
	err = s.Audit.Append(ctx, audit.Event{Action: audit.ExposureLinkIssued, Actor: audit.ActorFrom(ctx), Subject: rec.ID,
		Origin: audit.OriginFrom(ctx), Detail: map[string]string{"expires": l.ExpiresAt.Format(time.RFC3339)}})
	if err != nil {
		return Link{}, err
	}
	return l, nil
}

// View is a member's answer, opened through a link.
type View struct {
	MemberID  string
	Locale    kakunin.Locale
	Answers   []Answer
	ExpiresAt time.Time // when the link stops working
}

// Open checks a link's token and returns the answer of the member it was
// made for, auditing the view. Every link that cannot be used (altered,
// expired, for a member who left or never was) is ENOTFOUND alike.
func (s *Service) Open(ctx context.Context, token string) (*View, error) {
	bad := kakunin.Errorf(kakunin.ENOTFOUND, "this link cannot be used")
	memberID, via, exp, err := CheckLinkToken(s.Keys, token, s.now())
	if err != nil {
		return nil, bad
	}
	rec, err := s.DB.MemberByID(ctx, memberID)
	if kakunin.ErrorCode(err) == kakunin.ENOTFOUND || (err == nil && rec.DeletedAt != nil) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	answers, err := s.Answers(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	err = s.Audit.Append(ctx, audit.Event{Action: audit.ExposureViewed, Actor: "member:" + rec.ID, Subject: rec.ID,
		Origin: audit.OriginFrom(ctx), Detail: map[string]string{"via": viaName(via)}})
	if err != nil {
		return nil, err
	}
	return &View{MemberID: rec.ID, Locale: rec.Locale, Answers: answers, ExpiresAt: exp}, nil
}

// enqueue commits a public request through the server's group committer,
// or alone when there is none.
func (s *Service) enqueue(ctx context.Context, now time.Time, r bymail.Request) error {
	if s.Requests != nil {
		return s.Requests.Enqueue(ctx, now, r)
	}
	return bymail.Enqueue(ctx, s.DB, s.Jobs, s.Audit, now, r)
}
