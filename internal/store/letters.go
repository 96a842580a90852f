package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
)

// The rows of a mass notification (notification_outbox), one per affected
// member of a campaign (campaigns.go), and their outcome counters per
// minute.

// Outbox row states.
const (
	NotificationPending = "pending"
	NotificationSent    = "sent"
	NotificationFailed  = "failed"  // gave up after the last attempt, or could not be written
	NotificationBounced = "bounced" // the server refused it for good (5xx)
	NotificationSkipped = "skipped" // the member left: no address to write to
)

// EnqueueNotifications inserts, in one transaction, a pending row for each
// member not yet enqueued in the campaign, due at due, counts the new ones
// into the campaign and renews its enqueue lease. It returns how many were
// new. Members go in many per statement.
func (db *DB) EnqueueNotifications(ctx context.Context, campaignID string, memberIDs []string, due, leaseUntil time.Time) (int64, error) {
	var inserted int64
	err := db.WithTx(ctx, func(tx *Tx) error {
		inserted = 0
		const perStmt = maxParams / 3
		for rest := memberIDs; len(rest) > 0; {
			n := min(len(rest), perStmt)
			var sb strings.Builder
			sb.WriteString(`INSERT INTO notification_outbox (campaign_id, member_id, state, next_attempt_at) VALUES `)
			args := make([]any, 0, 3*n)
			for i, id := range rest[:n] {
				if i > 0 {
					sb.WriteString(", ")
				}
				// SQLite binds "$N" by name, in time quadratic in the
				// parameters of a statement: anonymous ones there (see
				// insertStatement).
				if db.dialect == Postgres {
					p := len(args)
					fmt.Fprintf(&sb, "($%d, $%d, 'pending', $%d)", p+1, p+2, p+3)
				} else {
					sb.WriteString("(?, ?, 'pending', ?)")
				}
				args = append(args, campaignID, id, micros(due))
			}
			sb.WriteString(` ON CONFLICT (campaign_id, member_id) DO NOTHING`)
			res, err := tx.tx.ExecContext(ctx, sb.String(), args...)
			if err != nil {
				return fmt.Errorf("enqueue %d notifications: %w", n, err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("enqueue notifications: %w", err)
			}
			inserted += k
			rest = rest[n:]
		}
		_, err := tx.q.ExecContext(ctx, `UPDATE notification_campaigns SET enqueued = enqueued + $2, enqueue_lease = $3 WHERE id = $1`,
			campaignID, inserted, micros(leaseUntil))
		if err != nil {
			return fmt.Errorf("count enqueued notifications: %w", err)
		}
		return nil
	})
	return inserted, err
}

// Notification is a claimed outbox row with what sending needs of its member.
type Notification struct {
	ID          int64
	CampaignID  string
	MemberID    string
	Attempts    int // attempts before this one
	EmailSealed []byte
	Locale      kakunin.Locale
	Left        bool // the member left: no address
}

// ClaimNotifications takes up to n pending rows of a campaign that are due
// at now, oldest due first, and moves them to leaseUntil: no other sender
// takes them until then, and if this one dies they are due again then. On
// PostgreSQL, SKIP LOCKED lets concurrent senders take different rows
// rather than wait for each other.
func (db *DB) ClaimNotifications(ctx context.Context, campaignID string, now, leaseUntil time.Time, n int) ([]Notification, error) {
	lock := ""
	if db.dialect == Postgres {
		lock = ` FOR UPDATE SKIP LOCKED`
	}
	var out []Notification
	err := db.WithTx(ctx, func(tx *Tx) error {
		var err error
		out, err = tx.claimNotifications(ctx, campaignID, now, leaseUntil, n, lock)
		return err
	})
	return out, err
}

func (tx *Tx) claimNotifications(ctx context.Context, campaignID string, now, leaseUntil time.Time, n int, lock string) ([]Notification, error) {
	rows, err := tx.q.QueryContext(ctx, `UPDATE notification_outbox SET next_attempt_at = $3
		WHERE id IN (SELECT id FROM notification_outbox
			WHERE campaign_id = $1 AND state = 'pending' AND next_attempt_at <= $2
			ORDER BY next_attempt_at LIMIT $4`+lock+`)
		RETURNING id, member_id, attempts`, campaignID, micros(now), micros(leaseUntil), n)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	var out []Notification
	for rows.Next() {
		nt := Notification{CampaignID: campaignID}
		if err := rows.Scan(&nt.ID, &nt.MemberID, &nt.Attempts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim notifications: %w", err)
		}
		out = append(out, nt)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	// The members, in one query.
	byID := make(map[string][]int, len(out))
	args := make([]any, 0, len(out))
	var in strings.Builder
	for i, nt := range out {
		if _, seen := byID[nt.MemberID]; !seen {
			if len(args) > 0 {
				in.WriteString(", ")
			}
			args = append(args, nt.MemberID)
			in.WriteString("$" + strconv.Itoa(len(args)))
		}
		byID[nt.MemberID] = append(byID[nt.MemberID], i)
	}
	mrows, err := tx.q.QueryContext(ctx, `SELECT id, email_sealed, locale, deleted_at FROM members WHERE id IN (`+in.String()+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: members: %w", err)
	}
	defer mrows.Close()
	found := 0
	for mrows.Next() {
		var id, locale string
		var sealed []byte
		var deleted sql.NullInt64
		if err := mrows.Scan(&id, &sealed, &locale, &deleted); err != nil {
			return nil, fmt.Errorf("claim notifications: members: %w", err)
		}
		for _, i := range byID[id] {
			out[i].EmailSealed, out[i].Locale, out[i].Left = sealed, kakunin.Locale(locale), deleted.Valid || sealed == nil
			found++
		}
	}
	if err := mrows.Err(); err != nil {
		return nil, fmt.Errorf("claim notifications: members: %w", err)
	}
	if found < len(out) {
		for i := range out {
			if out[i].EmailSealed == nil {
				out[i].Left = true
			}
		}
	}
	return out, nil
}

// NotificationOutcome is what became of one claimed row.
type NotificationOutcome struct {
	ID    int64
	State string // a final state, or pending to try again at Retry
	Retry time.Time
	// Code and Enhanced are the SMTP reply's codes of a failure (0 and ""
	// when there was no reply).
	Code     int
	Enhanced string
}

// OutcomeCounts is how many rows moved to each final state.
type OutcomeCounts struct {
	Sent, Failed, Bounced, Skipped int64
}

// Total is the sum of the counts.
func (c OutcomeCounts) Total() int64 { return c.Sent + c.Failed + c.Bounced + c.Skipped }

// RecordOutcomes writes what became of claimed rows of one campaign, adds
// the rows that reached a final state to the campaign's counters and to
// the minute's, and returns those counts. A row already final (a second
// sender whose lease had run out) is left as it is and not counted again.
// Everything commits together.
func (db *DB) RecordOutcomes(ctx context.Context, campaignID string, at time.Time, outcomes []NotificationOutcome) (OutcomeCounts, error) {
	var counts OutcomeCounts
	err := db.WithTx(ctx, func(tx *Tx) error {
		var err error
		counts, err = tx.recordOutcomes(ctx, campaignID, at, outcomes)
		return err
	})
	if err != nil {
		return OutcomeCounts{}, err
	}
	return counts, nil
}

func (tx *Tx) recordOutcomes(ctx context.Context, campaignID string, at time.Time, outcomes []NotificationOutcome) (OutcomeCounts, error) {
	var counts OutcomeCounts
	var sent []any
	var sentIn strings.Builder
	for _, o := range outcomes {
		if o.State == NotificationSent {
			if len(sent) > 0 {
				sentIn.WriteString(", ")
			}
			sent = append(sent, o.ID)
			sentIn.WriteString("$" + strconv.Itoa(len(sent)+1))
			continue
		}
		var res sql.Result
		var err error
		if o.State == NotificationPending {
			res, err = tx.q.ExecContext(ctx, `UPDATE notification_outbox SET attempts = attempts + 1, next_attempt_at = $2,
				last_code = $3, last_enhanced = $4 WHERE id = $1 AND state = 'pending'`,
				o.ID, micros(o.Retry), nullInt(o.Code), nullString(o.Enhanced))
		} else {
			attempt := 1
			if o.State == NotificationSkipped {
				attempt = 0 // nothing was tried
			}
			res, err = tx.q.ExecContext(ctx, `UPDATE notification_outbox SET state = $2, attempts = attempts + $3,
				last_code = $4, last_enhanced = $5, done_at = $6 WHERE id = $1 AND state = 'pending'`,
				o.ID, o.State, attempt, nullInt(o.Code), nullString(o.Enhanced), micros(at))
		}
		if err != nil {
			return counts, fmt.Errorf("record notification %d: %w", o.ID, err)
		}
		ok, err := affectedOne(res)
		if err != nil {
			return counts, fmt.Errorf("record notification %d: %w", o.ID, err)
		}
		if ok {
			switch o.State {
			case NotificationFailed:
				counts.Failed++
			case NotificationBounced:
				counts.Bounced++
			case NotificationSkipped:
				counts.Skipped++
			}
		}
	}
	if len(sent) > 0 {
		res, err := tx.q.ExecContext(ctx, `UPDATE notification_outbox SET state = 'sent', attempts = attempts + 1,
			last_code = NULL, last_enhanced = NULL, done_at = $1 WHERE state = 'pending' AND id IN (`+sentIn.String()+`)`,
			append([]any{micros(at)}, sent...)...)
		if err != nil {
			return counts, fmt.Errorf("record sent notifications: %w", err)
		}
		if counts.Sent, err = res.RowsAffected(); err != nil {
			return counts, fmt.Errorf("record sent notifications: %w", err)
		}
	}
	if counts.Total() == 0 {
		return counts, nil
	}
	_, err := tx.q.ExecContext(ctx, `UPDATE notification_campaigns SET sent = sent + $2, failed = failed + $3, bounced = bounced + $4,
		skipped = skipped + $5 WHERE id = $1`, campaignID, counts.Sent, counts.Failed, counts.Bounced, counts.Skipped)
	if err != nil {
		return counts, fmt.Errorf("count outcomes: %w", err)
	}
	minute := at.UTC().Truncate(time.Minute)
	_, err = tx.q.ExecContext(ctx, `INSERT INTO notification_minutes (campaign_id, minute, sent, failed, bounced, skipped)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (campaign_id, minute) DO UPDATE SET sent = notification_minutes.sent + excluded.sent,
			failed = notification_minutes.failed + excluded.failed, bounced = notification_minutes.bounced + excluded.bounced,
			skipped = notification_minutes.skipped + excluded.skipped`,
		campaignID, micros(minute), counts.Sent, counts.Failed, counts.Bounced, counts.Skipped)
	if err != nil {
		return counts, fmt.Errorf("count outcomes per minute: %w", err)
	}
	return counts, nil
}

func nullInt(v int) sql.NullInt64 { return sql.NullInt64{Int64: int64(v), Valid: v != 0} }

// FinishCampaignIfDone marks a sending campaign done once every row is
// enqueued and none is pending, and reports whether it did.
func (q Queries) FinishCampaignIfDone(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := q.q.ExecContext(ctx, `UPDATE notification_campaigns SET state = $2, finished_at = $3
		WHERE id = $1 AND state = $4 AND enqueued_at IS NOT NULL
		AND NOT EXISTS (SELECT 1 FROM notification_outbox WHERE campaign_id = $1 AND state = 'pending')`,
		id, CampaignDone, micros(at), CampaignSending)
	if err != nil {
		return false, fmt.Errorf("finish campaign: %w", err)
	}
	return affectedOne(res)
}

// NextDue returns when the campaign's next pending row is due, and false
// when none is pending.
func (q Queries) NextDue(ctx context.Context, campaignID string) (time.Time, bool, error) {
	var at sql.NullInt64
	err := q.q.QueryRowContext(ctx, `SELECT MIN(next_attempt_at) FROM notification_outbox WHERE campaign_id = $1 AND state = 'pending'`,
		campaignID).Scan(&at)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("next due notification: %w", err)
	}
	return fromMicros(at.Int64), at.Valid, nil
}

// OutboxRow is one outbox row as stored, for tests and tooling.
type OutboxRow struct {
	ID            int64
	MemberID      string
	State         string
	Attempts      int
	NextAttemptAt time.Time
	Code          int
	Enhanced      string
}

// OutboxRows lists a campaign's rows in ID order.
func (q Queries) OutboxRows(ctx context.Context, campaignID string) ([]OutboxRow, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT id, member_id, state, attempts, next_attempt_at, COALESCE(last_code, 0), COALESCE(last_enhanced, '')
		FROM notification_outbox WHERE campaign_id = $1 ORDER BY id`, campaignID)
	if err != nil {
		return nil, fmt.Errorf("outbox rows: %w", err)
	}
	defer rows.Close()
	var out []OutboxRow
	for rows.Next() {
		var r OutboxRow
		var next int64
		if err := rows.Scan(&r.ID, &r.MemberID, &r.State, &r.Attempts, &next, &r.Code, &r.Enhanced); err != nil {
			return nil, fmt.Errorf("outbox rows: %w", err)
		}
		r.NextAttemptAt = fromMicros(next)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox rows: %w", err)
	}
	return out, nil
}

// MinuteCount is one minute's outcomes of a campaign.
type MinuteCount struct {
	Minute time.Time
	OutcomeCounts
}

// CampaignMinutes returns the campaign's per-minute outcomes since since,
// oldest first.
func (q Queries) CampaignMinutes(ctx context.Context, campaignID string, since time.Time) ([]MinuteCount, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT minute, sent, failed, bounced, skipped FROM notification_minutes
		WHERE campaign_id = $1 AND minute >= $2 ORDER BY minute`, campaignID, micros(since))
	if err != nil {
		return nil, fmt.Errorf("campaign minutes: %w", err)
	}
	defer rows.Close()
	var out []MinuteCount
	for rows.Next() {
		var m MinuteCount
		var minute int64
		if err := rows.Scan(&minute, &m.Sent, &m.Failed, &m.Bounced, &m.Skipped); err != nil {
			return nil, fmt.Errorf("campaign minutes: %w", err)
		}
		m.Minute = fromMicros(minute)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("campaign minutes: %w", err)
	}
	return out, nil
}
