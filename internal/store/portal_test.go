package store_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestASigninLinkWorksOnceAndANewOneRevokesTheOld(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openTest(t, dsn)
		now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
		m, _, _ := seed(t, db, now)
		old := &store.SigninLink{TokenHash: []byte("old-hash"), MemberID: m.ID, Via: "mail", CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
		if err := db.ReplaceSigninLink(ctx, old); err != nil {
			t.Fatal(err)
		}
		fresh := &store.SigninLink{TokenHash: []byte("new-hash"), MemberID: m.ID, Via: "handoff", CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute)}
		if err := db.ReplaceSigninLink(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UseSigninLink(ctx, old.TokenHash, now); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Errorf("revoked link: %v", err)
		}
		if ok, _ := db.SigninLinkUsable(ctx, fresh.TokenHash, now); !ok {
			t.Error("the new link is not usable")
		}
		l, err := db.UseSigninLink(ctx, fresh.TokenHash, now)
		if err != nil || l.MemberID != m.ID || l.Via != "handoff" {
			t.Fatalf("use: %+v %v", l, err)
		}
		if _, err := db.UseSigninLink(ctx, fresh.TokenHash, now); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Errorf("second use: %v", err)
		}
		late := &store.SigninLink{TokenHash: []byte("late-hash"), MemberID: m.ID, Via: "mail", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
		if err := db.ReplaceSigninLink(ctx, late); err != nil {
			t.Fatal(err)
		}
		if _, err := db.UseSigninLink(ctx, late.TokenHash, now.Add(time.Minute)); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Errorf("expired link: %v", err)
		}
		if n, err := db.PruneSigninLinks(ctx, now.Add(time.Hour)); err != nil || n != 2 {
			t.Errorf("prune: %d %v", n, err)
		}
	})
}

func TestMemberSessionsAreKeptApartAndEndTogether(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := openTest(t, dsn)
		now := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
		m, v, d := seed(t, db, now)
		for _, h := range []string{"s1", "s2"} {
			if err := db.InsertMemberSession(ctx, &store.MemberSession{TokenHash: []byte(h), MemberID: m.ID, CreatedAt: now, LastSeenAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.TouchMemberSession(ctx, []byte("s1"), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		s, err := db.MemberSessionByHash(ctx, []byte("s1"))
		if err != nil || s.MemberID != m.ID || !s.LastSeenAt.Equal(now.Add(time.Minute)) || !bytes.Equal(s.TokenHash, []byte("s1")) {
			t.Fatalf("session: %+v %v", s, err)
		}
		if _, err := db.Session(ctx, []byte("s1")); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Errorf("a member session was found among staff sessions: %v", err)
		}
		if err := db.DeleteMemberSessions(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.MemberSessionByHash(ctx, []byte("s2")); kakunin.ErrorCode(err) != kakunin.EUNAUTHORIZED {
			t.Errorf("after sign-out everywhere: %v", err)
		}
		vs, err := db.VerificationsOfMember(ctx, m.ID)
		if err != nil || len(vs) != 1 || vs[0].ID != v.ID {
			t.Errorf("verifications: %v %v", vs, err)
		}
		ds, err := db.DocumentsOfMember(ctx, m.ID)
		if err != nil || len(ds) != 1 || ds[0].ID != d.ID {
			t.Errorf("documents: %v %v", ds, err)
		}
	})
}
