package auth_test

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/vault"
)

func newVault(t *testing.T) *vault.Vault {
	t.Helper()
	dir := t.TempDir()
	kek, err := vault.OpenLocalKeyset(filepath.Join(dir, "master.json"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := vault.New(context.Background(), kek, filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// cheapCost keeps the tests' staff accounts from costing 64 MiB and a
// tenth of a second each; TestNewHashesCostWhatTheServiceIsGiven shows the
// production cost is the default.
var cheapCost = auth.PasswordCost{Time: 1, MemoryKiB: 64, Threads: 1}

func TestNewHashesCostWhatTheServiceIsGiven(t *testing.T) {
	h := cheapCost.Hash("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash format %q", h)
	}
	if !auth.CheckPassword(h, "correct horse battery") || auth.CheckPassword(h, "correct horse batter") {
		t.Fatal("a cheap hash does not verify only its own password")
	}
	db, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, c := range []struct {
		cost   auth.PasswordCost
		prefix string
	}{{auth.PasswordCost{}, "$argon2id$v=19$m=65536,t=3,p=2$"}, {cheapCost, "$argon2id$v=19$m=64,t=1,p=1$"}} {
		s := auth.NewStaff(db, newVault(t), &audit.Log{DB: db, Now: time.Now})
		s.PasswordCost = c.cost
		acct, err := s.Add(t.Context(), fmt.Sprintf("m%d@example.test", c.cost.MemoryKiB), kakunin.RoleReviewer)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(acct.Staff.PasswordHash, c.prefix) {
			t.Errorf("cost %+v: stored hash %q", c.cost, acct.Staff.PasswordHash)
		}
		if err := s.ChangePassword(t.Context(), acct.Staff.ID, "a new long password"); err != nil {
			t.Fatal(err)
		}
		if st, err := db.StaffByEmail(t.Context(), acct.Staff.Email); err != nil || !strings.HasPrefix(st.PasswordHash, c.prefix) {
			t.Errorf("cost %+v: changed hash %v %v", c.cost, st, err)
		}
	}
}

func TestPasswordsVerifyOnlyThemselves(t *testing.T) {
	h := auth.HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash format %q", h)
	}
	if !auth.CheckPassword(h, "correct horse battery") {
		t.Fatal("right password refused")
	}
	if auth.CheckPassword(h, "correct horse batter") {
		t.Fatal("wrong password accepted")
	}
	// The other near misses against a cheap hash: the same code, a
	// fiftieth of the work.
	h = cheapCost.Hash("correct horse battery")
	for _, wrong := range []string{"", "Correct horse battery", "correct horse battery "} {
		if auth.CheckPassword(h, wrong) {
			t.Fatalf("wrong password %q accepted", wrong)
		}
	}
	if auth.CheckPassword("$argon2id$v=19$m=99999999,t=3,p=2$AAAA$AAAA", "x") {
		t.Fatal("a hash with absurd parameters was evaluated")
	}
}

func TestUploadTokensCannotBeForgedOrStretched(t *testing.T) {
	v := newVault(t)
	now := time.Now()
	tok := auth.UploadToken(v, "ver_abc", now.Add(time.Hour))
	if id, err := auth.CheckUploadToken(v, tok, now); err != nil || id != "ver_abc" {
		t.Fatalf("valid token: %q %v", id, err)
	}
	parts := strings.Split(tok, ".")
	stretched := parts[0] + "." + "99999999999" + "." + parts[2]
	other := "ver_abd." + parts[1] + "." + parts[2]
	// Go's base64 skips '\r' and '\n': a second spelling of the same link.
	respelled := parts[0] + "." + parts[1] + "." + parts[2][:5] + "\r\n" + parts[2][5:]
	for _, bad := range []string{stretched, other, respelled, tok + "x", "", "a.b", strings.Repeat("a", 300)} {
		if _, err := auth.CheckUploadToken(v, bad, now); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("forged token %q: %v", bad, err)
		}
	}
	if _, err := auth.CheckUploadToken(v, tok, now.Add(2*time.Hour)); kakunin.ErrorCode(err) != kakunin.EGONE {
		t.Fatalf("expired token: %v", err)
	}
	if _, err := auth.CheckUploadToken(newVault(t), tok, now); kakunin.ErrorCode(err) != kakunin.EINVALID {
		t.Fatal("a token verified under another installation's key")
	}
}

func TestStaffSignInNeedsPasswordThenAFreshTOTPCode(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		clock := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
		s := auth.NewStaff(db, newVault(t), &audit.Log{DB: db, Now: time.Now})
		s.PasswordCost = cheapCost
		s.Now = func() time.Time { return clock }
		acct, err := s.Add(ctx, "reviewer@example.test", kakunin.RoleReviewer)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(acct.TOTPURI)
		if u.Scheme != "otpauth" || u.Query().Get("secret") != acct.Secret {
			t.Fatalf("enrolment URI %q", acct.TOTPURI)
		}
		if _, err := s.Add(ctx, "REVIEWER@example.test", kakunin.RoleAdmin); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("duplicate account: %v", err)
		}
		if _, err := s.Login(ctx, "reviewer@example.test", "wrong password!"); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Fatalf("wrong password: %v", err)
		}
		if _, err := s.Login(ctx, "nobody@example.test", acct.Password); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Fatalf("unknown account: %v", err)
		}
		half, err := s.Login(ctx, "reviewer@example.test", acct.Password)
		if err != nil {
			t.Fatal(err)
		}
		if in, err := s.Session(ctx, half); err != nil || in.Stage != auth.StagePassword {
			t.Fatalf("half session: %+v %v", in, err)
		}
		if _, err := s.VerifyTOTP(ctx, half, "000000"); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Fatalf("wrong code: %v", err)
		}
		code, _ := auth.CurrentTOTP(acct.Secret, clock)
		full, err := s.VerifyTOTP(ctx, half, code)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Session(ctx, half); err == nil {
			t.Fatal("the pre-TOTP token still works after sign-in")
		}
		in, err := s.Session(ctx, full)
		if err != nil || in.Stage != auth.StageFull || !in.Staff.MustChangePassword {
			t.Fatalf("full session: %+v %v", in, err)
		}
		// The same code cannot sign in a second time.
		half2, _ := s.Login(ctx, "reviewer@example.test", acct.Password)
		if _, err := s.VerifyTOTP(ctx, half2, code); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Fatalf("replayed code: %v", err)
		}
		// Idle sessions end.
		clock = clock.Add(31 * time.Minute)
		if _, err := s.Session(ctx, full); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Fatalf("idle session: %v", err)
		}
	})
}

func TestAPIKeysAreShownOnceAndStoredAsHashes(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, storetest.SQLiteDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k, secret, err := auth.CreateAPIKey(ctx, db, "dating-app", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var stored int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM api_keys WHERE secret_hash = $1`, []byte(secret)).Scan(&stored)
	if stored != 0 {
		t.Fatal("the secret itself is in the database")
	}
	if got, err := auth.CheckAPIKey(ctx, db, secret); err != nil || got.ID != k.ID {
		t.Fatalf("check: %v %v", got, err)
	}
	last := "A"
	if strings.HasSuffix(secret, "A") {
		last = "B" // the alteration must really alter
	}
	if _, err := auth.CheckAPIKey(ctx, db, secret[:len(secret)-1]+last); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
		t.Fatalf("altered key: %v", err)
	}
	db.RevokeAPIKey(ctx, k.ID, time.Now())
	if _, err := auth.CheckAPIKey(ctx, db, secret); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
		t.Fatalf("revoked key: %v", err)
	}
}
