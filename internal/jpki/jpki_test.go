package jpki_test

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/jpki"
	"github.com/kakunin/kakunin/internal/jpki/jpkitest"
	"github.com/kakunin/kakunin/internal/servicetest"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
	"github.com/kakunin/kakunin/internal/verification"
	"github.com/kakunin/kakunin/internal/webhook"
)

const redirectURL = servicetest.PublicURL + jpki.CallbackPath

type env struct {
	*servicetest.Env
	t    *testing.T
	op   *jpkitest.OP
	jpki *jpki.Service
}

func newEnv(t *testing.T, dsn string) *env {
	t.Helper()
	e := &env{Env: servicetest.New(t, dsn, servicetest.Options{}), t: t, op: jpkitest.Start(t, redirectURL)}
	// The provider signs with the real clock; so does kakunin here.
	e.Clock.Set(time.Now().UTC())
	e.jpki = &jpki.Service{Config: jpki.Config{Issuer: e.op.Issuer, ClientID: e.op.ClientID, ClientSecret: e.op.ClientSecret,
		RedirectURL: redirectURL}, DB: e.DB, Audit: e.Audit, Jobs: e.Jobs, Now: e.Clock.Now, Log: e.Log}
	return e
}

// verification opens a verification for a new member.
func (e *env) verification(externalID string) *kakunin.Verification {
	e.t.Helper()
	if _, _, err := e.Verifications.UpsertMember(e.t.Context(), externalID, externalID+"@example.jp", kakunin.LocaleJA); err != nil {
		e.t.Fatal(err)
	}
	v, _, err := e.Verifications.Create(e.t.Context(), externalID)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// begin starts a flow and signs in at the provider as username: the
// callback's query and the browser's cookie.
func (e *env) begin(v *kakunin.Verification, username string) (url.Values, string) {
	e.t.Helper()
	authURL, browser, err := e.jpki.Begin(e.t.Context(), v)
	if err != nil {
		e.t.Fatal(err)
	}
	u, err := url.Parse(authURL)
	if err != nil {
		e.t.Fatal(err)
	}
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" ||
		q.Get("state") == "" || q.Get("response_type") != "code" || q.Get("scope") != "openid birthdate" {
		e.t.Fatalf("authorization request lacks PKCE S256, nonce, state, code flow or the two scopes: %s", u.RawQuery)
	}
	back := e.op.SignIn(e.t, authURL, username)
	if !strings.HasPrefix(back.String(), redirectURL+"?") {
		e.t.Fatalf("provider sent the browser to %s", back)
	}
	return back.Query(), browser
}

// with is e reporting to the subtest t.
func (e *env) with(t *testing.T) *env { c := *e; c.t = t; return &c }

func (e *env) stored(id string) *kakunin.Verification {
	e.t.Helper()
	v, err := e.DB.Verification(e.t.Context(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// audited returns the last event of action.
func (e *env) audited(action string) *store.AuditRecord {
	e.t.Helper()
	recs, err := e.DB.AuditRecords(e.t.Context(), 0, 1<<62, 10000)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Action == action {
			return &recs[i]
		}
	}
	return nil
}

func (e *env) webhooks() []string {
	var types []string
	for _, j := range e.Jobs.All() {
		if d, ok := j.Args.(webhook.DeliverArgs); ok {
			types = append(types, d.Event.Type)
		}
	}
	return types
}

func TestAdultAndMinor(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		now := e.Clock.Now().In(kakunin.JST)
		// 18 today (JST) is adult; 18 tomorrow is not: the reviewer's rule.
		e.op.AddUser("adult", now.AddDate(-18, 0, 0).Format("2006-01-02"))
		e.op.AddUser("minor", now.AddDate(-18, 0, 1).Format("2006-01-02"))
		for _, c := range []struct {
			user  string
			adult bool
		}{{"adult", true}, {"minor", false}} {
			v := e.verification("m-" + c.user)
			q, browser := e.begin(v, c.user)
			got, err := e.jpki.Finish(t.Context(), q, browser)
			if err != nil {
				t.Fatalf("%s: %v", c.user, err)
			}
			s := e.stored(v.ID)
			r := s.Result
			if s.Status != kakunin.StatusApproved || r == nil || r.Adult == nil || *r.Adult != c.adult || r.Method != kakunin.MethodJPKIApp ||
				r.DocumentName != jpki.DocumentName || r.Issuer != jpki.IssuerName || r.CheckedBy != "" || r.BirthDate != "" ||
				r.CheckedAt.IsZero() || got.ID != v.ID {
				t.Fatalf("%s: stored %+v %+v", c.user, s, r)
			}
			ev := e.audited(jpki.ActionChecked)
			if ev == nil || ev.Subject != v.ID || !strings.Contains(ev.Detail, `"adult":"`) || strings.Contains(ev.Detail, "-0") {
				t.Fatalf("%s: audit event %+v", c.user, ev)
			}
		}
		if hooks := e.webhooks(); len(hooks) != 2 || hooks[0] != "verification.approved" {
			t.Fatalf("webhooks: %v", hooks)
		}
		// The birth date is nowhere in the database.
		var n int
		birth := now.AddDate(-18, 0, 0).Format("2006-01-02")
		err := e.DB.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM verifications WHERE birth_date IS NOT NULL OR document_name LIKE $1`, "%"+birth+"%").Scan(&n)
		if err != nil || n != 0 {
			t.Fatalf("birth date stored: %d %v", n, err)
		}
		var detail string
		e.DB.SQL().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM audit_events WHERE detail LIKE $1`, "%"+birth+"%").Scan(&n)
		if n != 0 {
			t.Fatalf("birth date in the audit log %s", detail)
		}
	})
}

