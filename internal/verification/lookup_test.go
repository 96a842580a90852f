package verification_test

import (
	"strings"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestLookupFindsAVerificationByIDOrAMembersByExternalIDAndSaysWhoLeft(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		for _, id := range []string{"m1", "m2"} {
			if _, _, err := e.Verifications.UpsertMember(e.ctx, id, id+"@example.jp", kakunin.LocaleJA); err != nil {
				t.Fatal(err)
			}
		}
		first, _, err := e.Verifications.Create(e.ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		// The first link expired unused: a member has one open verification
		// at a time, so the second opens only then.
		e.Clock.Set(first.ExpiresAt)
		second, _, err := e.Verifications.Create(e.ctx, "m1")
		if err != nil {
			t.Fatal(err)
		}
		gone, _, err := e.Verifications.Create(e.ctx, "m2")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Verifications.MemberLeft(e.ctx, "m2"); err != nil {
			t.Fatal(err)
		}

		ids := func(vs []*kakunin.Verification) string {
			var out []string
			for _, v := range vs {
				out = append(out, v.ID)
			}
			return strings.Join(out, ",")
		}
		for _, tc := range []struct {
			name, q  string
			want     string
			wantLeft bool
		}{
			{"by verification ID", first.ID, first.ID, false},
			{"by external ID, newest first", "m1", second.ID + "," + first.ID, false},
			{"of a member who left", "m2", gone.ID, true},
			{"an unknown verification ID", "ver_nothing", "", false},
			{"an unknown member", "nobody", "", false},
		} {
			vs, left, err := e.Verifications.Lookup(e.ctx, tc.q)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if got := ids(vs); got != tc.want {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
			if left != tc.wantLeft {
				t.Errorf("%s: member left = %v, want %v", tc.name, left, tc.wantLeft)
			}
		}
		if _, _, err := e.Verifications.Lookup(e.ctx, strings.Repeat("x", 201)); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("an over-long look-up = %v, want EINVALID", err)
		}
	})
}

func TestMemberIDNamesTheRegisteredMemberAndRefusesAnUnknownOne(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		m, _, err := e.Verifications.UpsertMember(e.ctx, "m1", "m1@example.jp", kakunin.LocaleJA)
		if err != nil {
			t.Fatal(err)
		}
		if id, err := e.Verifications.MemberID(e.ctx, "m1"); err != nil || id != m.ID {
			t.Errorf("MemberID(m1) = %q, %v; want %q", id, err, m.ID)
		}
		if _, err := e.Verifications.MemberID(e.ctx, "nobody"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("MemberID(nobody) = %v, want ENOTFOUND", err)
		}
	})
}
