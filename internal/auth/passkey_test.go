package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/auth/passkeytest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

const publicURL = "https://kakunin.example"

// passkeyFixture is one staff account on a real database, with a clock the
// test moves and the passkey service of https://kakunin.example.
type passkeyFixture struct {
	t     *testing.T
	ctx   context.Context
	db    *store.DB
	log   *audit.Log
	staff *auth.Staff
	pk    *auth.Passkeys
	acct  *auth.NewAccount
	now   time.Time
}

func newPasskeyFixture(t *testing.T, dsn string) *passkeyFixture {
	t.Helper()
	f := &passkeyFixture{t: t, ctx: context.Background(), now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	db, err := store.Open(f.ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f.db, f.log = db, &audit.Log{DB: db, Now: time.Now}
	f.staff = auth.NewStaff(db, newVault(t), f.log)
	f.staff.PasswordCost = cheapCost
	f.staff.Now = func() time.Time { return f.now }
	f.pk = auth.NewPasskeys(f.staff, publicURL)
	if err := f.pk.Available(); err != nil {
		t.Fatal(err)
	}
	if f.acct, err = f.staff.Add(f.ctx, "reviewer@example.test", kakunin.RoleReviewer); err != nil {
		t.Fatal(err)
	}
	return f
}

// half signs in with the password only.
func (f *passkeyFixture) half() string {
	f.t.Helper()
	tok, err := f.staff.Login(f.ctx, f.acct.Staff.Email, f.acct.Password)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// signIn signs in with the password and a TOTP code of a new time step.
func (f *passkeyFixture) signIn() string {
	f.t.Helper()
	f.now = f.now.Add(30 * time.Second)
	code, _ := auth.CurrentTOTP(f.acct.Secret, f.now)
	tok, err := f.staff.VerifyTOTP(f.ctx, f.half(), code)
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func (f *passkeyFixture) register(token string, a *passkeytest.Authenticator, name string) *store.Passkey {
	f.t.Helper()
	options, err := f.pk.BeginRegistration(f.ctx, token, name)
	if err != nil {
		f.t.Fatalf("begin registration: %v", err)
	}
	answer, err := a.Create(options)
	if err != nil {
		f.t.Fatalf("authenticator: %v", err)
	}
	key, err := f.pk.FinishRegistration(f.ctx, token, answer)
	if err != nil {
		f.t.Fatalf("finish registration: %v", err)
	}
	return key
}

// loginAnswer begins a passkey sign-in for a half session and has the
// authenticator answer it.
func (f *passkeyFixture) loginAnswer(half string, a *passkeytest.Authenticator) []byte {
	f.t.Helper()
	options, err := f.pk.BeginLogin(f.ctx, half)
	if err != nil {
		f.t.Fatalf("begin login: %v", err)
	}
	answer, err := a.Get(options)
	if err != nil {
		f.t.Fatalf("authenticator: %v", err)
	}
	return answer
}

func (f *passkeyFixture) failedLogins() int {
	f.t.Helper()
	rec, err := f.db.StaffByID(f.ctx, f.acct.Staff.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	return rec.FailedLogins
}

func (f *passkeyFixture) events(action string) []audit.Event {
	f.t.Helper()
	evs, err := f.log.List(f.ctx, audit.Filter{Action: action, Subject: f.acct.Staff.ID})
	if err != nil {
		f.t.Fatal(err)
	}
	return evs
}

func TestAPasskeySignsInInsteadOfTheTOTPCode(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newPasskeyFixture(t, dsn)
		phone := passkeytest.New(publicURL)
		full := f.signIn()
		key := f.register(full, phone, "  Work   phone ")
		if key.Name != "Work phone" || len(key.PublicKey) == 0 || key.Transports[0] != "internal" {
			t.Fatalf("stored passkey %+v", key)
		}
		if evs := f.events(audit.PasskeyAdded); len(evs) != 1 || evs[0].Detail["passkey"] != key.ID {
			t.Fatalf("registration audit: %+v", evs)
		}
		f.staff.Logout(f.ctx, full)

		f.now = f.now.Add(time.Minute)
		half := f.half()
		full, err := f.pk.FinishLogin(f.ctx, half, f.loginAnswer(half, phone))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.staff.Session(f.ctx, half); err == nil {
			t.Fatal("the half session still works after the passkey")
		}
		in, err := f.staff.Session(f.ctx, full)
		if err != nil || in.Stage != auth.StageFull || !in.ReauthAt.Equal(f.now) || !f.staff.Fresh(in) {
			t.Fatalf("full session: %+v %v", in, err)
		}
		evs := f.events(audit.StaffLogin)
		if last := evs[0]; last.Detail["factor"] != "passkey" || last.Detail["passkey"] != key.ID {
			t.Fatalf("sign-in audit: %+v", last)
		}
		keys, _ := f.pk.List(f.ctx, f.acct.Staff.ID)
		if len(keys) != 1 || keys[0].SignCount != 1 || keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(f.now) {
			t.Fatalf("after use: %+v", keys[0])
		}
		// A full session has nothing left to prove.
		if _, err := f.pk.BeginLogin(f.ctx, full); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("begin on a full session: %v", err)
		}
	})
}

func TestARefusedPasskeyCountsAsAFailedSignIn(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newPasskeyFixture(t, dsn)
		phone := passkeytest.New(publicURL)
		f.register(f.signIn(), phone, "phone")
		first := f.half()
		used := f.loginAnswer(first, phone)
		if _, err := f.pk.FinishLogin(f.ctx, first, used); err != nil {
			t.Fatal(err)
		}

		half := f.half()
		cases := []struct {
			name   string
			answer func() []byte
		}{
			{"an answer that already signed in", func() []byte { f.pk.BeginLogin(f.ctx, half); return used }},
			{"an answer to a ceremony begun again since", func() []byte {
				b := f.loginAnswer(half, phone)
				f.pk.BeginLogin(f.ctx, half)
				return b
			}},
			{"garbage", func() []byte { f.pk.BeginLogin(f.ctx, half); return []byte(`{"id":"x"}`) }},
			{"another site's origin", func() []byte {
				phished := phone.Clone()
				phished.Origin = "https://kakunin-example.evil"
				return f.loginAnswer(half, phished)
			}},
			{"too late", func() []byte {
				b := f.loginAnswer(half, phone)
				f.now = f.now.Add(4 * time.Minute)
				return b
			}},
			{"no ceremony at all", func() []byte { return f.loginAnswer(f.half(), phone) }},
		}
		f.staff.LockAfter = len(cases) + 1 // counted here, not locked
		for i, c := range cases {
			answer := c.answer()
			before := f.failedLogins()
			if _, err := f.pk.FinishLogin(f.ctx, half, answer); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := f.failedLogins(); got != before+1 {
				t.Errorf("%s: failed logins %d → %d", c.name, before, got)
			}
			if in, err := f.staff.Session(f.ctx, half); err != nil || in.Stage != auth.StagePassword {
				t.Fatalf("%s: the half session did not survive a refused passkey: %v", c.name, err)
			}
			if evs := f.events(audit.StaffLoginFailed); len(evs) != i+1 || evs[0].Detail["reason"] != "bad_passkey" {
				t.Fatalf("%s: failure audit %+v", c.name, evs)
			}
		}
		// The passkey itself still works, and a success clears the count.
		if _, err := f.pk.FinishLogin(f.ctx, half, f.loginAnswer(half, phone)); err != nil {
			t.Fatal(err)
		}
		if n := f.failedLogins(); n != 0 {
			t.Errorf("failed logins after a sign-in: %d", n)
		}
	})
}

