package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

// Delivery states of a logged webhook event.
const (
	EventPending   = "pending"   // queued, or failed and to be tried again
	EventDelivered = "delivered" // the receiver answered 2xx
	EventFailed    = "failed"    // every attempt failed; redeliver to try again
	EventUnsent    = "unsent"    // no endpoint was configured when it was due
)

// WebhookEvent is one logged event and how its delivery went.
type WebhookEvent struct {
	Seq           int64
	ID            string // the webhook-id
	Target        string
	Type          string
	Body          []byte // the wire body
	State         string
	Attempts      int
	LastStatus    int // 0: no HTTP answer
	CreatedAt     time.Time
	LastAttemptAt *time.Time
	DeliveredAt   *time.Time
}

// InsertWebhookEventTx logs an event in tx, the transaction that enqueues
// its delivery: an event is listed if and only if it is sent.
func InsertWebhookEventTx(ctx context.Context, tx *sql.Tx, id, target, typ string, body []byte, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (id, target, type, body_sealed, state, created_at) VALUES ($1, $2, $3, $4, 'pending', $5)`,
		id, target, typ, body, micros(at))
	if err != nil {
		return fmt.Errorf("log webhook event: %w", err)
	}
	return nil
}

// RecordEventAttempt notes one delivery attempt: status is the receiver's
// HTTP status (0 for none); state the event's state after it.
func (q Queries) RecordEventAttempt(ctx context.Context, id string, status int, state string, at time.Time) error {
	var delivered sql.NullInt64
	if state == EventDelivered {
		delivered = sql.NullInt64{Int64: micros(at), Valid: true}
	}
	_, err := q.q.ExecContext(ctx, `UPDATE webhook_events SET attempts = attempts + 1, last_status = $2, state = $3,
		last_attempt_at = $4, delivered_at = COALESCE($5, delivered_at) WHERE id = $1`,
		id, sql.NullInt64{Int64: int64(status), Valid: status != 0}, state, micros(at), delivered)
	if err != nil {
		return fmt.Errorf("record webhook attempt: %w", err)
	}
	return nil
}

// SetEventState sets a logged event's delivery state (pending again when
// redelivered).
func (q Queries) SetEventState(ctx context.Context, id, state string) error {
	_, err := q.q.ExecContext(ctx, `UPDATE webhook_events SET state = $2 WHERE id = $1`, id, state)
	if err != nil {
		return fmt.Errorf("set webhook event state: %w", err)
	}
	return nil
}

const webhookEventColumns = `seq, id, target, type, body_sealed, state, attempts, last_status, created_at, last_attempt_at, delivered_at`

func scanWebhookEvent(row interface{ Scan(...any) error }) (*WebhookEvent, error) {
	var e WebhookEvent
	var last sql.NullInt64
	var created int64
	var attempted, delivered sql.NullInt64
	if err := row.Scan(&e.Seq, &e.ID, &e.Target, &e.Type, &e.Body, &e.State, &e.Attempts, &last, &created, &attempted, &delivered); err != nil {
		return nil, err
	}
	e.LastStatus, e.CreatedAt = int(last.Int64), fromMicros(created)
	e.LastAttemptAt, e.DeliveredAt = timePtr(attempted), timePtr(delivered)
	return &e, nil
}

// WebhookEvent returns one logged event of target by its ID, or ENOTFOUND.
func (q Queries) WebhookEvent(ctx context.Context, target, id string) (*WebhookEvent, error) {
	e, err := scanWebhookEvent(q.q.QueryRowContext(ctx, `SELECT `+webhookEventColumns+` FROM webhook_events WHERE id = $1 AND target = $2`, id, target))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "event not found")
	}
	if err != nil {
		return nil, fmt.Errorf("webhook event: %w", err)
	}
	return e, nil
}

// WebhookEvents returns up to limit events of target after seq afterSeq,
// oldest first, of type typ when not empty, and whether more follow.
func (q Queries) WebhookEvents(ctx context.Context, target string, afterSeq int64, typ string, limit int) ([]*WebhookEvent, bool, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+webhookEventColumns+` FROM webhook_events
		WHERE target = $1 AND seq > $2 AND ($3 = '' OR type = $3) ORDER BY seq LIMIT $4`, target, afterSeq, typ, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list webhook events: %w", err)
	}
	defer rows.Close()
	var out []*WebhookEvent
	for rows.Next() {
		e, err := scanWebhookEvent(rows)
		if err != nil {
			return nil, false, fmt.Errorf("list webhook events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list webhook events: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// SweepWebhookEvents forgets events created at or before cutoff.
func (q Queries) SweepWebhookEvents(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := q.q.ExecContext(ctx, `DELETE FROM webhook_events WHERE created_at <= $1`, micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("sweep webhook events: %w", err)
	}
	return res.RowsAffected()
}
