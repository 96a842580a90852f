package inquiry

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/bymail"
	"github.com/kakunin/kakunin/internal/exposure"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/verification"
)

// Keys is the part of the vault this package uses.
type Keys = verification.Keys

// Categories of an inquiry, as the form offers them.
const (
	CategoryIncident     = "incident"     // a question about an incident
	CategoryVerification = "verification" // a verification problem
	CategoryMyData       = "my_data"      // a request about my data
	CategoryOther        = "other"
)

// Categories lists them in the form's order.
var Categories = []string{CategoryIncident, CategoryVerification, CategoryMyData, CategoryOther}

// ValidCategory reports whether c is a category.
func ValidCategory(c string) bool { return slices.Contains(Categories, c) }

// Statuses of a thread.
const (
	StatusOpen    = "open"    // the desk owes the person an answer: the clock runs
	StatusWaiting = "waiting" // the desk answered and waits for the person: the clock pauses
	StatusClosed  = "closed"
)

// Kinds of message.
const (
	KindPerson = "person" // written by the person
	KindReply  = "reply"  // the desk's reply, mailed and shown in the thread
	KindNote   = "note"   // an internal note, never shown to the person
)

// MaxMessage is the longest message accepted, in bytes of UTF-8 (about
// 3,000 Japanese characters or 10,000 English ones).
const MaxMessage = 10000

// Rate-limit scopes, in the exposure check's tables under their own names.
const (
	ScopeClient  = "contact_client"  // contact requests per client (origin hash)
	ScopeAddress = "contact_address" // threads opened per address (blind index)
)

// Defaults of the Service's zero values.
const (
	DefaultClientLimit   = 5
	DefaultClientWindow  = time.Hour
	DefaultAddressLimit  = 5
	DefaultAddressWindow = 24 * time.Hour
	// DefaultLinkTTL: a thread's private link lives as long as a person
	// may come back to their inquiry; it is revoked when the thread is
	// erased, or by staff.
	DefaultLinkTTL = 180 * 24 * time.Hour
)

// Limits are the rate limits of /contact.
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

// Service runs the inquiry desk.
type Service struct {
	DB   *store.DB
	Keys Keys
	Jobs alert.Enqueuer
	// Requests, when set, commits /contact requests together with other
	// clients' (the server's group committer, as /check and /signin
	// use); nil: one transaction each.
	Requests *bymail.Committer
	Audit    *audit.Log
	// PublicURL is the base of the thread links in mails.
	PublicURL string
	// MailDomain is the domain of the sender's address (--mail-from): the
	// right-hand side of the mailer's Message-IDs, so In-Reply-To can
	// name the thread's first mail.
	MailDomain string
	Limits     Limits
	LinkTTL    time.Duration
	// Spread delays each request's job by a random time up to this long
	// (as /check's and /signin's).
	Spread time.Duration
	// SLA gives each category's targets; the zero value has the defaults.
	SLA *SLA
	Now func() time.Time
	Log *slog.Logger // required
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) sla() *SLA {
	if s.SLA == nil {
		return DefaultSLA()
	}
	return s.SLA
}

// CleanMessage checks and normalises a message: valid UTF-8, at most
// MaxMessage bytes, not empty, line ends as \n; control characters other
// than line feed and tab are refused (they have no place in plain text
// and could hide content). The error's message ID says which.
func CleanMessage(text string) (string, error) {
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n")
	text = strings.TrimSpace(text)
	switch {
	case text == "":
		return "", kakunin.Errorf(kakunin.EINVALID, "message_empty")
	case len(text) > MaxMessage:
		return "", kakunin.Errorf(kakunin.EINVALID, "message_too_long")
	case !utf8.ValidString(text):
		return "", kakunin.Errorf(kakunin.EINVALID, "message_invalid")
	}
	for _, r := range text {
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r) && r != '\u200d') {
			return "", kakunin.Errorf(kakunin.EINVALID, "message_control")
		}
	}
	return text, nil
}

// AddressIndex is the blind index an inquiry's address is stored under:
// what the erasure of a member passes to store.DeleteInquiriesOfMember
// (with the member's registered address).
func AddressIndex(k Keys, address string) []byte {
	return k.BlindIndex(vault.PurposeInquiryAddressIndex, []byte(verification.NormalizeEmail(address)))
}

// ContactArgs is the job that opens one thread from /contact.
type ContactArgs struct {
	ID       string         `json:"id"` // inq_…, the thread to be
	Category string         `json:"category"`
	Lang     kakunin.Locale `json:"lang"`
	// Address and Body are sealed by the vault: the job table holds
	// neither in clear.
	Address []byte    `json:"address"`
	Body    []byte    `json:"body"`
	At      time.Time `json:"at"` // when it was sent
}

// Kind implements river.JobArgs. Stored jobs refer to it: never change it.
func (ContactArgs) Kind() string { return "inquiry_contact" }

// MaxAttempts of the contact job (River's back-off: about a day).
const MaxAttempts = 10

// InsertOpts gives the job MaxAttempts however it is enqueued.
func (ContactArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: MaxAttempts} }

// Submit accepts a message typed on /contact. Like /check it does no
// look-up: EINVALID for a bad field (the message ID says which:
// invalid_category, invalid_address, message_*), ERATELIMIT when this
// client sent too many, otherwise nil once the job and the audit event
// are committed together.
func (s *Service) Submit(ctx context.Context, category, message, address string, lang kakunin.Locale) error {
	if !ValidCategory(category) {
		return kakunin.Errorf(kakunin.EINVALID, "invalid_category")
	}
	addr, ok := exposure.ValidAddress(address)
	if !ok {
		return kakunin.Errorf(kakunin.EINVALID, "invalid_address")
	}
	body, err := CleanMessage(message)
	if err != nil {
		return err
	}
	sealedAddr, err := s.Keys.SealField(vault.PurposeInquiryAddress, []byte(addr))
	if err != nil {
		return fmt.Errorf("contact: %w", err)
	}
	sealedBody, err := s.Keys.SealField(vault.PurposeInquiryBody, []byte(body))
	if err != nil {
		return fmt.Errorf("contact: %w", err)
	}
	now := s.now()
	lim := s.Limits.withDefaults()
	id := kakunin.NewID("inq")
	hash := s.Keys.BlindIndex(vault.PurposeAuditInquiryAddress, []byte(verification.NormalizeEmail(addr)))
	err = s.enqueue(ctx, now, bymail.Request{
		Scope: ScopeClient, Limit: lim.Client, Window: lim.ClientWindow,
		Job:         ContactArgs{ID: id, Category: category, Lang: lang, Address: sealedAddr, Body: sealedBody, At: now.UTC()},
		MaxAttempts: MaxAttempts, Spread: s.Spread,
		Event: audit.Event{Action: audit.InquiryReceived, Actor: "public", Subject: id,
			Detail: map[string]string{"category": category, "address_hash": hex.EncodeToString(hash[:8])}},
	})
	if errors.Is(err, bymail.ErrLimited) {
		return kakunin.Errorf(kakunin.ERATELIMIT, "too many messages from this client")
	}
	if err != nil {
		return fmt.Errorf("contact: %w", err)
	}
	return nil
}

// enqueue commits a public request through the server's group committer,
// or alone when there is none.
func (s *Service) enqueue(ctx context.Context, now time.Time, r bymail.Request) error {
	if s.Requests != nil {
		return s.Requests.Enqueue(ctx, now, r)
	}
	return bymail.Enqueue(ctx, s.DB, s.Jobs, s.Audit, now, r)
}