func TestACeremonyBelongsToTheSessionThatBeganIt(t *testing.T) {
	f := newPasskeyFixture(t, storetest.SQLiteDSN(t))
	phone := passkeytest.New(publicURL)
	f.register(f.signIn(), phone, "phone")
	first, second := f.half(), f.half()
	answer := f.loginAnswer(first, phone)
	if _, err := f.pk.FinishLogin(f.ctx, second, answer); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
		t.Fatalf("another session's ceremony answered: %v", err)
	}
	if _, err := f.pk.FinishLogin(f.ctx, first, answer); err != nil {
		t.Fatalf("the session that began it: %v", err)
	}
	// A registration's challenge cannot be answered as a sign-in's.
	full := f.signIn()
	options, err := f.pk.BeginRegistration(f.ctx, full, "laptop")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := passkeytest.New(publicURL).Create(options); err != nil {
		t.Fatal(err)
	}
	if err := f.pk.FinishReauth(f.ctx, full, answer); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
		t.Fatalf("a registration ceremony answered as re-authentication: %v", err)
	}
}

func TestACloneOfAPasskeyIsRefused(t *testing.T) {
	f := newPasskeyFixture(t, storetest.SQLiteDSN(t))
	phone := passkeytest.New(publicURL)
	f.register(f.signIn(), phone, "phone")
	clone := phone.Clone()
	half := f.half()
	if _, err := f.pk.FinishLogin(f.ctx, half, f.loginAnswer(half, phone)); err != nil {
		t.Fatal(err)
	}
	half = f.half()
	if _, err := f.pk.FinishLogin(f.ctx, half, f.loginAnswer(half, clone)); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
		t.Fatalf("a cloned authenticator signed in: %v", err)
	}
	if evs := f.events(audit.StaffLoginFailed); len(evs) != 1 || evs[0].Detail["reason"] != "bad_passkey_counter" {
		t.Fatalf("clone audit: %+v", evs)
	}
}

