package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// throttleFixture is staff sign-in over a real database, with a clock the
// test moves and the alerts it raises recorded.
type throttleFixture struct {
	t      *testing.T
	db     *store.DB
	staff  *auth.Staff
	now    time.Time
	mu     sync.Mutex
	alerts []string // kind + " " + detail["scope"] or detail["reason"]
}

func newThrottleFixture(t *testing.T, dsn string) *throttleFixture {
	t.Helper()
	db, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &throttleFixture{t: t, db: db, now: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}
	f.staff = f.replica(newVault(t))
	return f
}

// replica is another server over the same database: what one counts, the
// other sees.
func (f *throttleFixture) replica(sealer auth.FieldSealer) *auth.Staff {
	clock := func() time.Time { return f.now }
	s := auth.NewStaff(f.db, sealer, &audit.Log{DB: f.db, Now: clock})
	s.PasswordCost = cheapCost
	s.Now = clock
	s.Alert = func(ctx context.Context, tx *store.Tx, kind, staffID string, detail map[string]string) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.alerts = append(f.alerts, kind+" "+detail["scope"]+detail["reason"])
		return nil
	}
	return s
}

func (f *throttleFixture) alertsRaised() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{}, f.alerts...)
}

// from is a request context from one client address (its audit origin).
func from(addr string) context.Context {
	return audit.WithOrigin(context.Background(), "origin-of-"+addr)
}

// account adds a staff member whose password is known to the test.
func (f *throttleFixture) account(email string) *auth.NewAccount {
	f.t.Helper()
	acct, err := f.staff.Add(context.Background(), email, kakunin.RoleAdmin)
	if err != nil {
		f.t.Fatal(err)
	}
	return acct
}

func retryAfter(err error) (time.Duration, bool) {
	var te *auth.ThrottledError
	if !errors.As(err, &te) || kakunin.ErrorCode(err) != kakunin.ERATELIMIT {
		return 0, false
	}
	return te.RetryAfter, true
}

// 300 guesses from one address, each at a different address typed in (so
// only the client count applies), spread over two replicas: the first
// ClientAttempts are answered, every other one is refused with a
// Retry-After that ends with the window, and the address gets in again
// after it.
func TestGuessesFromOneAddressAreRefusedAfterTheLimit(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newThrottleFixture(t, dsn)
		other := f.replica(f.staff.Sealer)
		limit, window := f.staff.Throttle.ClientAttempts, f.staff.Throttle.ClientWindow
		ctx := from("203.0.113.7")
		answered, refused := 0, 0
		for i := range 300 {
			s := f.staff
			if i%2 == 1 {
				s = other
			}
			_, err := s.Login(ctx, fmt.Sprintf("guess%d@example.test", i), "password123")
			if d, ok := retryAfter(err); ok {
				refused++
				if d <= 0 || d > window {
					t.Fatalf("guess %d: Retry-After %s, want within the %s window", i, d, window)
				}
				continue
			}
			if kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
				t.Fatalf("guess %d: %v", i, err)
			}
			answered++
			f.now = f.now.Add(time.Second)
		}
		if answered != limit || refused != 300-limit {
			t.Fatalf("%d guesses answered, %d refused; want %d and %d", answered, refused, limit, 300-limit)
		}
		// Another address is not held back by this one.
		if _, err := f.staff.Login(from("198.51.100.1"), "someone@example.test", "x"); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Fatalf("another address: %v", err)
		}
		f.now = f.now.Add(window)
		if _, err := f.staff.Login(ctx, "later@example.test", "x"); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Fatalf("after the window: %v, want an ordinary answer", err)
		}
		if got := f.alertsRaised(); len(got) != 1 || got[0] != alert.KindLoginThrottled+" client" {
			t.Fatalf("alerts %v, want one client throttle alert", got)
		}
	})
}

