// Package audit is kakunin's tamper-evident log (DESIGN.md invariant 5).
//
// SKELETON: the API below is fixed; the implementation is being written.
package audit

import (
	"context"
	"time"

	"github.com/kakunin/kakunin/internal/store"
)

// Actions recorded. Stored rows refer to them: never rename one.
const (
	DocumentRead      = "document.read"
	DocumentReceived  = "document.received"
	DocumentDecided   = "document.decided"
	DocumentReleased  = "document.released"
	DocumentDestroyed = "document.destroyed"
	StaffLogin        = "staff.login"
	StaffLoginFailed  = "staff.login_failed"
	StaffLogout       = "staff.logout"
	StaffReauth       = "staff.reauth"
	StaffPassword     = "staff.password_changed"
	StaffAdded        = "staff.added"
	StaffLocked       = "staff.locked"
	StaffUnlocked     = "staff.unlocked"
	QuotaExceeded     = "staff.read_quota_exceeded"
	APIMemberPut      = "api.member_put"
	APIMemberDeleted  = "api.member_deleted"
	APIVerification   = "api.verification_created"
	APIKeyCreated     = "apikey.created"
	APIKeyRevoked     = "apikey.revoked"
	EpochCreated      = "key.epoch_created"
	EpochDestroyed    = "key.epoch_destroyed"
	KEKRotated        = "key.kek_rotated"
	AuditExported     = "audit.exported"
	IncidentScoped    = "incident.scoped"
	ExposureChecked   = "exposure.checked"
)

// Event is one entry. It carries identifiers and keyed hashes only: never
// image data, never plaintext personal data.
type Event struct {
	Seq     int64     // position in the chain, from 1; set by Append
	At      time.Time // set by Append when zero
	Action  string
	Actor   string            // "staff:stf_…", "apikey:key_…", "cli", "system"
	Subject string            // what was acted on: "doc_…", "ver_…", "mem_…", "epoch:2026-11-25", "stf_…"
	Origin  string            // keyed hash of the client address, "" when none
	Detail  map[string]string // more identifiers (task, reason code, count…)
	Hash    []byte            // SHA-256 chain hash; set by Append
}

// Log appends to the chain.
type Log struct {
	DB  *store.DB
	Now func() time.Time
}

// Append adds events, waiting until they are committed. Concurrent callers
// share one transaction (group commit).
func (l *Log) Append(ctx context.Context, evs ...Event) error { panic("unimplemented") }

// AppendTx adds events inside the caller's transaction, so they commit or
// roll back with the change they record.
func (l *Log) AppendTx(ctx context.Context, tx *store.Tx, evs ...Event) error {
	panic("unimplemented")
}
