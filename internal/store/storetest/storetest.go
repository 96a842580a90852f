// Package storetest gives tests a real database: a temporary SQLite file, and
// a PostgreSQL schema of its own when KAKUNIN_TEST_POSTGRES names a server.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// EnvPostgres names the variable holding a PostgreSQL URL for tests, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const EnvPostgres = "KAKUNIN_TEST_POSTGRES"

// SQLiteDSN returns the path of a fresh SQLite database in t's temp dir.
func SQLiteDSN(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "kakunin.db")
}

// PostgresDSN returns a URL whose search_path is a new, empty schema that is
// dropped when t ends, so packages tested in parallel never share tables.
// Without KAKUNIN_TEST_POSTGRES the test is skipped with how to run it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skipf("PostgreSQL tests skipped: set %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable to run them", EnvPostgres)
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer db.Close()
		db.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Engines runs f once per available engine, as subtests named "sqlite" and
// "postgres", with a fresh database DSN for each.
func Engines(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, SQLiteDSN(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, PostgresDSN(t)) })
}

// StaffEmails is a stand-in for auth.StaffEmails in store-level tests that
// have no vault: it hides the address (XOR, not encryption: tests only)
// and indexes it by a SHA-256 of its normalized form.
type StaffEmails struct{}

func (StaffEmails) SealStaffEmail(email string) ([]byte, error) {
	b := []byte(strings.ToLower(strings.TrimSpace(email)))
	for i := range b {
		b[i] ^= 0x5a
	}
	return b, nil
}

func (StaffEmails) OpenStaffEmail(sealed []byte) (string, error) {
	b := bytes.Clone(sealed)
	for i := range b {
		b[i] ^= 0x5a
	}
	return string(b), nil
}

func (StaffEmails) StaffEmailIndex(email string) []byte {
	h := sha256.Sum256([]byte("test-index:" + strings.ToLower(strings.TrimSpace(email))))
	return h[:]
}
