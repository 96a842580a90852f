// Package kakunin holds the domain types every part of the service shares:
// members, verifications, documents, staff and the error type. Packages named
// for what they wrap (store, vault, web…) implement the behaviour; this file
// only says what the things are.
package kakunin

import (
	"encoding/json"
	"time"
)

// Locale is a member's or staff member's language. Only Japanese and English
// are offered; anything else falls back to Japanese, the platform's default.
type Locale string

const (
	LocaleJA Locale = "ja"
	LocaleEN Locale = "en"
)

// ParseLocale returns the locale named by s, and false when s names none.
func ParseLocale(s string) (Locale, bool) {
	switch Locale(s) {
	case LocaleJA, LocaleEN:
		return Locale(s), true
	}
	return LocaleJA, false
}

// Member is a person of the host platform, known by the host's own ID. The
// e-mail address is held encrypted; EmailIndex is a keyed hash for look-up.
type Member struct {
	ID         string
	ExternalID string
	Email      string // plaintext, only in memory
	Locale     Locale
	CreatedAt  time.Time
	UpdatedAt  time.Time
	DeletedAt  *time.Time // the member left the platform
}

// VerificationStatus is where a verification stands.
type VerificationStatus string

const (
	StatusAwaitingUpload VerificationStatus = "awaiting_upload"
	StatusSubmitted      VerificationStatus = "submitted"
	StatusApproved       VerificationStatus = "approved"
	StatusRejected       VerificationStatus = "rejected"
	StatusExpired        VerificationStatus = "expired"
	StatusCanceled       VerificationStatus = "canceled" // the host canceled it while open
)

// Statuses lists every status, in the order a verification moves.
var Statuses = []VerificationStatus{StatusAwaitingUpload, StatusSubmitted, StatusApproved, StatusRejected, StatusExpired, StatusCanceled}

// Final reports whether no further transition is possible.
func (s VerificationStatus) Final() bool {
	return s == StatusApproved || s == StatusRejected || s == StatusExpired || s == StatusCanceled
}

// DocumentType is the kind of identity document a member photographs.
type DocumentType string

const (
	DocDriversLicence  DocumentType = "drivers_licence"
	DocPassport        DocumentType = "passport"
	DocHealthInsurance DocumentType = "health_insurance"
	DocMyNumberCard    DocumentType = "my_number_card"
)

// DocumentTypes lists the accepted types in the order pages show them.
var DocumentTypes = []DocumentType{DocDriversLicence, DocPassport, DocHealthInsurance, DocMyNumberCard}

// Valid reports whether t is one of DocumentTypes.
func (t DocumentType) Valid() bool {
	for _, d := range DocumentTypes {
		if d == t {
			return true
		}
	}
	return false
}

// Verification is one request by the host to check one member's age.
type Verification struct {
	ID         string
	MemberID   string
	ExternalID string // the member's host ID, for API answers
	Status     VerificationStatus
	// Metadata and ClientReferenceID are the host's own, set when it opens
	// the verification and sent back in every answer and webhook.
	Metadata          map[string]string
	ClientReferenceID string
	ExpiresAt         time.Time // the upload link's expiry
	CreatedAt         time.Time
	UpdatedAt         time.Time
	Result            *Result
	// Methods are the ways the host offered the member (MethodJPKIApp,
	// MethodPhoto); nil: every way the operator configured.
	Methods []string
}

// The ways a member's age can be checked. A Result names the one used.
const (
	MethodPhoto   = "photo"    // a reviewer read a photo of a document
	MethodJPKIApp = "jpki_app" // the My Number card's chip, through the Digital Agency's app (OpenID Connect); no image
)

// ValidMethod reports whether m is a method kakunin knows.
func ValidMethod(m string) bool { return m == MethodPhoto || m == MethodJPKIApp }

// Result is what a reviewer decided. Adult is set only when a decision
// about age was made: true on approval of an adult, false when the holder is
// a minor (approved under 18, or rejected with the reason under_age); an
// unreadable, wrong or expired document leaves it nil, and the API and
// webhooks then carry no "adult" at all, so a host cannot mistake a bad
// photo for a minor. It is the minimal record the dating-site
// law needs (adult or not, the document's name and issuer) plus who checked it
// and when; never the image or the document's text. BirthDate is kept only
// when the operator enables it.
type Result struct {
	Adult        *bool        `json:"adult,omitempty"`
	Method       string       `json:"method,omitempty"` // MethodPhoto or MethodJPKIApp
	DocumentType DocumentType `json:"document_type"`
	DocumentName string       `json:"document_name,omitempty"`
	Issuer       string       `json:"issuer,omitempty"`
	BirthDate    string       `json:"birth_date,omitempty"`
	RejectReason string       `json:"reject_reason,omitempty"`
	CheckedAt    time.Time    `json:"checked_at"`
	CheckedBy    string       `json:"checked_by,omitempty"` // staff ID, not a name; "system"; empty when no person checked (MethodJPKIApp)
}

// Bool returns a pointer to b, for Result.Adult.
func Bool(b bool) *bool { return &b }

// Document is one uploaded image. Its bytes live encrypted in the blob store;
// WrappedKey is its data key sealed by the key of Epoch (one per UTC day).
type Document struct {
	ID             string
	VerificationID string
	MemberID       string
	Type           DocumentType
	ContentType    string
	Size           int64  // plaintext bytes after metadata stripping
	Width, Height  int    // as stored, before Orientation is applied
	Orientation    int    // EXIF Orientation 1–8, the one fact kept from the upload's metadata; 1 = as stored
	Epoch          string // e.g. "2026-11-25"
	WrappedKey     []byte // nil once destroyed
	ReceivedAt     time.Time
	DecidedAt      *time.Time
	DestroyAfter   time.Time // retention deadline for the image
	DestroyedAt    *time.Time
	ReviewerID     string // assigned reviewer, "" when unassigned
}

// Role is a staff member's role; the console's route table (internal/web)
// says what each may do.
type Role string

const (
	RoleReviewer  Role = "reviewer"
	RoleSupport   Role = "support"
	RoleResponder Role = "responder"
	RoleAdmin     Role = "admin"
	RoleAuditor   Role = "auditor"
)

// Roles lists every role.
var Roles = []Role{RoleReviewer, RoleSupport, RoleResponder, RoleAdmin, RoleAuditor}

// ParseRole returns the role named by s.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", Errorf(EINVALID, "unknown role %q (one of reviewer, support, responder, admin, auditor)", s)
}

// Staff is a person of the operator who signs into the console.
type Staff struct {
	ID                 string
	Email              string
	Role               Role
	PasswordHash       string
	TOTPSecret         string // plaintext only in memory; stored sealed
	MustChangePassword bool
	LockedAt           *time.Time
	CreatedAt          time.Time
}

// APIKey authenticates the host platform. Only a hash of the secret is kept.
type APIKey struct {
	ID        string
	Name      string
	CreatedAt time.Time
	RevokedAt *time.Time
}

// APITime writes t as every timestamp of the host API and its webhooks is
// written: RFC 3339 in UTC, whole seconds (2026-11-25T03:00:00Z).
func APITime(t time.Time) string { return t.UTC().Truncate(time.Second).Format(time.RFC3339) }

// MarshalJSON writes the result with checked_at in APITime's precision.
func (r Result) MarshalJSON() ([]byte, error) {
	type plain Result
	return json.Marshal(struct {
		plain
		CheckedAt string `json:"checked_at"`
	}{plain(r), APITime(r.CheckedAt)})
}