func TestBirthdateFromUserInfo(t *testing.T) {
	e := newEnv(t, storetest.SQLiteDSN(t))
	e.op.AddUser("u", "1990-05-06")
	e.op.BirthdateInUserInfoOnly(true)
	v := e.verification("m")
	q, browser := e.begin(v, "u")
	if _, err := e.jpki.Finish(t.Context(), q, browser); err != nil {
		t.Fatal(err)
	}
	if r := e.stored(v.ID).Result; r == nil || r.Adult == nil || !*r.Adult {
		t.Fatalf("result %+v", r)
	}
}

// refused checks that err is a Refusal for reason, that it was audited
// with that reason, and that the verification is as it was.
func (e *env) refused(err error, reason string, v *kakunin.Verification) {
	e.t.Helper()
	var ref *jpki.Refusal
	if !errors.As(err, &ref) || ref.Reason != reason {
		e.t.Fatalf("want refusal %q, got %v", reason, err)
	}
	ev := e.audited(jpki.ActionRefused)
	if ev == nil || !strings.Contains(ev.Detail, `"reason":"`+reason+`"`) {
		e.t.Fatalf("refusal not audited as %q: %+v", reason, ev)
	}
	if v != nil {
		s := e.stored(v.ID)
		if s.Status != kakunin.StatusAwaitingUpload || s.Result != nil {
			e.t.Fatalf("refusal %q changed the verification: %+v", reason, s)
		}
	}
}

