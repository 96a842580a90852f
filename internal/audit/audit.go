package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"

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
	APICanceled       = "api.verification_canceled"
	APIKeyCreated     = "apikey.created"
	APIKeyRevoked     = "apikey.revoked"
	EpochCreated      = "key.epoch_created"
	EpochDestroyed    = "key.epoch_destroyed"
	KEKRotated        = "key.kek_rotated"
	AuditExported     = "audit.exported"
	BackupTaken       = "backup.taken" // kakunin backup wrote a copy of the database and blobs (never the keys)
	IncidentScoped    = "incident.scoped"
	ExposureChecked   = "exposure.checked"
	PasskeyAdded      = "staff.passkey_added"
	PasskeyRemoved    = "staff.passkey_removed"
	NoticeCreated     = "notice.created"
	NoticeUpdated     = "notice.updated"
	NoticePublished   = "notice.published"
)

// The incident desk's actions (internal/incident, internal/notice).
const (
	IncidentCreated       = "incident.created"
	IncidentUpdated       = "incident.updated"
	IncidentStatusChanged = "incident.status_changed"
	IncidentNoted         = "incident.noted"    // a timeline entry
	IncidentReported      = "incident.reported" // a report or notification recorded as done
	CertifierItemAdded    = "incident.certifier_item_added"
	CertifierItemDone     = "incident.certifier_item_done"
	IncidentAlerted       = "incident.alerted" // an overdue obligation or stale notice mailed to responders
	NoticeUnpublished     = "notice.unpublished"
	NoticeDeleted         = "notice.deleted"
)

// The exposure check's actions (internal/exposure); ExposureChecked above.
const (
	ExposureViewed     = "exposure.viewed"      // a member opened their answer through a link
	ExposureLinkIssued = "exposure.link_issued" // the host asked for a hand-off link
)

// The members' portal's actions (internal/portal).
const (
	PortalSigninRequested = "portal.signin_requested" // /signin accepted an address (member or not)
	PortalLinkIssued      = "portal.link_issued"      // a sign-in link was made: mailed, or for the host's hand-off
	PortalSignedIn        = "portal.signed_in"        // a link opened a member session
	PortalSignedOut       = "portal.signed_out"       // the member ended every session
	PortalExported        = "portal.exported"         // the member downloaded their data
)

// The erasure requests' actions (internal/erasure).
const (
	ErasureRequested = "erasure.requested" // a member, or support on their behalf, asked for erasure
	ErasureVerified  = "erasure.verified"  // the member confirmed from the registered address, or support checked identity
	ErasureStarted   = "erasure.started"   // the erasure began: the receipt's events start here
	ErasureCompleted = "erasure.completed" // everything not kept by law is gone: the receipt's events end here
	ErasureRefused   = "erasure.refused"   // an admin refused, for a reason the law allows
	ErasureReceipt   = "erasure.receipt_downloaded"
	ErasureOverdue   = "erasure.overdue_alerted"
)

// The inquiry desk's actions (internal/inquiry).
const (
	InquiryReceived      = "inquiry.received"       // /contact accepted a message (the thread opens in its job)
	InquiryOpened        = "inquiry.opened"         // a thread was opened (by the job, or for the host's member)
	InquiryLinkIssued    = "inquiry.link_issued"    // a thread's private link was made
	InquiryPersonReplied = "inquiry.person_replied" // the person wrote in their thread
	InquiryTaken         = "inquiry.taken"          // a staff member took the thread
	InquiryReplied       = "inquiry.replied"        // the desk replied (mailed and shown)
	InquiryNoted         = "inquiry.noted"          // an internal note
	InquiryRecategorised = "inquiry.recategorised"  // the category changed
	InquiryMerged        = "inquiry.merged"         // a duplicate was merged into another thread
	InquiryClosed        = "inquiry.closed"         //
	InquiryReopened      = "inquiry.reopened"       //
	InquiryEscalated     = "inquiry.escalated"      // an SLA target was breached (once per target)
	InquiryErased        = "inquiry.erased"         // a member's threads were destroyed
)

