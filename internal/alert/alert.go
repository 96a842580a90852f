package alert

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kakunin/kakunin/internal/mail"

	"github.com/riverqueue/river"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/jobs"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/webhook"
)

// Alert kinds raised today. The kind also names the webhook event
// ("alert." + kind), so a kind must never change once released.
const (
	KindReadQuotaExceeded = "staff.read_quota_exceeded"
	KindStaffLocked       = "staff.locked"
	// KindLoginThrottled: sign-in guessing reached a limit (one client
	// address, or one account's failures in a row) and is being slowed.
	KindLoginThrottled = "staff.login_throttled"
	// The incident desk's: an obligation past due, and an open incident
	// the public has not heard of for too long. Both go to responders.
	KindIncidentOverdue     = "incident.overdue"
	KindIncidentNoticeStale = "incident.notice_stale"
	// Uploads refused because the blob store (or the database's disk) is
	// full; raised at most once an hour per replica (DiskFull).
	KindStorageFull = "storage.full"
)

// Alert is something the people running kakunin must hear about now.
type Alert struct {
	Kind    string    `json:"kind"`               // e.g. KindReadQuotaExceeded
	StaffID string    `json:"staff_id,omitempty"` // the staff member it is about, if any
	At      time.Time `json:"at"`                 // when it happened; zero means now
	// Role is who is mailed: every active staff member of this role,
	// found when the mail is sent. "" means admin.
	Role kakunin.Role `json:"role,omitempty"`
	// Detail holds identifiers and counts only ("reads", "quota",
	// "window"…), never an address or a name: it is stored in the job
	// table and posted to the alert webhook.
	Detail map[string]string `json:"detail,omitempty"`
}

// MaxAttempts is how often an alert job is tried. With River's back-off
// (attempt⁴ seconds) twenty attempts span about six days, as for webhooks:
// long enough to outlast a mail server's weekend outage, short enough that
// a failure ends up in front of someone.
const MaxAttempts = 20

// Enqueuer puts a job in the caller's transaction; *jobs.Queue is one, and
// so is a test's recorder.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) error
}

var _ Enqueuer = (*jobs.Queue)(nil)

// Raise enqueues, inside tx, the mail of alert a to every active admin
// (or every active staff member of a.Role) and its webhook ("alert." + a.Kind) to the alert endpoint. Both happen if
// and only if tx commits. Who the admins are is decided when the mail is
// sent, not now: an admin added or locked in between is honoured.
func Raise(ctx context.Context, q Enqueuer, tx *sql.Tx, a Alert) error {
	if !validKind(a.Kind) {
		return fmt.Errorf("raise alert: kind %q is not lower-case words joined by dots", a.Kind)
	}
	if tx == nil {
		// Outside a transaction an alert could outlive a change that
		// rolled back, or be lost with one that committed.
		return errors.New("raise alert: a transaction is required")
	}
	if a.At.IsZero() {
		a.At = time.Now()
	}
	a.At = a.At.UTC().Truncate(time.Second)
	id := kakunin.NewID("alr")
	if err := q.InsertTx(ctx, tx, FanoutArgs{ID: id, Alert: a}, nil); err != nil {
		return fmt.Errorf("raise alert %s: %w", a.Kind, err)
	}
	ev, err := webhook.NewEvent("alert."+a.Kind, alertEvent{AlertID: id, Kind: a.Kind, StaffID: a.StaffID, At: a.At, Detail: a.Detail})
	if err != nil {
		return fmt.Errorf("raise alert %s: %w", a.Kind, err)
	}
	if err := webhook.EnqueueTo(ctx, q, tx, webhook.TargetAlerts, ev); err != nil {
		return fmt.Errorf("raise alert %s: %w", a.Kind, err)
	}
	return nil
}

// alertEvent is the webhook's data.
type alertEvent struct {
	AlertID string            `json:"alert_id"`
	Kind    string            `json:"kind"`
	StaffID string            `json:"staff_id,omitempty"`
	At      time.Time         `json:"at"`
	Detail  map[string]string `json:"detail,omitempty"`
}

