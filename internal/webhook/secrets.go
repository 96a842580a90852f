package webhook

import (
	"context"
	"fmt"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// Sealer seals and opens the stored secrets; the vault is one.
type Sealer interface {
	SealField(purpose string, plaintext []byte) ([]byte, error)
	OpenField(purpose string, ciphertext []byte) ([]byte, error)
}

// SecretRing is where rotation keeps a target's signing secrets, sealed in
// the database so that every replica signs with the same ones. While a
// target has none stored, its configured secret (--webhook-secret) signs
// alone; once rotation has stored some, they sign and the configured one
// no longer does.
type SecretRing struct {
	DB   *store.DB
	Keys Sealer
}

// Active returns target's stored secrets, oldest first: every one signs
// each delivery.
func (r *SecretRing) Active(ctx context.Context, target Target) ([]string, error) {
	rows, err := r.DB.WebhookSecrets(ctx, string(target))
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rows))
	for _, s := range rows {
		b, err := r.Keys.OpenField(vault.PurposeWebhookSecret, s.Sealed)
		if err != nil {
			return nil, fmt.Errorf("open webhook secret %s: %w", s.ID, err)
		}
		out = append(out, string(b))
	}
	return out, nil
}

// Rotate adds a new secret for target and returns it. The first rotation
// also stores configured (the secret in use until now), so that both sign
// until the old one is retired.
func (r *SecretRing) Rotate(ctx context.Context, target Target, configured string) (string, error) {
	fresh := NewSecret()
	now := time.Now().UTC()
	err := r.DB.WithTx(ctx, func(tx *store.Tx) error {
		have, err := tx.WebhookSecrets(ctx, string(target))
		if err != nil {
			return err
		}
		add := []string{fresh}
		if len(have) == 0 && configured != "" {
			if _, err := decodeSecret(configured); err != nil {
				return err
			}
			add = []string{configured, fresh}
		}
		for i, s := range add {
			sealed, err := r.Keys.SealField(vault.PurposeWebhookSecret, []byte(s))
			if err != nil {
				return err
			}
			// The configured one a microsecond older, so it is retired first.
			at := now.Add(time.Duration(i-len(add)+1) * time.Microsecond)
			if err := tx.InsertWebhookSecret(ctx, store.WebhookSecret{ID: kakunin.NewID("whs"), Target: string(target), Sealed: sealed, CreatedAt: at}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return fresh, nil
}

// Retire removes every secret of target but the newest, once the receiver
// has switched to it, and returns how many went.
func (r *SecretRing) Retire(ctx context.Context, target Target) (int, error) {
	n := 0
	err := r.DB.WithTx(ctx, func(tx *store.Tx) error {
		have, err := tx.WebhookSecrets(ctx, string(target))
		if err != nil {
			return err
		}
		if len(have) < 2 {
			return kakunin.Errorf(kakunin.ECONFLICT, "nothing to retire: rotate first")
		}
		for _, s := range have[:len(have)-1] {
			if err := tx.DeleteWebhookSecret(ctx, s.ID); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