// The mass notification's actions (internal/massmail).
const (
	NotificationCreated   = "notification.campaign_created"
	NotificationUpdated   = "notification.campaign_updated" // the letter's templates changed (draft only)
	NotificationPreviewed = "notification.previewed"
	NotificationStarted   = "notification.started"
	NotificationPaused    = "notification.paused"
	NotificationResumed   = "notification.resumed"
	NotificationFinished  = "notification.finished" // every affected member's mail has an outcome
)

// The image-free age checks' actions (internal/jpki).
const (
	JPKIStarted = "jpki.started" // a member was sent to the Digital Agency's provider
	JPKIChecked = "jpki.checked" // its answer decided the verification (adult or not)
	JPKIRefused = "jpki.refused" // a callback was refused; nothing changed
)

// Actions lists every action, for the auditor's filter.
var Actions = []string{
	DocumentRead, DocumentReceived, DocumentDecided, DocumentReleased, DocumentDestroyed,
	StaffLogin, StaffLoginFailed, StaffLogout, StaffReauth, StaffPassword, StaffAdded, StaffLocked, StaffUnlocked, QuotaExceeded,
	APIMemberPut, APIMemberDeleted, APIVerification, APICanceled, APIKeyCreated, APIKeyRevoked,
	EpochCreated, EpochDestroyed, KEKRotated, AuditExported, BackupTaken, IncidentScoped, ExposureChecked,
	PasskeyAdded, PasskeyRemoved,
	NoticeCreated, NoticeUpdated, NoticePublished,
	IncidentCreated, IncidentUpdated, IncidentStatusChanged, IncidentNoted, IncidentReported,
	CertifierItemAdded, CertifierItemDone, IncidentAlerted, NoticeUnpublished, NoticeDeleted,
	ExposureViewed, ExposureLinkIssued,
	NotificationCreated, NotificationUpdated, NotificationPreviewed, NotificationStarted, NotificationPaused, NotificationResumed,
	NotificationFinished,
	PortalSigninRequested, PortalLinkIssued, PortalSignedIn, PortalSignedOut, PortalExported,
	ErasureRequested, ErasureVerified, ErasureStarted, ErasureCompleted, ErasureRefused, ErasureReceipt, ErasureOverdue,
	InquiryReceived, InquiryOpened, InquiryLinkIssued, InquiryPersonReplied, InquiryTaken, InquiryReplied, InquiryNoted,
	InquiryRecategorised, InquiryMerged, InquiryClosed, InquiryReopened, InquiryEscalated, InquiryErased,
	JPKIStarted, JPKIChecked, JPKIRefused,
}

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
//
// Append works at once: each call writes its events in a transaction of its
// own. While Run is running (the server runs it), concurrent Append calls
// are instead handed to one committer goroutine that writes them together,
// one transaction and one fsync for many callers (group commit).
type Log struct {
	DB  *store.DB
	Now func() time.Time

	// MaxBatch bounds the events one group-commit transaction takes
	// (default 512); a caller's events are never split across two.
	MaxBatch int
	// OnCommit, when set, is called with the new head after the committer
	// or Append's own transaction commits (Checkpointer.Nudge fits it).
	// It must not block. Heads moved by AppendTx are not reported: the
	// caller's transaction may still roll back.
	OnCommit func(head int64)

	mu      sync.Mutex
	reqs    chan *appendRequest // nil unless Run is accepting
	stopped chan struct{}       // closed when that Run stops accepting
}

type appendRequest struct {
	evs  []Event
	done chan error
}

const defaultMaxBatch = 512

// Append adds events, waiting until they are committed. Concurrent callers
// share one transaction (group commit) while Run is running; otherwise the
// events get a transaction of their own. The events of one call are
// consecutive in the chain and commit together or not at all. When evs is
// a slice passed as evs..., its elements receive their Seq, At and Hash.
//
// Do not call Append while holding a transaction of l.DB (the committer
// needs a connection, and SQLite has one): use AppendTx.
func (l *Log) Append(ctx context.Context, evs ...Event) error {
	if l == nil || l.DB == nil {
		return errors.New("append audit events: no audit log configured")
	}
	if len(evs) == 0 {
		return nil
	}
	if err := l.prepare(evs); err != nil {
		return err
	}
	l.mu.Lock()
	reqs, stopped := l.reqs, l.stopped
	l.mu.Unlock()
	if reqs != nil {
		req := &appendRequest{evs: evs, done: make(chan error, 1)}
		// reqs is unbuffered: once the send succeeds the committer owns the
		// request and will answer it, even if it is stopping.
		select {
		case reqs <- req:
			// Wait for the answer even if ctx ends: the events may commit
			// and the caller must not believe they did not.
			return <-req.done
		case <-stopped:
			// Run stopped accepting: write the events ourselves.
		case <-ctx.Done():
			return fmt.Errorf("append audit events: %w", ctx.Err())
		}
	}
	var head int64
	err := l.DB.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		head, err = appendChain(ctx, tx, evs)
		return err
	})
	if err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	l.committed(head)
	return nil
}

