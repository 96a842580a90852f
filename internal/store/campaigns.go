package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
)

// Mass notification (internal/massmail gives these rows their meaning):
// this file holds the campaign, one per incident; letters.go holds its
// rows, one per affected member. The campaign row carries running counters,
// moved in the same transaction as the rows they count, so that progress is
// one row read however many messages there are.

// Campaign states.
const (
	CampaignDraft   = "draft"
	CampaignSending = "sending"
	CampaignPaused  = "paused"
	CampaignDone    = "done"
)

// Campaign is one incident's mass notification.
type Campaign struct {
	ID                   string
	IncidentID           string
	SubjectJA, BodyJA    string
	SubjectEN, BodyEN    string
	State                string
	Target, Enqueued     int64
	Sent, Failed         int64
	Bounced, Skipped     int64
	CreatedBy            string
	CreatedAt, UpdatedAt time.Time
	PreviewedAt          *time.Time
	StartedAt            *time.Time
	EnqueuedAt           *time.Time
	FinishedAt           *time.Time
}

// Pending is how many enqueued messages have no outcome yet.
func (c *Campaign) Pending() int64 { return c.Enqueued - c.Sent - c.Failed - c.Bounced - c.Skipped }

const campaignColumns = `id, incident_id, subject_ja, body_ja, subject_en, body_en, state, target, enqueued,
	sent, failed, bounced, skipped, created_by, created_at, updated_at, previewed_at, started_at, enqueued_at, finished_at`

func scanCampaign(row interface{ Scan(...any) error }) (*Campaign, error) {
	var c Campaign
	var created, updated int64
	var previewed, started, enqueued, finished sql.NullInt64
	err := row.Scan(&c.ID, &c.IncidentID, &c.SubjectJA, &c.BodyJA, &c.SubjectEN, &c.BodyEN, &c.State, &c.Target, &c.Enqueued,
		&c.Sent, &c.Failed, &c.Bounced, &c.Skipped, &c.CreatedBy, &created, &updated, &previewed, &started, &enqueued, &finished)
	if err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	c.PreviewedAt, c.StartedAt, c.EnqueuedAt, c.FinishedAt = timePtr(previewed), timePtr(started), timePtr(enqueued), timePtr(finished)
	return &c, nil
}

// InsertCampaign stores a new draft campaign. An incident has one campaign:
// a second is a conflict.
func (q Queries) InsertCampaign(ctx context.Context, c *Campaign) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO notification_campaigns (id, incident_id, subject_ja, body_ja, subject_en, body_en,
			state, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (incident_id) DO NOTHING`,
		c.ID, c.IncidentID, c.SubjectJA, c.BodyJA, c.SubjectEN, c.BodyEN, CampaignDraft, c.CreatedBy, micros(c.CreatedAt), micros(c.UpdatedAt))
	if err != nil {
		return fmt.Errorf("insert campaign: %w", err)
	}
	got, err := q.CampaignOfIncident(ctx, c.IncidentID)
	if err != nil {
		return err
	}
	if got.ID != c.ID {
		return kakunin.Errorf(kakunin.ECONFLICT, "incident %s already has a notification campaign", c.IncidentID)
	}
	return nil
}

// UpdateCampaignText replaces a draft's templates. A campaign that started
// keeps the text it is sending.
func (q Queries) UpdateCampaignText(ctx context.Context, c *Campaign) error {
	res, err := q.q.ExecContext(ctx, `UPDATE notification_campaigns SET subject_ja = $2, body_ja = $3, subject_en = $4, body_en = $5,
		updated_at = $6 WHERE id = $1 AND state = $7`,
		c.ID, c.SubjectJA, c.BodyJA, c.SubjectEN, c.BodyEN, micros(c.UpdatedAt), CampaignDraft)
	if err != nil {
		return fmt.Errorf("update campaign: %w", err)
	}
	if ok, err := affectedOne(res); err != nil || !ok {
		return campaignStateConflict(err, "its text can no longer change: the campaign has started")
	}
	return nil
}

func campaignStateConflict(err error, msg string) error {
	if err != nil {
		return fmt.Errorf("campaign: %w", err)
	}
	return kakunin.Errorf(kakunin.ECONFLICT, "%s", msg)
}

// Campaign returns a campaign by ID.
func (q Queries) Campaign(ctx context.Context, id string) (*Campaign, error) {
	c, err := scanCampaign(q.q.QueryRowContext(ctx, `SELECT `+campaignColumns+` FROM notification_campaigns WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "no such notification campaign")
	}
	if err != nil {
		return nil, fmt.Errorf("campaign %s: %w", id, err)
	}
	return c, nil
}