func TestRefusals(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.op.AddUser("adult", "1990-01-01")
		ctx := t.Context()

		t.Run("code and state used twice", func(t *testing.T) {
			e := e.with(t)
			v := e.verification("twice")
			q, browser := e.begin(v, "adult")
			if _, err := e.jpki.Finish(ctx, q, browser); err != nil {
				t.Fatal(err)
			}
			// The same answer again: its state is spent.
			_, err := e.jpki.Finish(ctx, q, browser)
			e.refused(err, jpki.ReasonState, nil)
			// The old code under a fresh, valid state: the provider
			// refuses the code (and the PKCE verifier is not its own).
			v2 := e.verification("twice-2")
			q2, browser2 := e.begin(v2, "adult")
			q2.Set("code", q.Get("code"))
			_, err = e.jpki.Finish(ctx, q2, browser2)
			e.refused(err, jpki.ReasonCode, v2)
		})

		t.Run("state from another session", func(t *testing.T) {
			e := e.with(t)
			v := e.verification("other-session")
			q, _ := e.begin(v, "adult")
			_, otherBrowser := e.begin(e.verification("other-session-2"), "adult")
			_, err := e.jpki.Finish(ctx, q, otherBrowser)
			e.refused(err, jpki.ReasonState, v)
			_, err = e.jpki.Finish(ctx, q, "")
			e.refused(err, jpki.ReasonState, v) // spent by the first try, whoever made it
			q.Set("state", "made-up")
			_, err = e.jpki.Finish(ctx, q, otherBrowser)
			e.refused(err, jpki.ReasonState, v)
		})

		n := 0
		tampered := func(name string, f func(idToken string) string) {
			n++
			t.Run(name, func(t *testing.T) {
				e := e.with(t)
				v := e.verification(fmt.Sprintf("tamper-%d", n))
				q, browser := e.begin(v, "adult")
				e.op.Tamper(f)
				defer e.op.Tamper(nil)
				_, err := e.jpki.Finish(ctx, q, browser)
				e.refused(err, jpki.ReasonToken, v)
			})
		}
		tampered("ID token for another client", func(tok string) string {
			return e.op.Resign(t, tok, func(c map[string]any) { c["aud"] = []string{e.op.OtherClientID}; c["azp"] = e.op.OtherClientID })
		})
		tampered("ID token for us and another, azp theirs", func(tok string) string {
			return e.op.Resign(t, tok, func(c map[string]any) {
				c["aud"] = []string{e.op.OtherClientID, e.op.ClientID}
				c["azp"] = e.op.OtherClientID
			})
		})
		tampered("bad signature", jpkitest.FlipSignature)
		tampered("ID token from another issuer", func(tok string) string {
			return e.op.Resign(t, tok, func(c map[string]any) { c["iss"] = "https://evil.example" })
		})
		tampered("signed by another key", func(tok string) string {
			key, _ := rsa.GenerateKey(rand.Reader, 2048)
			return jpkitest.SignWith(t, key, "not-the-providers", map[string]any{"iss": e.op.Issuer, "aud": e.op.ClientID,
				"sub": "x", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "birthdate": "1990-01-01"})
		})
		tampered("nonce of another flow", func(tok string) string {
			return e.op.Resign(t, tok, func(c map[string]any) { c["nonce"] = "another-flow" })
		})
		tampered("expired", func(tok string) string {
			return e.op.Resign(t, tok, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })
		})

		t.Run("issuer in the answer is another", func(t *testing.T) {
			e := e.with(t)
			v := e.verification("mixup")
			q, browser := e.begin(v, "adult")
			q.Set("iss", "https://other-provider.example")
			_, err := e.jpki.Finish(ctx, q, browser)
			e.refused(err, jpki.ReasonIssuer, v)
		})

		t.Run("member cancelled", func(t *testing.T) {
			e := e.with(t)
			v := e.verification("cancel")
			authURL, browser, err := e.jpki.Begin(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(authURL)
			q := url.Values{"state": {u.Query().Get("state")}, "error": {"access_denied"}}
			_, err = e.jpki.Finish(ctx, q, browser)
			e.refused(err, jpki.ReasonCancelled, v)
		})

		for i, bad := range []any{"1990/01/02", "19900102", "1990", "0000-01-02", "1990-02-30", "2990-01-01", 19900102,
			map[string]any{"y": 1990}, "１９９０-01-02", " 1990-01-02"} {
			user := "bad" + string(rune('a'+i))
			e.op.AddUser(user, bad)
			v := e.verification("bad-birthdate-" + user)
			q, browser := e.begin(v, user)
			_, err := e.jpki.Finish(ctx, q, browser)
			e.refused(err, jpki.ReasonClaims, v)
		}
		e.op.AddUser("nobirth", nil)
		v := e.verification("no-birthdate")
		q, browser := e.begin(v, "nobirth")
		_, err := e.jpki.Finish(ctx, q, browser)
		e.refused(err, jpki.ReasonClaims, v)

		t.Run("already decided", func(t *testing.T) {
			e := e.with(t)
			v := e.verification("decided")
			q, browser := e.begin(v, "adult")
			if _, err := e.DB.SetVerificationStatus(ctx, v.ID, kakunin.StatusAwaitingUpload, kakunin.StatusExpired, time.Now()); err != nil {
				t.Fatal(err)
			}
			_, err := e.jpki.Finish(ctx, q, browser)
			var ref *jpki.Refusal
			if !errors.As(err, &ref) || ref.Reason != jpki.ReasonDecided {
				t.Fatalf("got %v", err)
			}
			if s := e.stored(v.ID); s.Status != kakunin.StatusExpired || s.Result != nil {
				t.Fatalf("stored %+v", s)
			}
		})
	})
}

func TestProviderDown(t *testing.T) {
	e := newEnv(t, storetest.SQLiteDSN(t))
	e.jpki.Issuer = "http://127.0.0.1:1"
	_, _, err := e.jpki.Begin(t.Context(), e.verification("m"))
	var ref *jpki.Refusal
	if !errors.As(err, &ref) || ref.Reason != jpki.ReasonUnavailable {
		t.Fatalf("got %v", err)
	}
}

// Keep the verification package's webhook data in step: the method is in
// the result the host receives.
var _ = verification.EventData{}
