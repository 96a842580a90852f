package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// The dummy hash costs what a real one does: same algorithm and parameters
// as HashPassword makes, so an unknown address is not told apart by time.
func TestTheDummyHashHasTheParametersOfARealOne(t *testing.T) {
	real := auth.HashPassword("any password at all")
	prefix := real[:strings.LastIndex(real[:strings.LastIndex(real, "$")], "$")+1]
	if !strings.HasPrefix(auth.DummyHash, prefix) {
		t.Fatalf("dummy hash %q does not share the parameters %q", auth.DummyHash, prefix)
	}
	for _, pw := range []string{"", "kakunin", "correct horse battery"} {
		if auth.CheckPassword(auth.DummyHash, pw) {
			t.Fatalf("password %q matches the dummy hash", pw)
		}
	}
}

func TestALoginForAnUnknownAddressIsCheckedAgainstTheDummyHash(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.SQLiteDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := auth.NewStaff(db, newVault(t), &audit.Log{DB: db, Now: time.Now})
	var checked []string
	auth.WatchPasswordChecks(s, func(hash string) { checked = append(checked, hash) })
	if _, err := s.Login(ctx, "nobody@example.test", "a guessed password"); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
		t.Fatalf("unknown account: %v", err)
	}
	if len(checked) != 1 || checked[0] != auth.DummyHash {
		t.Fatalf("an unknown address was checked against %q, want the dummy hash once", checked)
	}
}
