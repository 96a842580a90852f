package auth_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/auth"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// rowBytes returns every column of the staff row, as the database holds it.
func rowBytes(t *testing.T, db *store.DB, id string) []byte {
	t.Helper()
	var email string
	var sealed, index []byte
	err := db.SQL().QueryRowContext(context.Background(), `SELECT email, email_sealed, email_index FROM staff WHERE id = $1`, id).Scan(&email, &sealed, &index)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Join([][]byte{[]byte(email), sealed, index}, []byte{0})
}

// Issue 17 #13: staff addresses are sealed like members' — no plaintext
// at rest — and an install's existing rows are sealed when it starts.
func TestStaffAddressesAreSealedAtRestAndOldRowsAreSealedAtStart(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// A row as an install before migration 00012 wrote it.
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO staff (id, email, role, password_hash, totp_sealed, must_change_password, created_at)
			VALUES ('stf_old', 'old.admin@example.jp', 'admin', 'h', $1, false, 1)`, []byte{1}); err != nil {
			t.Fatal(err)
		}
		s := auth.NewStaff(db, newVault(t), &audit.Log{DB: db, Now: time.Now})
		if n, err := db.SealStaffEmails(ctx); err != nil || n != 1 {
			t.Fatalf("sealing the old row: %d, %v", n, err)
		}
		if n, err := db.SealStaffEmails(ctx); err != nil || n != 0 {
			t.Fatalf("a second start sealed %d rows (%v)", n, err)
		}
		acct, err := s.Add(ctx, "New.Reviewer@Example.jp", kakunin.RoleReviewer)
		if err != nil {
			t.Fatal(err)
		}
		for id, addr := range map[string]string{"stf_old": "old.admin@example.jp", acct.Staff.ID: "new.reviewer@example.jp"} {
			raw := rowBytes(t, db, id)
			for _, part := range []string{addr, "old.admin", "new.reviewer", "example.jp"} {
				if bytes.Contains(bytes.ToLower(raw), []byte(part)) {
					t.Errorf("staff row %s holds %q in plaintext", id, part)
				}
			}
			got, err := db.StaffByEmail(ctx, " "+addr+" ")
			if err != nil || got.ID != id || got.Email != addr {
				t.Errorf("look-up of %s: %+v %v", addr, got, err)
			}
			if got, err := db.StaffByID(ctx, id); err != nil || got.Email != addr {
				t.Errorf("staff %s opens to %+v %v", id, got, err)
			}
		}
		if _, err := s.Add(ctx, "OLD.admin@example.JP", kakunin.RoleReviewer); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Errorf("a second account for an address already used: %v", err)
		}
		if email, err := db.ActiveAdminEmail(ctx, "stf_old"); err != nil || email != "old.admin@example.jp" {
			t.Errorf("the admin's address for alerts: %q %v", email, err)
		}
		list, err := s.List(ctx)
		if err != nil || len(list) != 2 || list[0].Email != "new.reviewer@example.jp" || list[1].Email != "old.admin@example.jp" {
			t.Errorf("the staff list, by address: %+v %v", list, err)
		}
	})
}
