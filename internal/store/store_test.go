package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func openTest(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	db.UseStaffEmails(storetest.StaffEmails{})
	t.Cleanup(func() { db.Close() })
	return db
}

func seed(t *testing.T, db *store.DB, now time.Time) (*store.MemberRecord, *kakunin.Verification, *store.DocumentRecord) {
	t.Helper()
	ctx := context.Background()
	m := &store.MemberRecord{ID: kakunin.NewID("mem"), ExternalID: kakunin.NewID("ext"), EmailSealed: []byte{1}, EmailIndex: []byte{2}, Locale: kakunin.LocaleJA, CreatedAt: now, UpdatedAt: now}
	if err := db.InsertMember(ctx, m); err != nil {
		t.Fatal(err)
	}
	v := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: m.ID, Status: kakunin.StatusAwaitingUpload, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := db.InsertVerification(ctx, v); err != nil {
		t.Fatal(err)
	}
	d := &store.DocumentRecord{BlobKey: "documents/x/" + v.ID}
	d.ID, d.VerificationID, d.MemberID, d.Type = kakunin.NewID("doc"), v.ID, m.ID, kakunin.DocPassport
	d.ContentType, d.Size, d.Width, d.Height, d.Epoch = "image/jpeg", 10, 640, 480, "2026-11-25"
	d.WrappedKey, d.ReceivedAt, d.DestroyAfter = []byte("wrapped"), now, now.Add(7*24*time.Hour)
	err := db.WithTx(ctx, func(tx *store.Tx) error {
		if ok, err := tx.SetVerificationStatus(ctx, v.ID, kakunin.StatusAwaitingUpload, kakunin.StatusSubmitted, now); err != nil || !ok {
			t.Fatalf("submit: ok=%v err=%v", ok, err)
		}
		if _, err := tx.NoteEpoch(ctx, d.Epoch, now); err != nil {
			return err
		}
		return tx.InsertDocument(ctx, d)
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, v, d
}

func TestStoreKeepsTheVerificationLifecycleOnEveryEngine(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openTest(t, dsn)
		now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
		m, v, d := seed(t, db, now)

		got, err := db.MemberByExternalID(ctx, m.ExternalID)
		if err != nil || got.ID != m.ID || string(got.EmailSealed) != "\x01" {
			t.Fatalf("member by external id = %+v, %v", got, err)
		}
		if _, err := db.MemberByExternalID(ctx, "nobody"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("unknown member: %v", err)
		}

		// A second submit of the same link loses: links are single-use.
		if ok, _ := db.SetVerificationStatus(ctx, v.ID, kakunin.StatusAwaitingUpload, kakunin.StatusSubmitted, now); ok {
			t.Fatal("a used link was accepted twice")
		}

		// Two reviewers never get the same task.
		a, err := db.ClaimNextDocument(ctx, "stf_a", now)
		if err != nil || a == nil || a.ID != d.ID {
			t.Fatalf("claim = %v, %v", a, err)
		}
		if b, err := db.ClaimNextDocument(ctx, "stf_b", now); err != nil || b != nil {
			t.Fatalf("second claim = %v, %v", b, err)
		}
		if n, _ := db.WaitingCount(ctx, now); n != 0 {
			t.Fatalf("waiting = %d", n)
		}

		res := &kakunin.Result{Adult: kakunin.Bool(true), DocumentType: d.Type, DocumentName: "日本国旅券", Issuer: "外務省", CheckedAt: now, CheckedBy: "stf_a"}
		if ok, err := db.RecordDecision(ctx, v.ID, kakunin.StatusApproved, res); err != nil || !ok {
			t.Fatalf("decision: %v %v", ok, err)
		}
		gotV, err := db.Verification(ctx, v.ID)
		if err != nil || gotV.Status != kakunin.StatusApproved || gotV.Result == nil || gotV.Result.Adult == nil || !*gotV.Result.Adult || gotV.Result.Issuer != "外務省" || gotV.ExternalID != m.ExternalID {
			t.Fatalf("verification = %+v %+v, %v", gotV, gotV.Result, err)
		}

		// The epoch cannot be destroyed while its document lives.
		if e, _ := db.EpochsToDestroy(ctx, "2026-11-26"); len(e) != 0 {
			t.Fatalf("epochs to destroy with a live document: %v", e)
		}
		if err := db.SetDecided(ctx, d.ID, now, now); err != nil {
			t.Fatal(err)
		}
		due, err := db.DocumentsDue(ctx, now, 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("due = %v, %v", due, err)
		}
		if ok, err := db.DestroyDocumentKey(ctx, d.ID, now); err != nil || !ok {
			t.Fatalf("destroy: %v %v", ok, err)
		}
		gotD, _ := db.Document(ctx, d.ID)
		if gotD.WrappedKey != nil || gotD.DestroyedAt == nil {
			t.Fatalf("destroyed document still has its key: %+v", gotD)
		}
		if e, _ := db.EpochsToDestroy(ctx, "2026-11-25"); len(e) != 0 {
			t.Fatalf("today's epoch offered for destruction: %v", e)
		}
		if e, _ := db.EpochsToDestroy(ctx, "2026-11-26"); len(e) != 1 || e[0] != "2026-11-25" {
			t.Fatalf("epochs to destroy = %v", e)
		}
		if todo, _ := db.BlobsToDelete(ctx, 10); len(todo) != 1 {
			t.Fatalf("blobs to delete = %d", len(todo))
		}
	})
}

func TestExpiredLinksAreClosedOnEveryEngine(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openTest(t, dsn)
		now := time.Now().UTC()
		m, _, _ := seed(t, db, now)
		v := &kakunin.Verification{ID: kakunin.NewID("ver"), MemberID: m.ID, Status: kakunin.StatusAwaitingUpload, ExpiresAt: now.Add(-time.Second), CreatedAt: now, UpdatedAt: now}
		if err := db.InsertVerification(ctx, v); err != nil {
			t.Fatal(err)
		}
		ids, err := db.ExpireVerifications(ctx, now)
		if err != nil || len(ids) != 1 || ids[0] != v.ID {
			t.Fatalf("expired = %v, %v", ids, err)
		}
	})
}

func TestAStaffAddressIsUniqueRegardlessOfCase(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openTest(t, dsn)
		s := &store.StaffRecord{ID: kakunin.NewID("stf"), Email: "Rev@Example.test", Role: kakunin.RoleReviewer, PasswordHash: "h", TOTPSealed: []byte{1}, CreatedAt: time.Now()}
		if err := db.InsertStaff(ctx, s); err != nil {
			t.Fatal(err)
		}
		s2 := *s
		s2.ID = kakunin.NewID("stf")
		s2.Email = "rev@example.TEST"
		if err := db.InsertStaff(ctx, &s2); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("duplicate staff: %v", err)
		}
		now := time.Now()
		for i := 1; i <= 3; i++ {
			n, lockedNow, err := db.RecordSecondFactorFailure(ctx, s.ID, 3, now.Add(time.Duration(i)*time.Second))
			if err != nil || n != i || lockedNow != (i == 3) {
				t.Fatalf("failure %d: count %d, locked now %v, %v", i, n, lockedNow, err)
			}
		}
		got, _ := db.StaffByEmail(ctx, "REV@example.test")
		if got.LockedAt == nil {
			t.Fatal("account not locked after the failure limit")
		}
		if ok, _ := db.UseTOTPStep(ctx, s.ID, 100); !ok {
			t.Fatal("first use of a TOTP step refused")
		}
		if ok, _ := db.UseTOTPStep(ctx, s.ID, 100); ok {
			t.Fatal("replayed TOTP step accepted")
		}
	})
}