// AppendTx adds events inside the caller's transaction, so they commit or
// roll back with the change they record. It locks the chain's head until
// that transaction ends, which serialises every appender: append last,
// just before committing.
func (l *Log) AppendTx(ctx context.Context, tx *store.Tx, evs ...Event) error {
	if l == nil {
		return errors.New("append audit events: no audit log configured")
	}
	if len(evs) == 0 {
		return nil
	}
	if err := l.prepare(evs); err != nil {
		return err
	}
	if _, err := appendChain(ctx, tx, evs); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// prepare validates events and stamps the time of those that have none.
func (l *Log) prepare(evs []Event) error {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	for i := range evs {
		if err := validate(&evs[i]); err != nil {
			return err
		}
		if evs[i].At.IsZero() {
			evs[i].At = now()
		}
		evs[i].At = micros(evs[i].At)
	}
	return nil
}

// appendChain locks the head, chains evs after it, inserts them and moves
// the head, all in tx. It returns the new head.
func appendChain(ctx context.Context, tx *store.Tx, evs []Event) (int64, error) {
	seq, prev, err := tx.LockAuditHead(ctx)
	if err != nil {
		return 0, err
	}
	recs := make([]store.AuditRecord, len(evs))
	for i := range evs {
		seq++
		evs[i].Seq = seq
		evs[i].Hash = ChainHash(prev, evs[i])
		prev = evs[i].Hash
		recs[i] = store.AuditRecord{Seq: seq, At: evs[i].At, Action: evs[i].Action, Actor: evs[i].Actor,
			Subject: evs[i].Subject, Origin: evs[i].Origin, Detail: encodeDetail(evs[i].Detail), Hash: evs[i].Hash}
	}
	if err := tx.InsertAuditRecords(ctx, recs); err != nil {
		return 0, err
	}
	if err := tx.SetAuditHead(ctx, seq, prev); err != nil {
		return 0, err
	}
	return seq, nil
}

func (l *Log) committed(head int64) {
	if l.OnCommit != nil {
		l.OnCommit(head)
	}
}

// Run is the group committer: until ctx ends it takes the events of
// concurrent Append calls and writes them in shared transactions. When ctx
// ends it finishes the batch in hand and returns nil; Append then writes in
// transactions of its own again, so requests still in flight on a stopping
// server are not lost. Only one Run per Log at a time.
func (l *Log) Run(ctx context.Context) error {
	if l == nil || l.DB == nil {
		return errors.New("audit committer: no audit log configured")
	}
	reqs, stopped := make(chan *appendRequest), make(chan struct{})
	l.mu.Lock()
	if l.reqs != nil {
		l.mu.Unlock()
		return errors.New("audit committer: already running")
	}
	l.reqs, l.stopped = reqs, stopped
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.reqs, l.stopped = nil, nil
		l.mu.Unlock()
		close(stopped)
	}()

	// A batch in hand commits even when ctx has just ended: its callers
	// are waiting for it.
	txctx := context.WithoutCancel(ctx)
	max := l.MaxBatch
	if max <= 0 {
		max = defaultMaxBatch
	}
	var batch []*appendRequest
	for {
		batch = batch[:0]
		select {
		case <-ctx.Done():
			return nil
		case r := <-reqs:
			batch = append(batch, r)
		}
		n := len(batch[0].evs)
		// Take every caller already waiting: they queued while the last
		// transaction ran, and now share the next one.
	gather:
		for n < max {
			select {
			case r := <-reqs:
				batch = append(batch, r)
				n += len(r.evs)
			default:
				break gather
			}
		}
		l.commitBatch(txctx, batch, n)
	}
}

