// Package verification is what the host platform asks of kakunin: register
// members, open a verification with an upload link, read the result, and
// say when a member left. It stores only the minimal record the
// dating-site law needs; the member's address is sealed with a keyed blind
// index (invariant 2), and the result never carries the image or its text.
package verification

import (
	"context"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/document"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
	"github.com/kakunin/kakunin/internal/webhook"
)

// Keys is the part of the vault this package uses.
type Keys interface {
	auth.Signer
	SealField(purpose string, plaintext []byte) ([]byte, error)
	OpenField(purpose string, ciphertext []byte) ([]byte, error)
	BlindIndex(purpose string, value []byte) []byte
}

// Service carries out the host platform's requests. Every change it makes
// commits in one transaction with its audit event (Audit is required):
// a change without its event, or an event without its change, cannot be.
type Service struct {
	DB        *store.DB
	Keys      Keys
	Documents *document.Service
	Jobs      document.Enqueuer
	Audit     *audit.Log
	PublicURL string
	LinkTTL   time.Duration
	Now       func() time.Time
}

// NormalizeEmail is the form an address is indexed under.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func validExternalID(id string) bool {
	if id == "" || len(id) > 128 || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r == '/' || !unicode.IsGraphic(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// UpsertMember registers a member or updates their address and locale. It
// reports whether the member was new. The api.member_put event, by the
// actor and origin in ctx, commits with the change.
func (s *Service) UpsertMember(ctx context.Context, externalID, email string, locale kakunin.Locale) (*kakunin.Member, bool, error) {
	if !validExternalID(externalID) {
		return nil, false, kakunin.Errorf(kakunin.EINVALID, "external_id must be 1 to 128 visible characters without '/'")
	}
	email = strings.TrimSpace(email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		return nil, false, kakunin.Errorf(kakunin.EINVALID, "email must be a plain e-mail address")
	}
	if _, ok := kakunin.ParseLocale(string(locale)); !ok {
		return nil, false, kakunin.Errorf(kakunin.EINVALID, "locale must be \"ja\" or \"en\"")
	}
	sealed, err := s.Keys.SealField(vault.PurposeMemberEmail, []byte(email))
	if err != nil {
		return nil, false, err
	}
	now := s.Now().UTC()
	rec := &store.MemberRecord{
		ExternalID: externalID, EmailSealed: sealed, Locale: locale, UpdatedAt: now,
		EmailIndex: s.Keys.BlindIndex(vault.PurposeMemberEmailIndex, []byte(NormalizeEmail(email))),
	}
	created := false
	err = s.DB.WithTx(ctx, func(tx *store.Tx) error {
		old, err := tx.MemberByExternalID(ctx, externalID)
		switch kakunin.ErrorCode(err) {
		case "":
			rec.ID, rec.CreatedAt = old.ID, old.CreatedAt
			err = tx.UpdateMemberContact(ctx, rec)
		case kakunin.ENOTFOUND:
			rec.ID, rec.CreatedAt, created = kakunin.NewID("mem"), now, true
			err = tx.InsertMember(ctx, rec)
		}
		if err != nil {
			return err
		}
		return s.audited(ctx, tx, audit.APIMemberPut, rec.ID, map[string]string{"created": strconv.FormatBool(created)})
	})
	if err != nil {
		return nil, false, err
	}
	return &kakunin.Member{ID: rec.ID, ExternalID: externalID, Email: email, Locale: locale, CreatedAt: rec.CreatedAt, UpdatedAt: now}, created, nil
}

// audited appends the event of a host's request in tx, by the actor and
// origin ctx carries (the API key, the client's address).
func (s *Service) audited(ctx context.Context, tx *store.Tx, action, subject string, detail map[string]string) error {
	return s.Audit.AppendTx(ctx, tx, audit.Event{Action: action, Actor: audit.ActorFrom(ctx),
		Subject: subject, Origin: audit.OriginFrom(ctx), Detail: detail})
}

// Member returns a member with the address unsealed.
func (s *Service) Member(ctx context.Context, externalID string) (*kakunin.Member, error) {
	rec, err := s.DB.MemberByExternalID(ctx, externalID)
	if err != nil {
		return nil, err
	}
	return s.unseal(rec)
}

func (s *Service) unseal(rec *store.MemberRecord) (*kakunin.Member, error) {
	m := &kakunin.Member{ID: rec.ID, ExternalID: rec.ExternalID, Locale: rec.Locale, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, DeletedAt: rec.DeletedAt}
	if rec.EmailSealed != nil {
		b, err := s.Keys.OpenField(vault.PurposeMemberEmail, rec.EmailSealed)
		if err != nil {
			return nil, err
		}
		m.Email = string(b)
	}
	return m, nil
}

// Opening is what the host may attach to a verification it opens.
type Opening struct {
	Metadata          map[string]string
	ClientReferenceID string
	// Methods the member is offered (kakunin.MethodJPKIApp,
	// kakunin.MethodPhoto); nil: every one the operator configured.
	Methods []string
}

// Limits of what the host attaches, as Stripe's metadata limits.
const (
	MaxMetadataKeys     = 20
	MaxMetadataKeyLen   = 40
	MaxMetadataValueLen = 500
	MaxClientReference  = 128
)

// Check refuses metadata or a reference over the limits, saying which.
func (o Opening) Check() error {
	if len(o.Metadata) > MaxMetadataKeys {
		return kakunin.Errorf(kakunin.EINVALID, "metadata has %d keys; at most %d", len(o.Metadata), MaxMetadataKeys)
	}
	for k, v := range o.Metadata {
		if k == "" || len(k) > MaxMetadataKeyLen || !printable(k) {
			return kakunin.Errorf(kakunin.EINVALID, "metadata keys must be 1 to %d printable bytes", MaxMetadataKeyLen)
		}
		if len(v) > MaxMetadataValueLen || !printable(v) {
			return kakunin.Errorf(kakunin.EINVALID, "metadata value of %q must be at most %d printable bytes", k, MaxMetadataValueLen)
		}
	}
	if len(o.ClientReferenceID) > MaxClientReference || !printable(o.ClientReferenceID) {
		return kakunin.Errorf(kakunin.EINVALID, "client_reference_id must be at most %d printable bytes", MaxClientReference)
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != '\u3000' {
			return false
		}
	}
	return true
}

// Create is OpenOrCreate without saying which it did.
func (s *Service) Create(ctx context.Context, externalID string) (*kakunin.Verification, string, error) {
	v, url, _, err := s.OpenOrCreate(ctx, externalID)
	return v, url, err
}

// openRetries bounds how often OpenOrCreate starts over after losing a
// race to create the member's one open verification; the second try
// normally finds the winner's.
const openRetries = 3

// OpenOrCreate returns the member's open verification (awaiting its
// upload) with its upload link, or opens one when there is none; created
// says which. A member has at most one open verification, so however often
// the host asks, at most one link can take an image. An open verification
// whose link has expired but that the sweep has not ended yet is ended
// now, announced, and replaced.
func (s *Service) OpenOrCreate(ctx context.Context, externalID string) (*kakunin.Verification, string, bool, error) {
	return s.Open(ctx, externalID, Opening{})
}

// OpenOrCreateWith is OpenOrCreate where a new verification offers the
// member only methods (nil: every configured one). An open verification
// is returned as it is, with the methods it was opened with.
func (s *Service) OpenOrCreateWith(ctx context.Context, externalID string, methods []string) (*kakunin.Verification, string, bool, error) {
	return s.Open(ctx, externalID, Opening{Methods: methods})
}

// Open is OpenOrCreate with the host's metadata and reference, which a new
// verification takes; an open one already there is returned as it is.
func (s *Service) Open(ctx context.Context, externalID string, o Opening) (*kakunin.Verification, string, bool, error) {
	if err := o.Check(); err != nil {
		return nil, "", false, err
	}
	rec, err := s.DB.MemberByExternalID(ctx, externalID)
	if err != nil {
		return nil, "", false, err
	}
	if rec.DeletedAt != nil {
		return nil, "", false, kakunin.Errorf(kakunin.ECONFLICT, "this member has left; register them again first")
	}
	for try := 1; ; try++ {
		v, created, err := s.openOrCreate(ctx, rec, o)
		// ECONFLICT is the unique index: a concurrent request created the
		// open verification first. Read it in a fresh transaction.
		if kakunin.ErrorCode(err) == kakunin.ECONFLICT && try < openRetries {
			continue
		}
		if err != nil {
			return nil, "", false, err
		}
		return v, s.UploadURL(v), created, nil
	}
}

func (s *Service) openOrCreate(ctx context.Context, rec *store.MemberRecord, o Opening) (*kakunin.Verification, bool, error) {
	now := s.Now().UTC()
	var v *kakunin.Verification
	created := false
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		open, err := tx.OpenVerificationOfMember(ctx, rec.ID)
		if err != nil {
			return err
		}
		if open != nil && open.ExpiresAt.After(now) {
			v = open
			return nil
		}
		if open != nil {
			ended, err := tx.SetVerificationStatus(ctx, open.ID, kakunin.StatusAwaitingUpload, kakunin.StatusExpired, now)
			if err != nil {
				return err
			}
			if ended {
				open.Status, open.UpdatedAt = kakunin.StatusExpired, now
				if err := Announce(ctx, s.Jobs, tx, open); err != nil {
					return err
				}
			}
		}
		v = &kakunin.Verification{
			ID: kakunin.NewID("ver"), MemberID: rec.ID, ExternalID: rec.ExternalID, Status: kakunin.StatusAwaitingUpload,
			ExpiresAt: now.Add(s.LinkTTL).Truncate(time.Second), CreatedAt: now, UpdatedAt: now,
			Metadata: o.Metadata, ClientReferenceID: o.ClientReferenceID, Methods: o.Methods,
		}
		if err := tx.InsertVerification(ctx, v); err != nil {
			return err
		}
		created = true
		return s.audited(ctx, tx, audit.APIVerification, v.ID, map[string]string{"member": v.MemberID})
	})
	if err != nil {
		return nil, false, err
	}
	return v, created, nil
}

