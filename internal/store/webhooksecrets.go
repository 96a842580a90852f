package store

import (
	"context"
	"fmt"
	"time"
)

// WebhookSecret is one signing secret added by rotation, still sealed.
type WebhookSecret struct {
	ID        string
	Target    string
	Sealed    []byte
	CreatedAt time.Time
}

// InsertWebhookSecret adds a signing secret of target.
func (q Queries) InsertWebhookSecret(ctx context.Context, s WebhookSecret) error {
	_, err := q.q.ExecContext(ctx, `INSERT INTO webhook_secrets (id, target, secret_sealed, created_at) VALUES ($1, $2, $3, $4)`,
		s.ID, s.Target, s.Sealed, micros(s.CreatedAt))
	if err != nil {
		return fmt.Errorf("add webhook secret: %w", err)
	}
	return nil
}

// WebhookSecrets returns target's secrets, oldest first.
func (q Queries) WebhookSecrets(ctx context.Context, target string) ([]WebhookSecret, error) {
	rows, err := q.q.QueryContext(ctx, `SELECT id, target, secret_sealed, created_at FROM webhook_secrets WHERE target = $1 ORDER BY created_at, id`, target)
	if err != nil {
		return nil, fmt.Errorf("webhook secrets: %w", err)
	}
	defer rows.Close()
	var out []WebhookSecret
	for rows.Next() {
		var s WebhookSecret
		var created int64
		if err := rows.Scan(&s.ID, &s.Target, &s.Sealed, &created); err != nil {
			return nil, fmt.Errorf("webhook secrets: %w", err)
		}
		s.CreatedAt = fromMicros(created)
		out = append(out, s)
	}
	return out, rows.Err()
}

// DeleteWebhookSecret removes one secret.
func (q Queries) DeleteWebhookSecret(ctx context.Context, id string) error {
	if _, err := q.q.ExecContext(ctx, `DELETE FROM webhook_secrets WHERE id = $1`, id); err != nil {
		return fmt.Errorf("retire webhook secret: %w", err)
	}
	return nil
}