func validKind(k string) bool {
	if k == "" || k[0] == '.' || k[len(k)-1] == '.' {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// FanoutArgs is the job that finds the admins to mail an alert to, when it
// runs, and queues one MailArgs for each.
type FanoutArgs struct {
	ID    string `json:"id"`
	Alert Alert  `json:"alert"`
}

// Kind implements river.JobArgs. Stored jobs refer to it: never change it.
func (FanoutArgs) Kind() string { return "alert_fanout" }

// Priority puts alerts ahead of the queue's bulk work (a thousand uploads'
// decodes and webhooks): an admin must hear of a locked reviewer at once,
// not after the backlog that the lockout was part of.
const Priority = 1

// InsertOpts gives the job MaxAttempts and the alerts' priority however it
// is enqueued.
func (FanoutArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: MaxAttempts, Priority: Priority}
}

// MailArgs is the job that mails one alert to one admin. One job per
// admin means one admin's full mailbox is retried alone, and nobody else
// gets the alert twice because of it.
type MailArgs struct {
	AlertID     string `json:"alert_id" river:"unique"`
	RecipientID string `json:"recipient_id" river:"unique"` // a staff ID; the address is read at send time
	Alert       Alert  `json:"alert"`
}

// Kind implements river.JobArgs. Stored jobs refer to it: never change it.
func (MailArgs) Kind() string { return "alert_mail" }

// InsertOpts gives the job MaxAttempts, and makes the fan-out idempotent:
// if it is retried after queueing (it failed to record its own success),
// the second mail job for the same alert and admin is not inserted.
func (MailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: MaxAttempts, Priority: Priority, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Register adds the alert workers to workers, logging to log (required).
// A nil m is taken as mail disabled (as NewSMTPMailer("", …) returns).
func Register(workers *river.Workers, m mail.Mailer, db *store.DB, log *slog.Logger) {
	if log == nil {
		panic("alert.Register: no logger")
	}
	if m == nil {
		m = mail.Disabled(log)
	}
	river.AddWorker(workers, &fanoutWorker{db: db, Log: log})
	river.AddWorker(workers, &mailWorker{mailer: m, db: db, Log: log})
}

type fanoutWorker struct {
	river.WorkerDefaults[FanoutArgs]
	db  *store.DB
	Log *slog.Logger
}

// Timeout covers one query and one batch insert.
func (w *fanoutWorker) Timeout(*river.Job[FanoutArgs]) time.Duration { return 30 * time.Second }

func (w *fanoutWorker) Work(ctx context.Context, job *river.Job[FanoutArgs]) error {
	a := job.Args
	role := recipients(a.Alert)
	ids, err := w.db.ActiveStaffIDs(ctx, role)
	if err != nil {
		return fmt.Errorf("alert %s: %w", a.ID, err)
	}
	if len(ids) == 0 {
		// Retrying would not create an admin; the webhook still carries
		// the alert, and this line puts it in front of whoever reads logs.
		w.Log.WarnContext(ctx, "alert not mailed: there is no active "+string(role), "alert_id", a.ID, "kind", a.Alert.Kind, "staff_id", a.Alert.StaffID)
		return nil
	}
	// The worker's context carries the River client that runs it; its
	// insert uses a connection of its own, which is free here.
	client, err := river.ClientFromContextSafely[*sql.Tx](ctx)
	if err != nil {
		return fmt.Errorf("alert %s: %w", a.ID, err)
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: MailArgs{AlertID: a.ID, RecipientID: id, Alert: a.Alert}}
	}
	if _, err := client.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("alert %s: queue mail: %w", a.ID, err)
	}
	w.Log.InfoContext(ctx, "alert mail queued", "alert_id", a.ID, "kind", a.Alert.Kind, "role", string(role), "recipients", len(ids))
	return nil
}

type mailWorker struct {
	river.WorkerDefaults[MailArgs]
	mailer mail.Mailer
	db     *store.DB
	Log    *slog.Logger
}

// Timeout leaves room for a slow server: connecting and three exchanges
// may each take mail.DefaultTimeout before one of them gives up.
func (w *mailWorker) Timeout(*river.Job[MailArgs]) time.Duration { return 3 * mail.DefaultTimeout }

// Work mails the alert to one admin. A temporary failure (4xx, no answer)
// fails the attempt for River to retry; a permanent refusal of the address
// is logged by staff ID and completes the job, since retrying cannot help.
func (w *mailWorker) Work(ctx context.Context, job *river.Job[MailArgs]) error {
	a := job.Args
	log := w.Log.With("alert_id", a.AlertID, "kind", a.Alert.Kind, "recipient", a.RecipientID)
	role := recipients(a.Alert)
	email, err := w.db.ActiveStaffEmail(ctx, a.RecipientID, role)
	if kakunin.ErrorCode(err) == kakunin.ENOTFOUND {
		log.InfoContext(ctx, "alert mail skipped: the recipient is no longer an active "+string(role))
		return nil
	}
	if err != nil {
		return fmt.Errorf("alert %s to %s: %w", a.AlertID, a.RecipientID, err)
	}
	err = w.mailer.Send(ctx, alertMessage(a, email))
	var se *mail.SendError
	switch {
	case err == nil:
		log.DebugContext(ctx, "alert mailed", "attempt", job.Attempt)
		return nil
	case errors.As(err, &se) && !se.Retryable():
		f, _ := se.Failed(0)
		log.ErrorContext(ctx, "alert mail refused for good; tell this admin another way", "stage", f.Stage, "code", f.Code, "enhanced", f.Enhanced)
		return nil
	}
	return fmt.Errorf("alert %s to %s: %w", a.AlertID, a.RecipientID, err)
}

// recipients is the role an alert is mailed to: admin unless it names one.
func recipients(a Alert) kakunin.Role {
	if a.Role == "" {
		return kakunin.RoleAdmin
	}
	return a.Role
}
