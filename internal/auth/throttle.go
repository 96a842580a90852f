package auth

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/alert"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/vault"
)

// Throttle slows password and code guessing without handing an attacker a
// switch that locks staff out. Two counts are kept, in the database so
// that every replica sees them:
//
//   - per client address (the request's audit origin, a keyed hash): at
//     most ClientAttempts failed steps (password or code) in ClientWindow;
//     the next is refused until the oldest leaves the window.
//   - per account (the keyed hash of the address typed in, known account
//     or not, so the answer says nothing about who is staff): after
//     AccountFree failed passwords in a row, each next attempt must wait
//     a delay that doubles per failure, up to AccountMaxDelay. A refused
//     attempt is not counted, so an attacker cannot push the delay past
//     its cap, and the owner gets in once it has passed.
//
// Neither locks the account. Only evidence that the password is known —
// LockAfter wrong second factors in a row after the right password — does.
type Throttle struct {
	ClientAttempts  int
	ClientWindow    time.Duration
	AccountFree     int
	AccountMaxDelay time.Duration
	// AccountWindow is how long a failed password counts toward the
	// account's back-off; it also bounds what is kept.
	AccountWindow time.Duration
}

// DefaultThrottle: 20 failed steps per client address per 15 minutes;
// back-off after 5 wrong passwords in a row, from 1 second doubling to 5
// minutes; failures forgotten after a day.
func DefaultThrottle() Throttle {
	return Throttle{ClientAttempts: 20, ClientWindow: 15 * time.Minute,
		AccountFree: 5, AccountMaxDelay: 5 * time.Minute, AccountWindow: 24 * time.Hour}
}

// delay is how long after its last failure an account with n failures in a
// row waits: nothing up to AccountFree, then 1s, 2s, 4s… up to the cap.
func (t Throttle) delay(n int) time.Duration {
	if n < t.AccountFree {
		return 0
	}
	exp := n - t.AccountFree
	if exp > 30 {
		return t.AccountMaxDelay
	}
	return min(time.Duration(math.Pow(2, float64(exp)))*time.Second, t.AccountMaxDelay)
}

// Throttle scopes, stored in login_attempts.
const (
	scopeClient  = "client"
	scopeAccount = "account"
)

// ThrottledError refuses a sign-in step for now. Its code is ERATELIMIT;
// RetryAfter is when the same step may be tried again.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return "kakunin: " + kakunin.ERATELIMIT + ": too many sign-in attempts; try again in " + e.RetryAfter.String()
}

// Unwrap gives the error its code for kakunin.ErrorCode.
func (e *ThrottledError) Unwrap() error {
	return kakunin.Errorf(kakunin.ERATELIMIT, "too many sign-in attempts; please wait and try again")
}

// RetryAfterSeconds is the Retry-After header's value: whole seconds,
// rounded up, at least 1.
func (e *ThrottledError) RetryAfterSeconds() string {
	return strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter.Seconds()))))
}

// attempt is a sign-in step the throttle let through. Its rows count as
// failures until passed uncounts them.
type attempt struct {
	ids     []string
	account *store.LoginKey
	// crossed holds the alert details of the limits this step reaches if
	// it fails: the alert is raised with the failure, not before.
	crossed []map[string]string
}

// accountKey is the account scope's key for an address typed in.
func (s *Staff) accountKey(email string) store.LoginKey {
	h := s.Sealer.BlindIndex(vault.PurposeAuditStaffEmail, []byte(strings.ToLower(strings.TrimSpace(email))))
	return store.LoginKey{Scope: scopeAccount, Hash: hexPrefix(h)}
}

