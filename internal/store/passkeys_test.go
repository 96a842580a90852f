package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func addStaff(t *testing.T, db *store.DB, email string, now time.Time) *store.StaffRecord {
	t.Helper()
	s := &store.StaffRecord{ID: kakunin.NewID("stf"), Email: email, Role: kakunin.RoleReviewer, PasswordHash: "x", TOTPSealed: []byte{1}, CreatedAt: now}
	if err := db.InsertStaff(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPasskeysAreStoredPerStaffMemberOnEveryEngine(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openTest(t, dsn)
		now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
		me, other := addStaff(t, db, "me@example.test", now), addStaff(t, db, "other@example.test", now)
		k := &store.Passkey{ID: kakunin.NewID("pk"), StaffID: me.ID, CredentialID: []byte{1, 2, 3}, PublicKey: []byte{4}, SignCount: 1<<32 - 1,
			Transports: []string{"internal", "hybrid"}, AAGUID: make([]byte, 16), AttestationType: "none", AttestationFormat: "none",
			UserVerified: true, BackupEligible: true, Name: "phone", CreatedAt: now}
		if err := db.InsertPasskey(ctx, k); err != nil {
			t.Fatal(err)
		}
		dup := *k
		dup.ID, dup.StaffID = kakunin.NewID("pk"), other.ID
		if err := db.InsertPasskey(ctx, &dup); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("a credential registered twice: %v", err)
		}
		if err := db.UsePasskey(ctx, k.ID, 7, true, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		keys, err := db.PasskeysOfStaff(ctx, me.ID)
		if err != nil || len(keys) != 1 {
			t.Fatalf("passkeys: %v %v", keys, err)
		}
		got := keys[0]
		if got.SignCount != 7 || !got.BackupState || !got.BackupEligible || !got.UserVerified || len(got.Transports) != 2 ||
			got.LastUsedAt == nil || !got.LastUsedAt.Equal(now.Add(time.Hour)) || string(got.CredentialID) != "\x01\x02\x03" {
			t.Fatalf("read back %+v", got)
		}
		if err := db.DeletePasskey(ctx, other.ID, k.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("another's passkey deleted: %v", err)
		}
		if err := db.DeletePasskey(ctx, me.ID, k.ID); err != nil {
			t.Fatal(err)
		}
		if keys, _ := db.PasskeysOfStaff(ctx, me.ID); len(keys) != 0 {
			t.Fatalf("after delete: %v", keys)
		}
	})
}

func TestAWebAuthnChallengeIsTakenOnceOnEveryEngine(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openTest(t, dsn)
		now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
		me := addStaff(t, db, "me@example.test", now)
		put := func(token, purpose string, expires time.Time) {
			t.Helper()
			err := db.PutWebAuthnChallenge(ctx, &store.WebAuthnChallenge{TokenHash: []byte(token), Purpose: purpose, StaffID: me.ID,
				SessionData: []byte(`{"session":{}}`), ExpiresAt: expires}, now)
			if err != nil {
				t.Fatal(err)
			}
		}
		take := func(token, purpose string) error {
			_, err := db.TakeWebAuthnChallenge(ctx, []byte(token), purpose, now)
			return err
		}
		put("a", "login", now.Add(time.Minute))
		if err := take("a", "login"); err != nil {
			t.Fatal(err)
		}
		if err := take("a", "login"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("taken twice: %v", err)
		}
		// A new ceremony replaces the session's earlier one.
		put("b", "register", now.Add(time.Minute))
		put("b", "login", now.Add(time.Minute))
		if err := take("b", "register"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("a replaced ceremony answered: %v", err)
		}
		// A wrong purpose uses the ceremony up all the same.
		if err := take("b", "login"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("a ceremony survived an answer for another purpose: %v", err)
		}
		put("c", "login", now)
		if err := take("c", "login"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("an expired ceremony answered: %v", err)
		}
		// Expired ceremonies are cleared when another begins.
		put("d", "login", now.Add(-time.Second))
		put("e", "login", now.Add(time.Minute))
		var n int
		db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM staff_webauthn_challenges`).Scan(&n)
		if n != 1 {
			t.Fatalf("%d ceremonies stored, want only the live one", n)
		}
	})
}
