package auth

import (
	"context"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
)

// apiKeyPrefix marks kakunin keys so secret scanners can find leaked ones.
const apiKeyPrefix = "kkn_"

// CreateAPIKey stores a new key for the host platform and returns it with
// its secret, which is shown once and never stored.
func CreateAPIKey(ctx context.Context, db *store.DB, name string, now time.Time) (*kakunin.APIKey, string, error) {
	name = strings.TrimSpace(name)
	if err := CheckAPIKeyName(name); err != nil {
		return nil, "", err
	}
	k := &kakunin.APIKey{ID: kakunin.NewID("key"), Name: name, CreatedAt: now}
	secret := apiKeyPrefix + NewToken()
	if err := db.InsertAPIKey(ctx, k, HashToken(secret)); err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// CheckAPIKeyName refuses a name CreateAPIKey would refuse, so the CLI can
// say so before it opens anything.
func CheckAPIKeyName(name string) error {
	if name = strings.TrimSpace(name); name == "" || len(name) > 100 {
		return kakunin.Errorf(kakunin.EINVALID, "an API key needs a name of 1 to 100 characters")
	}
	return nil
}

// CheckAPIKey returns the live key whose secret is given. The look-up is by
// hash, so the comparison leaks nothing about the secret.
func CheckAPIKey(ctx context.Context, db *store.DB, secret string) (*kakunin.APIKey, error) {
	if !strings.HasPrefix(secret, apiKeyPrefix) || len(secret) > 200 {
		return nil, kakunin.Errorf(kakunin.EUNAUTHORIZED, "invalid API key")
	}
	return db.APIKeyByHash(ctx, HashToken(secret))
}

// APIKeys checks the host platform's keys for the web server.
type APIKeys struct {
	DB *store.DB
}

// Check returns the live key whose secret is given (CheckAPIKey).
func (k *APIKeys) Check(ctx context.Context, secret string) (*kakunin.APIKey, error) {
	return CheckAPIKey(ctx, k.DB, secret)
}
