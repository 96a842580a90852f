package auth_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// An unknown address costs what a real account costs at the cost the
// service hashes with. At the production cost that is the dummy hash
// (TestALoginForAnUnknownAddressIsCheckedAgainstTheDummyHash); at an
// injected cost it is a hash of that cost, so tests' unknown sign-ins are
// cheap too and the two paths still cost alike.
func TestAnUnknownAddressIsCheckedAtTheServicesPasswordCost(t *testing.T) {
	db, err := store.Open(t.Context(), storetest.SQLiteDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := auth.NewStaff(db, newVault(t), &audit.Log{DB: db, Now: time.Now})
	s.PasswordCost = cheapCost
	var checked []string
	auth.WatchPasswordChecks(s, func(hash string) { checked = append(checked, hash) })
	acct, err := s.Add(t.Context(), "known@example.test", kakunin.RoleReviewer)
	if err != nil {
		t.Fatal(err)
	}
	s.Login(t.Context(), acct.Staff.Email, "a wrong password")
	s.Login(t.Context(), "nobody@example.test", "a wrong password")
	const prefix = "$argon2id$v=19$m=64,t=1,p=1$"
	if len(checked) != 2 || !strings.HasPrefix(checked[0], prefix) || !strings.HasPrefix(checked[1], prefix) {
		t.Errorf("checked against %q, want a real account's and an unknown address's hash both of %s", checked, prefix)
	}
}