// CampaignOfIncident returns the incident's campaign, ENOTFOUND when it has none.
func (q Queries) CampaignOfIncident(ctx context.Context, incidentID string) (*Campaign, error) {
	c, err := scanCampaign(q.q.QueryRowContext(ctx, `SELECT `+campaignColumns+` FROM notification_campaigns WHERE incident_id = $1`, incidentID))
	if isNoRows(err) {
		return nil, kakunin.Errorf(kakunin.ENOTFOUND, "the incident has no notification campaign yet")
	}
	if err != nil {
		return nil, fmt.Errorf("campaign of incident %s: %w", incidentID, err)
	}
	return c, nil
}

// MarkCampaignPreviewed records that the current templates were previewed.
func (q Queries) MarkCampaignPreviewed(ctx context.Context, id string, at time.Time) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE notification_campaigns SET previewed_at = $2 WHERE id = $1`, id, micros(at)); err != nil {
		return fmt.Errorf("mark campaign previewed: %w", err)
	}
	return nil
}

// StartCampaign moves a draft to sending. Its rows are enqueued afterwards
// by a sender (ClaimEnqueue); until then it has none.
func (q Queries) StartCampaign(ctx context.Context, id string, at time.Time) error {
	res, err := q.q.ExecContext(ctx, `UPDATE notification_campaigns SET state = $2, started_at = $3 WHERE id = $1 AND state = $4`,
		id, CampaignSending, micros(at), CampaignDraft)
	if err != nil {
		return fmt.Errorf("start campaign: %w", err)
	}
	if ok, err := affectedOne(res); err != nil || !ok {
		return campaignStateConflict(err, "the campaign has already started")
	}
	return nil
}

// SetCampaignPaused pauses a sending campaign (paused true) or resumes a
// paused one. Enqueuing goes on while paused; sending does not.
func (q Queries) SetCampaignPaused(ctx context.Context, id string, paused bool) error {
	from, to := CampaignSending, CampaignPaused
	if !paused {
		from, to = to, from
	}
	res, err := q.q.ExecContext(ctx, `UPDATE notification_campaigns SET state = $2 WHERE id = $1 AND state = $3`, id, to, from)
	if err != nil {
		return fmt.Errorf("pause campaign: %w", err)
	}
	if ok, err := affectedOne(res); err != nil || !ok {
		return campaignStateConflict(err, "the campaign is not "+from)
	}
	return nil
}

// ClaimEnqueue takes a started campaign whose rows are not all enqueued
// and whose enqueue lease is free, holding it until leaseUntil. It returns
// nil when there is none.
func (q Queries) ClaimEnqueue(ctx context.Context, now, leaseUntil time.Time) (*Campaign, error) {
	var id string
	err := q.q.QueryRowContext(ctx, `UPDATE notification_campaigns SET enqueue_lease = $2
		WHERE id = (SELECT id FROM notification_campaigns
			WHERE started_at IS NOT NULL AND enqueued_at IS NULL AND (enqueue_lease IS NULL OR enqueue_lease < $1)
			ORDER BY started_at LIMIT 1)
		AND (enqueue_lease IS NULL OR enqueue_lease < $1)
		RETURNING id`, micros(now), micros(leaseUntil)).Scan(&id)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim campaign to enqueue: %w", err)
	}
	return q.Campaign(ctx, id)
}

// SetCampaignTarget records how many affected members enqueuing found.
func (q Queries) SetCampaignTarget(ctx context.Context, id string, target int64) error {
	if _, err := q.q.ExecContext(ctx, `UPDATE notification_campaigns SET target = $2 WHERE id = $1`, id, target); err != nil {
		return fmt.Errorf("set campaign target: %w", err)
	}
	return nil
}

// FinishEnqueue records that every affected member has a row.
func (q Queries) FinishEnqueue(ctx context.Context, id string, at time.Time) error {
	_, err := q.q.ExecContext(ctx, `UPDATE notification_campaigns SET enqueued_at = $2, enqueue_lease = NULL WHERE id = $1`, id, micros(at))
	if err != nil {
		return fmt.Errorf("finish enqueue: %w", err)
	}
	return nil
}

// ScopeMemberIDs calls fn with the kakunin ID of every member with at least
// one document whose ciphertext existed in [from, to], once each, in ID
// order: the set ScopeMembers names by external ID. As there, fn runs
// while the rows are open and must not use the database on SQLite.
func (db *DB) ScopeMemberIDs(ctx context.Context, from, to time.Time, fn func(memberID string) error) error {
	rows, err := db.q.QueryContext(ctx, `SELECT s.member_id FROM (`+scopeDocuments+`) s GROUP BY s.member_id ORDER BY s.member_id`,
		micros(from), micros(to))
	if err != nil {
		return fmt.Errorf("scope member ids: %w", err)
	}
	return eachString(rows, "scope member ids", fn)
}

// ScopeSampleMember returns one member in [from, to]'s scope who has not
// left, for a preview; "" when there is none.
func (q Queries) ScopeSampleMember(ctx context.Context, from, to time.Time) (string, error) {
	var id string
	err := q.q.QueryRowContext(ctx, `SELECT s.member_id FROM (`+scopeDocuments+`) s
		JOIN members m ON m.id = s.member_id WHERE m.deleted_at IS NULL LIMIT 1`, micros(from), micros(to)).Scan(&id)
	if isNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sample member: %w", err)
	}
	return id, nil
}

// ActiveCampaigns returns the campaigns in state sending, oldest first.
func (q Queries) ActiveCampaigns(ctx context.Context) ([]*Campaign, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT `+campaignColumns+` FROM notification_campaigns WHERE state = $1 ORDER BY started_at, id`, CampaignSending)
	if err != nil {
		return nil, fmt.Errorf("active campaigns: %w", err)
	}
	defer rows.Close()
	var out []*Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("active campaigns: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("active campaigns: %w", err)
	}
	return out, nil
}