func TestRepeatedRefusedPasskeysLockTheAccount(t *testing.T) {
	f := newPasskeyFixture(t, storetest.SQLiteDSN(t))
	f.staff.LockAfter = 3
	f.register(f.signIn(), passkeytest.New(publicURL), "phone")
	half := f.half()
	for i := range 3 {
		_, err := f.pk.FinishLogin(f.ctx, half, []byte(`{}`))
		if want := map[bool]string{true: kakunin.EFORBIDDEN, false: kakunin.EUNAUTHORIZED}[i == 2]; kakunin.ErrorCode(err) != want {
			t.Fatalf("refusal %d: %v, want %s", i+1, err, want)
		}
	}
	// The lock ended the half session too.
	if _, err := f.pk.BeginLogin(f.ctx, half); err == nil {
		t.Fatal("a locked account began a passkey sign-in")
	}
}

func TestAddingAPasskeyNeedsAFreshSecondFactor(t *testing.T) {
	f := newPasskeyFixture(t, storetest.SQLiteDSN(t))
	full := f.signIn()
	if _, err := f.pk.BeginRegistration(f.ctx, f.half(), "phone"); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
		t.Fatalf("a half session began a registration: %v", err)
	}
	for _, bad := range []string{"", "   ", string(make([]rune, auth.MaxPasskeyName+1))} {
		if _, err := f.pk.BeginRegistration(f.ctx, full, bad); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	options, err := f.pk.BeginRegistration(f.ctx, full, "phone")
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := passkeytest.New(publicURL).Create(options)
	f.now = f.now.Add(f.staff.ReauthAfter + time.Second)
	if _, err := f.pk.FinishRegistration(f.ctx, full, answer); kakunin.ErrorCode(err) != kakunin.EFORBIDDEN {
		t.Fatalf("a stale session finished a registration: %v", err)
	}
	if _, err := f.pk.BeginRegistration(f.ctx, full, "phone"); kakunin.ErrorCode(err) != kakunin.EFORBIDDEN {
		t.Fatalf("a stale session began a registration: %v", err)
	}
}