// Wrong passwords for one account from many addresses slow that account
// down (growing delay, Retry-After) but never lock it: the owner, waiting
// out the delay, signs in with password and code.
func TestWrongPasswordsFromManyAddressesNeverLockTheAccount(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newThrottleFixture(t, dsn)
		acct := f.account("admin@example.test")
		answered, refused := 0, 0
		var lastWait time.Duration
		for i := range 200 {
			_, err := f.staff.Login(from(fmt.Sprintf("192.0.2.%d", i%100)), "admin@example.test", fmt.Sprintf("guess %d", i))
			if d, ok := retryAfter(err); ok {
				refused++
				lastWait = d
			} else if kakunin.ErrorCode(err) == kakunin.EUNAUTHORIZED {
				answered++
			} else {
				t.Fatalf("guess %d: %v", i, err)
			}
			f.now = f.now.Add(500 * time.Millisecond)
		}
		if refused == 0 || answered >= 50 {
			t.Fatalf("%d wrong passwords answered, %d refused: the account was not slowed down", answered, refused)
		}
		if lastWait > f.staff.Throttle.AccountMaxDelay {
			t.Fatalf("Retry-After %s beyond the cap %s", lastWait, f.staff.Throttle.AccountMaxDelay)
		}
		rec, err := f.db.StaffByEmail(context.Background(), "admin@example.test")
		if err != nil || rec.LockedAt != nil {
			t.Fatalf("account after 200 wrong passwords: locked %v, %v; want not locked", rec.LockedAt, err)
		}

		f.now = f.now.Add(f.staff.Throttle.AccountMaxDelay)
		owner := from("198.51.100.20")
		half, err := f.staff.Login(owner, "admin@example.test", acct.Password)
		if err != nil {
			t.Fatalf("the owner after the delay: %v", err)
		}
		code, _ := auth.CurrentTOTP(acct.Secret, f.now)
		if _, err := f.staff.VerifyTOTP(owner, half, code); err != nil {
			t.Fatalf("the owner's code: %v", err)
		}
		if got := f.alertsRaised(); len(got) != 1 || got[0] != alert.KindLoginThrottled+" account" {
			t.Fatalf("alerts %v, want one account throttle alert", got)
		}
	})
}

// The right password followed by LockAfter wrong codes is evidence the
// password is known: the account locks, its sessions end, the lock is
// audited and admins are alerted.
func TestRightPasswordThenRepeatedWrongCodesLockTheAccountAndAlert(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		f := newThrottleFixture(t, dsn)
		acct := f.account("reviewer@example.test")
		ctx := from("203.0.113.9")
		half, err := f.staff.Login(ctx, "reviewer@example.test", acct.Password)
		if err != nil {
			t.Fatal(err)
		}
		n := f.staff.LockAfter
		for i := 1; i <= n; i++ {
			_, err := f.staff.VerifyTOTP(ctx, half, "000000")
			want := kakunin.EUNAUTHORIZED
			if i == n {
				want = kakunin.EFORBIDDEN
			}
			if kakunin.ErrorCode(err) != want {
				t.Fatalf("wrong code %d: %v, want %s", i, err, want)
			}
			f.now = f.now.Add(time.Second)
		}
		rec, err := f.db.StaffByEmail(context.Background(), "reviewer@example.test")
		if err != nil || rec.LockedAt == nil {
			t.Fatalf("account after %d wrong codes: %+v, %v; want locked", n, rec, err)
		}
		if _, err := f.staff.Session(ctx, half); err == nil {
			t.Fatal("the half session outlived the lock")
		}
		if _, err := f.staff.Login(ctx, "reviewer@example.test", acct.Password); kakunin.ErrorCode(err) != kakunin.EFORBIDDEN {
			t.Fatalf("locked account, right password: %v, want EFORBIDDEN", err)
		}
		if got := f.alertsRaised(); len(got) != 1 || got[0] != alert.KindStaffLocked+" second_factor" {
			t.Fatalf("alerts %v, want one staff.locked alert", got)
		}
		var locks int
		if err := f.db.SQL().QueryRow(`SELECT COUNT(*) FROM audit_events WHERE action = 'staff.locked' AND subject = $1`, rec.ID).Scan(&locks); err != nil || locks != 1 {
			t.Fatalf("%d staff.locked events, %v; want 1", locks, err)
		}
	})
}
