package vault

// Every string that keeps one use of a key apart from another lives here,
// so that two uses can never share one by accident (purpose_test.go fails
// if two are equal). A value sealed, indexed or MAC'd under one purpose
// does not open, match or verify under another. Changing a string breaks
// every value made under it: add a /v2 instead.

// Associated data of the vault's own keys and ciphertexts (see doc.go for
// the formats).
const (
	adRecordKey   = "kakunin/record-key/v1"
	adIndexKey    = "kakunin/index-key/v1"
	adEpochKey    = "kakunin/epoch-key/v1/"    // + the epoch, YYYY-MM-DD
	adDocumentKey = "kakunin/document-key/v1/" // + the document ID
	adDocument    = "kakunin/document/v1/"     // + the document ID
)

// Labels separating the two uses of the index key.
const (
	labelBlindIndex = "kakunin/blind-index/v1"
	labelMAC        = "kakunin/mac/v1"
)

// Purposes of SealField, BlindIndex and MAC, one per kind of value.
const (
	// Members' e-mail addresses (members.email_sealed) and their look-up
	// index (members.email_index).
	PurposeMemberEmail      = "member-email/v1"
	PurposeMemberEmailIndex = "member-email-index/v1"
	// Staff TOTP secrets (staff.totp_sealed).
	PurposeStaffTOTP = "staff-totp/v1"
	// The member's upload link (/u/{token}).
	PurposeUploadLink = "upload-link/v1"
	// The exposure check's answer links (/check/r/{token}), the address
	// typed into /check while its job waits, and the keyed hash of that
	// address in the audit event (kept apart from the members' index so
	// the two cannot be joined).
	PurposeExposureLink         = "exposure-link/v1"
	PurposeExposureCheckAddress = "exposure-check-address/v1"
	PurposeAuditExposureAddress = "audit-exposure-address/v1"
	// Keyed hashes in the audit log: a client's address, and the address
	// of a failed staff sign-in.
	PurposeAuditOrigin     = "audit-origin/v1"
	PurposeAuditStaffEmail = "audit-staff-email/v1"
	// Staff e-mail addresses (staff.email_sealed) and their sign-in look-up
	// index (staff.email_index), apart from the members' so the two cannot
	// be joined, and from the audit log's hash of a failed sign-in's
	// address.
	PurposeStaffEmail      = "staff-email/v1"
	PurposeStaffEmailIndex = "staff-email-index/v1"
	// The address typed into /signin while its job waits, and its keyed
	// hash in the audit event (apart from the exposure check's, so the two
	// forms' events cannot be joined).
	PurposePortalSigninAddress = "portal-signin-address/v1"
	PurposeAuditSigninAddress  = "audit-signin-address/v1"
	// kakunin doctor's canary sessions (/doctor/canary): short-lived
	// tokens the host's API key asks for, to see whether a cache between
	// the client and kakunin keeps personal answers.
	PurposeDoctorCanary = "doctor-canary/v1"
	// The staff sign-in form's one-use token (/console/login?form=…): a
	// second use means the page was handed to two people, by a cache.
	PurposeLoginForm = "login-form/v1"
	// The host API: the first answer kept under an Idempotency-Key, and
	// webhook signing secrets added by rotation.
	PurposeIdempotentResponse = "idempotent-response/v1"
	PurposeWebhookSecret      = "webhook-secret/v1"
	// The cursor of a page of GET /api/v1/verifications.
	PurposeAPICursor = "api-cursor/v1"
	// The inquiry desk (internal/inquiry): the person's address on a
	// thread and in the /contact job, its look-up index (per-address
	// limit, erasure), every message body, and the address's keyed hash
	// in the audit event (apart from the other forms', so none can be
	// joined).
	PurposeInquiryAddress      = "inquiry-address/v1"
	PurposeInquiryAddressIndex = "inquiry-address-index/v1"
	PurposeInquiryBody         = "inquiry-body/v1"
	PurposeAuditInquiryAddress = "audit-inquiry-address/v1"
)

// allLabels lists every string above, for the test that no two are equal.
var allLabels = []string{
	adRecordKey, adIndexKey, adEpochKey, adDocumentKey, adDocument,
	labelBlindIndex, labelMAC,
	PurposeMemberEmail, PurposeMemberEmailIndex, PurposeStaffTOTP, PurposeUploadLink,
	PurposeExposureLink, PurposeExposureCheckAddress, PurposeAuditExposureAddress,
	PurposeAuditOrigin, PurposeAuditStaffEmail, PurposeStaffEmail, PurposeStaffEmailIndex,
	PurposePortalSigninAddress, PurposeAuditSigninAddress,
	PurposeDoctorCanary, PurposeLoginForm,
	PurposeIdempotentResponse, PurposeWebhookSecret, PurposeAPICursor,
	PurposeInquiryAddress, PurposeInquiryAddressIndex, PurposeInquiryBody, PurposeAuditInquiryAddress,
}