func (l *Log) commitBatch(ctx context.Context, batch []*appendRequest, n int) {
	evs := make([]Event, 0, n)
	for _, r := range batch {
		evs = append(evs, r.evs...)
	}
	var head int64
	err := l.DB.WithTx(ctx, func(tx *store.Tx) error {
		var err error
		head, err = appendChain(ctx, tx, evs)
		return err
	})
	if err != nil {
		err = fmt.Errorf("append audit events: %w", err)
	} else {
		// Hand each caller its events' seq and hash.
		i := 0
		for _, r := range batch {
			i += copy(r.evs, evs[i:i+len(r.evs)])
		}
		l.committed(head)
	}
	for _, r := range batch {
		r.done <- err
	}
}

// encodeDetail is the JSON stored in the detail column: an object of
// strings with sorted keys ({} when empty). The hash does not cover these
// bytes but the strings they decode to, so the JSON encoder may change.
func encodeDetail(d map[string]string) string {
	if len(d) == 0 {
		return "{}"
	}
	b, err := json.Marshal(d)
	if err != nil {
		// A map of valid UTF-8 strings always encodes.
		panic(fmt.Sprintf("encode audit detail: %v", err))
	}
	return string(b)
}

// decodeDetail parses a detail column strictly: one JSON object whose
// values are all strings, no key twice, valid UTF-8, nothing after it.
// Anything else is a row that Append did not write. It is hand-written
// because Verify runs it on every event, and encoding/json's token reader
// cost more than the rest of verification together.
func decodeDetail(s string) (map[string]string, error) {
	p := detailParser{s: s}
	p.space()
	if !p.eat('{') {
		return nil, errors.New("detail is not a JSON object")
	}
	var m map[string]string
	p.space()
	if !p.eat('}') {
		for {
			p.space()
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.space()
			if !p.eat(':') {
				return nil, errors.New("detail: want ':' after a key")
			}
			p.space()
			v, err := p.str()
			if err != nil {
				return nil, fmt.Errorf("detail %q: %w", k, err)
			}
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("detail key %q appears twice", k)
			}
			if m == nil {
				m = map[string]string{}
			}
			m[k] = v
			p.space()
			if p.eat(',') {
				continue
			}
			if p.eat('}') {
				break
			}
			return nil, errors.New("detail: want ',' or '}'")
		}
	}
	p.space()
	if p.i != len(s) {
		return nil, errors.New("detail has data after its object")
	}
	return m, nil
}

type detailParser struct {
	s string
	i int
}

func (p *detailParser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *detailParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a JSON string (RFC 8259). Lone surrogates are refused: Append
// only stores valid UTF-8, which never encodes to one.
func (p *detailParser) str() (string, error) {
	if !p.eat('"') {
		return "", errors.New("not a string")
	}
	start := p.i
	var b []byte // only once an escape is seen
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			var out string
			if b == nil {
				out = p.s[start:p.i]
			} else {
				out = string(b)
			}
			p.i++
			if !utf8.ValidString(out) {
				return "", errors.New("string is not valid UTF-8")
			}
			return out, nil
		case c < 0x20:
			return "", errors.New("control character in a string")
		case c == '\\':
			if b == nil {
				b = []byte(p.s[start:p.i])
			}
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			b = utf8.AppendRune(b, r)
		default:
			if b != nil {
				b = append(b, c)
			}
			p.i++
		}
	}
	return "", errors.New("unterminated string")
}

// escape reads one escape sequence at p.i (the backslash).
func (p *detailParser) escape() (rune, error) {
	if p.i+1 >= len(p.s) {
		return 0, errors.New("unterminated escape")
	}
	c := p.s[p.i+1]
	p.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return 0, errors.New("bad \\u escape")
		}
		if r == 0 {
			return 0, errors.New("NUL in a string")
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		if r < 0xdc00 && p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
			p.i += 2
			if lo, ok := p.hex4(); ok {
				if dec := utf16.DecodeRune(r, lo); dec != utf8.RuneError {
					return dec, nil
				}
			}
		}
		return 0, errors.New("lone surrogate in a \\u escape")
	}
	return 0, fmt.Errorf("bad escape \\%c", c)
}

func (p *detailParser) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(p.s[p.i : p.i+4]) {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	p.i += 4
	return r, true
}