// UploadURL is the member's hand-off link for v.
func (s *Service) UploadURL(v *kakunin.Verification) string {
	return s.PublicURL + "/u/" + auth.UploadToken(s.Keys, v.ID, v.ExpiresAt)
}

// Get returns a verification.
func (s *Service) Get(ctx context.Context, id string) (*kakunin.Verification, error) {
	if len(id) > 64 {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "verification not found")
	}
	return s.DB.Verification(ctx, id)
}

// ForUpload returns the verification and member an upload token opens.
func (s *Service) ForUpload(ctx context.Context, token string) (*kakunin.Verification, *kakunin.Member, error) {
	id, err := auth.CheckUploadToken(s.Keys, token, s.Now())
	if err != nil {
		return nil, nil, err
	}
	v, err := s.DB.Verification(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	rec, err := s.DB.MemberByID(ctx, v.MemberID)
	if err != nil {
		return nil, nil, err
	}
	m, err := s.unseal(rec)
	if err != nil {
		return nil, nil, err
	}
	return v, m, nil
}

// MemberLeft destroys every image of the member at once and forgets their
// address; the verification records stay. The api.member_deleted event
// commits with the member's departure.
func (s *Service) MemberLeft(ctx context.Context, externalID string) error {
	rec, err := s.DB.MemberByExternalID(ctx, externalID)
	if err != nil {
		return err
	}
	return s.Documents.MemberLeft(ctx, rec.ID, func(tx *store.Tx) error {
		return s.audited(ctx, tx, audit.APIMemberDeleted, rec.ID, nil)
	})
}

// EventData is the "data" of every verification.* webhook.
type EventData struct {
	VerificationID    string            `json:"verification_id"`
	ExternalID        string            `json:"external_id"`
	Status            string            `json:"status"`
	Result            *kakunin.Result   `json:"result"`
	Metadata          map[string]string `json:"metadata"`            // {} when the host set none
	ClientReferenceID *string           `json:"client_reference_id"` // null when the host set none
	// Method is how it was decided (photo | jpki_app), "" until then.
	Method string `json:"method,omitempty"`
}

// Reference is v's client_reference_id as answers write it: null when unset.
func Reference(v *kakunin.Verification) *string {
	if v.ClientReferenceID == "" {
		return nil
	}
	return &v.ClientReferenceID
}

// Metadata is v's metadata as answers write it: {} when unset.
func Metadata(v *kakunin.Verification) map[string]string {
	if v.Metadata == nil {
		return map[string]string{}
	}
	return v.Metadata
}

// EventType is the webhook type announcing that a verification reached
// status: verification.submitted, .approved, .rejected, .expired, .canceled.
func EventType(status kakunin.VerificationStatus) string { return "verification." + string(status) }

// Announce enqueues the webhook for v's current status in tx.
func Announce(ctx context.Context, jobs document.Enqueuer, tx *store.Tx, v *kakunin.Verification) error {
	ev, err := webhook.NewEvent(EventType(v.Status), EventData{
		VerificationID: v.ID, ExternalID: v.ExternalID, Status: string(v.Status), Result: v.Result,
		Metadata: Metadata(v), ClientReferenceID: Reference(v), Method: MethodOf(v),
	})
	if err != nil {
		return err
	}
	return webhook.Enqueue(ctx, jobs, tx.SQL(), ev)
}

// Cancel ends an open verification (awaiting its upload, or submitted and
// not yet decided) at the host's request: its link stops working at once,
// verification.canceled is sent, and its image, if one came, is destroyed.
// Canceling one that has ended is ECONFLICT.
func (s *Service) Cancel(ctx context.Context, id string) (*kakunin.Verification, error) {
	if len(id) > 64 {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "verification not found")
	}
	var v *kakunin.Verification
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		now := s.Now().UTC()
		ok, err := tx.CancelVerification(ctx, id, now)
		if err != nil {
			return err
		}
		if v, err = tx.Verification(ctx, id); err != nil {
			return err
		}
		if !ok {
			return kakunin.Errorf(kakunin.ECONFLICT, "this verification has already ended (%s); only an open one can be canceled", v.Status)
		}
		if err := Announce(ctx, s.Jobs, tx, v); err != nil {
			return err
		}
		// Destroying the image is a durable job too, so that a crash
		// right after this commit still destroys it; Cancel also does it
		// at once below.
		docs, err := tx.LiveDocumentsOfVerification(ctx, id)
		if err != nil {
			return err
		}
		for _, d := range docs {
			if err := s.Jobs.InsertTx(ctx, tx.SQL(), document.DestroyArgs{DocumentID: d.ID}, &river.InsertOpts{MaxAttempts: 50}); err != nil {
				return err
			}
		}
		return s.audited(ctx, tx, audit.APICanceled, v.ID, map[string]string{"member": v.MemberID})
	})
	if err != nil {
		return nil, err
	}
	docs, err := s.DB.LiveDocumentsOfVerification(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		if err := s.Documents.Destroy(ctx, d.ID); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// List returns the verifications f selects, newest first, and whether more
// follow.
func (s *Service) List(ctx context.Context, f store.VerificationFilter) ([]*kakunin.Verification, bool, error) {
	return s.DB.ListVerifications(ctx, f)
}

// VerificationSubmitted implements document.SubmitEvents.
func (s *Service) VerificationSubmitted(ctx context.Context, tx *store.Tx, v *kakunin.Verification) error {
	return Announce(ctx, s.Jobs, tx, v)
}

// MethodOf is how v was decided, "" while undecided.
func MethodOf(v *kakunin.Verification) string {
	if v.Result == nil {
		return ""
	}
	return v.Result.Method
}

// VerificationEnded implements document.Events.
func (s *Service) VerificationEnded(ctx context.Context, tx *store.Tx, v *kakunin.Verification) error {
	return Announce(ctx, s.Jobs, tx, v)
}