// Recipients counts a campaign's recipients by the language of their
// letter: English for members whose locale is "en", Japanese for every
// other.
type Recipients struct{ JA, EN int64 }

// Total is every recipient.
func (r Recipients) Total() int64 { return r.JA + r.EN }

// ScopeRecipients counts the members in [from, to]'s scope who have not
// left, by letter language: the members a campaign started now would mail.
func (q Queries) ScopeRecipients(ctx context.Context, from, to time.Time) (Recipients, error) {
	var r Recipients
	var ja, en sql.NullInt64
	err := q.q.QueryRowContext(ctx, `SELECT
			CAST(SUM(CASE WHEN m.locale = 'en' THEN 0 ELSE 1 END) AS BIGINT),
			CAST(SUM(CASE WHEN m.locale = 'en' THEN 1 ELSE 0 END) AS BIGINT)
		FROM (SELECT s.member_id FROM (`+scopeDocuments+`) s GROUP BY s.member_id) a
		JOIN members m ON m.id = a.member_id WHERE m.deleted_at IS NULL`, micros(from), micros(to)).Scan(&ja, &en)
	if err != nil {
		return r, fmt.Errorf("scope recipients: %w", err)
	}
	return Recipients{JA: ja.Int64, EN: en.Int64}, nil
}

// PendingRecipients counts a campaign's outbox rows still to send whose
// members have not left, by letter language: what resuming it would mail.
func (q Queries) PendingRecipients(ctx context.Context, campaignID string) (Recipients, error) {
	var ja, en sql.NullInt64
	err := q.q.QueryRowContext(ctx, `SELECT
			CAST(SUM(CASE WHEN m.locale = 'en' THEN 0 ELSE 1 END) AS BIGINT),
			CAST(SUM(CASE WHEN m.locale = 'en' THEN 1 ELSE 0 END) AS BIGINT)
		FROM notification_outbox o JOIN members m ON m.id = o.member_id
		WHERE o.campaign_id = $1 AND o.state = 'pending' AND m.deleted_at IS NULL`, campaignID).Scan(&ja, &en)
	if err != nil {
		return Recipients{}, fmt.Errorf("pending recipients of %s: %w", campaignID, err)
	}
	return Recipients{JA: ja.Int64, EN: en.Int64}, nil
}