func TestOneAuthenticatorIsRegisteredOnce(t *testing.T) {
	f := newPasskeyFixture(t, storetest.SQLiteDSN(t))
	phone := passkeytest.New(publicURL)
	full := f.signIn()
	f.register(full, phone, "phone")
	options, err := f.pk.BeginRegistration(f.ctx, full, "phone again")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := phone.Create(options); err == nil {
		t.Fatal("the registered passkey was not excluded")
	}
	// A browser that ignores the exclusion is refused by the store.
	answer, _ := passkeytest.New(publicURL).Create(options)
	if _, err := f.pk.FinishRegistration(f.ctx, full, answer); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pk.FinishRegistration(f.ctx, full, answer); kakunin.ErrorCode(err) != kakunin.EINVALID {
		t.Fatalf("the same answer registered twice: %v", err)
	}
}

func TestAPasskeyProvesTheSecondFactorAgain(t *testing.T) {
	f := newPasskeyFixture(t, storetest.SQLiteDSN(t))
	phone := passkeytest.New(publicURL)
	full := f.signIn()
	key := f.register(full, phone, "phone")
	f.now = f.now.Add(f.staff.ReauthAfter + time.Minute)
	if in, _ := f.staff.Session(f.ctx, full); f.staff.Fresh(in) {
		t.Fatal("fresh after the window")
	}
	options, err := f.pk.BeginReauth(f.ctx, full)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := phone.Get(options)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.pk.FinishReauth(f.ctx, full, answer); err != nil {
		t.Fatal(err)
	}
	if in, _ := f.staff.Session(f.ctx, full); !f.staff.Fresh(in) {
		t.Fatal("not fresh after the passkey")
	}
	if evs := f.events(audit.StaffReauth); len(evs) != 1 || evs[0].Detail["factor"] != "passkey" || evs[0].Detail["passkey"] != key.ID {
		t.Fatalf("reauth audit: %+v", evs)
	}
	if err := f.pk.FinishReauth(f.ctx, full, answer); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
		t.Fatalf("a replayed answer: %v", err)
	}
	if evs := f.events(audit.StaffLoginFailed); len(evs) != 1 || evs[0].Detail["reason"] != "bad_passkey_reauth" {
		t.Fatalf("refused reauth audit: %+v", evs)
	}
	if _, err := f.pk.BeginReauth(f.ctx, f.half()); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
		t.Fatalf("a half session began a re-authentication: %v", err)
	}
}

func TestRemovingAPasskeyLeavesTOTP(t *testing.T) {
	f := newPasskeyFixture(t, storetest.SQLiteDSN(t))
	full := f.signIn()
	key := f.register(full, passkeytest.New(publicURL), "phone")
	other, err := f.staff.Add(f.ctx, "other@example.test", kakunin.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.pk.Remove(f.ctx, other.Staff.ID, key.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
		t.Fatalf("removed another's passkey: %v", err)
	}
	if err := f.pk.Remove(f.ctx, f.acct.Staff.ID, key.ID); err != nil {
		t.Fatal(err)
	}
	if has, err := f.pk.Has(f.ctx, f.acct.Staff.ID); has || err != nil {
		t.Fatalf("still has a passkey: %v %v", has, err)
	}
	if evs := f.events(audit.PasskeyRemoved); len(evs) != 1 || evs[0].Detail["passkey"] != key.ID {
		t.Fatalf("removal audit: %+v", evs)
	}
	if _, err := f.pk.BeginLogin(f.ctx, f.half()); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
		t.Fatalf("begin without a passkey: %v", err)
	}
	f.signIn() // TOTP still works
}

func TestPasskeysNeedAHostNameNotAnIPAddress(t *testing.T) {
	for url, ok := range map[string]bool{
		"https://kakunin.example": true, "http://localhost:8080": true, "https://id.example.jp/kakunin": true,
		"http://127.0.0.1:8080": false, "http://[::1]:8080": false, "": false,
	} {
		if err := auth.NewPasskeys(nil, url).Available(); (err == nil) != ok {
			t.Errorf("%q: available = %v (%v)", url, err == nil, err)
		}
	}
	var none *auth.Passkeys
	if none.Available() == nil {
		t.Error("a nil service says it is available")
	}
}