// admit asks the throttle whether a sign-in step may be tried now, and
// counts it as a failure at once (so replicas racing on one key cannot let
// more through than the limit). email is "" for a second-factor step,
// which only the client count covers; staffID names the account, if known,
// for the alert. A refusal is audited and returned as *ThrottledError.
func (s *Staff) admit(ctx context.Context, email, staffID string) (*attempt, error) {
	t := s.Throttle
	now := s.Now().UTC()
	origin := audit.OriginFrom(ctx)
	att := &attempt{}
	var refused *ThrottledError
	var reason string
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		var keys []store.LoginKey
		if origin != "" && t.ClientAttempts > 0 {
			k := store.LoginKey{Scope: scopeClient, Hash: origin}
			if err := tx.LockLoginKey(ctx, k, now); err != nil {
				return err
			}
			a, err := tx.LoginAttemptsSince(ctx, k, now.Add(-t.ClientWindow))
			if err != nil {
				return err
			}
			if a.N >= t.ClientAttempts {
				refused, reason = &ThrottledError{RetryAfter: a.First.Add(t.ClientWindow).Sub(now)}, "throttled_client"
			} else if a.N+1 == t.ClientAttempts {
				att.crossed = append(att.crossed, map[string]string{"scope": scopeClient, "attempts": strconv.Itoa(a.N + 1),
					"window": t.ClientWindow.String()})
			}
			keys = append(keys, k)
		}
		if email != "" && refused == nil {
			k := s.accountKey(email)
			if err := tx.LockLoginKey(ctx, k, now); err != nil {
				return err
			}
			a, err := tx.LoginAttemptsSince(ctx, k, now.Add(-t.AccountWindow))
			if err != nil {
				return err
			}
			if wait := a.Last.Add(t.delay(a.N)).Sub(now); a.N >= t.AccountFree && wait > 0 {
				refused, reason = &ThrottledError{RetryAfter: wait}, "throttled_account"
			} else if a.N+1 == t.AccountFree {
				att.crossed = append(att.crossed, map[string]string{"scope": scopeAccount, "failures": strconv.Itoa(a.N + 1),
					"max_delay": t.AccountMaxDelay.String()})
			}
			keys = append(keys, k)
			att.account = &k
		}
		if refused != nil {
			return s.failedTx(ctx, tx, staffID, email, reason)
		}
		for _, k := range keys {
			id := kakunin.NewID("lat")
			if err := tx.InsertLoginAttempt(ctx, id, k, now); err != nil {
				return err
			}
			att.ids = append(att.ids, id)
		}
		return tx.PruneLoginAttempts(ctx, now.Add(-max(t.AccountWindow, t.ClientWindow)))
	})
	if err != nil {
		return nil, fmt.Errorf("sign-in throttle: %w", err)
	}
	if refused != nil {
		return nil, refused
	}
	return att, nil
}

// passed uncounts an attempt that succeeded; clearAccount also forgets the
// account's earlier failures (the right password ends a run of wrong ones).
func (s *Staff) passed(ctx context.Context, att *attempt, clearAccount bool) error {
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteLoginAttempts(ctx, att.ids...); err != nil {
			return err
		}
		if clearAccount && att.account != nil {
			return tx.ClearLoginAttempts(ctx, *att.account)
		}
		return nil
	})
}

// stepFailed records a failed sign-in step: the audit event and, if the
// step reached a throttle's limit, the alert to admins, in one transaction.
// Its attempt rows stay counted.
func (s *Staff) stepFailed(ctx context.Context, att *attempt, staffID, email, reason string) error {
	return s.DB.WithTx(ctx, func(tx *store.Tx) error {
		return s.stepFailedTx(ctx, tx, att, staffID, email, reason)
	})
}

func (s *Staff) stepFailedTx(ctx context.Context, tx *store.Tx, att *attempt, staffID, email, reason string) error {
	if err := s.failedTx(ctx, tx, staffID, email, reason); err != nil {
		return err
	}
	if att == nil {
		return nil
	}
	for _, d := range att.crossed {
		if err := s.alert(ctx, tx, alert.KindLoginThrottled, staffID, d); err != nil {
			return err
		}
	}
	return nil
}

// secondFactorFailed records a wrong second factor after the right
// password: audited, counted, and at LockAfter in a row the account locks,
// its sessions end and admins are alerted, all in one transaction. It
// reports whether the account is now locked. att may be nil.
func (s *Staff) secondFactorFailed(ctx context.Context, att *attempt, staffID, reason string) (bool, error) {
	now := s.Now().UTC()
	locked := false
	err := s.DB.WithTx(ctx, func(tx *store.Tx) error {
		n, lockedNow, err := tx.RecordSecondFactorFailure(ctx, staffID, s.LockAfter, now)
		if err != nil {
			return err
		}
		if err := s.stepFailedTx(ctx, tx, att, staffID, "", reason); err != nil {
			return err
		}
		if !lockedNow {
			return nil
		}
		locked = true
		if err := tx.DeleteStaffSessions(ctx, staffID); err != nil {
			return err
		}
		detail := map[string]string{"reason": "second_factor", "failures": strconv.Itoa(n)}
		if err := s.Audit.AppendTx(ctx, tx, audit.Event{At: now, Action: audit.StaffLocked, Actor: "system", Subject: staffID,
			Origin: audit.OriginFrom(ctx), Detail: detail}); err != nil {
			return err
		}
		return s.alert(ctx, tx, alert.KindStaffLocked, staffID, detail)
	})
	return locked, err
}

// alert raises an alert to admins in tx, when the service was given a way to.
func (s *Staff) alert(ctx context.Context, tx *store.Tx, kind, staffID string, detail map[string]string) error {
	if s.Alert == nil {
		return nil
	}
	return s.Alert(ctx, tx, kind, staffID, detail)
}
