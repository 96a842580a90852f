package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// Threads, messages, notes, links and SLA fields round-trip on both
// engines; a link opens only its own thread and nothing once revoked or
// expired; the erasure hook takes a member's threads and only theirs.
func TestInquiryThreadsRoundTripAndAreErasedWithTheirMember(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openTest(t, dsn)
		ctx := context.Background()
		now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
		m, _, _ := seed(t, db, now)
		due := now.Add(8 * time.Hour)
		mk := func(member string, index byte) *store.InquiryThread {
			th := &store.InquiryThread{ID: kakunin.NewID("inq"), Category: "incident", Status: "open", Locale: kakunin.LocaleJA,
				AddressSealed: []byte{9, index}, AddressIndex: []byte{index}, MemberID: member, CreatedAt: now, UpdatedAt: now, DueFirst: &due}
			if err := db.InsertInquiry(ctx, th); err != nil {
				t.Fatal(err)
			}
			for i, kind := range []string{"person", "note", "reply"} {
				msg := &store.InquiryMessage{ID: kakunin.NewID("msg"), ThreadID: th.ID, Kind: kind, Author: "person",
					BodySealed: []byte{byte(i)}, CreatedAt: now.Add(time.Duration(i) * time.Minute)}
				if err := db.InsertInquiryMessage(ctx, msg); err != nil {
					t.Fatal(err)
				}
			}
			return th
		}
		mine, byAddress, other := mk(m.ID, 1), mk("", 2), mk("", 3)
		got, err := db.Inquiry(ctx, mine.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.MemberID != m.ID || got.DueFirst == nil || !got.DueFirst.Equal(due) || got.DueNext != nil || got.Locale != kakunin.LocaleJA {
			t.Errorf("round trip: %+v", got)
		}
		got.Status, got.Assignee, got.Escalated, got.PausedAt = "waiting", "stf_x", "first", &now
		if err := db.UpdateInquiry(ctx, got); err != nil {
			t.Fatal(err)
		}
		if again, _ := db.Inquiry(ctx, mine.ID); again.Status != "waiting" || again.Assignee != "stf_x" || again.Escalated != "first" || again.PausedAt == nil {
			t.Errorf("update: %+v", again)
		}
		if msgs, _ := db.InquiryMessages(ctx, mine.ID, false); len(msgs) != 2 || msgs[0].Kind != "person" || msgs[1].Kind != "reply" {
			t.Errorf("the person's view holds %d messages", len(msgs))
		}
		if msgs, _ := db.InquiryMessages(ctx, mine.ID, true); len(msgs) != 3 {
			t.Errorf("the desk's view holds %d messages", len(msgs))
		}
		l := &store.InquiryLink{TokenHash: []byte("hash-of-token"), ThreadID: other.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.InsertInquiryLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		if id, err := db.InquiryByLink(ctx, l.TokenHash, now); err != nil || id != other.ID {
			t.Errorf("link: %q %v", id, err)
		}
		if _, err := db.InquiryByLink(ctx, l.TokenHash, now.Add(2*time.Hour)); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("expired link: %v", err)
		}
		if _, err := db.InquiryByLink(ctx, []byte("guess"), now); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("unknown link: %v", err)
		}
		if n, _ := db.RevokeInquiryLinks(ctx, other.ID, now); n != 1 {
			t.Errorf("revoked %d", n)
		}
		if _, err := db.InquiryByLink(ctx, l.TokenHash, now); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("revoked link: %v", err)
		}
		if q, _ := db.Inquiries(ctx, store.InquiryFilter{Status: "open"}); len(q) != 2 {
			t.Errorf("open queue: %d", len(q))
		}
		if total, overdue, err := db.InquiryCounts(ctx, "incident", now.Add(-time.Hour), now.Add(9*time.Hour)); err != nil || total != 3 || overdue != 2 {
			t.Errorf("counts: %d %d %v", total, overdue, err)
		}
		n, err := db.DeleteInquiriesOfMember(ctx, m.ID, []byte{2})
		if err != nil || n != 2 {
			t.Fatalf("erased %d threads: %v", n, err)
		}
		for _, th := range []*store.InquiryThread{mine, byAddress} {
			if _, err := db.Inquiry(ctx, th.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
				t.Errorf("thread %s survived the erasure: %v", th.ID, err)
			}
			if msgs, _ := db.InquiryMessages(ctx, th.ID, true); len(msgs) != 0 {
				t.Errorf("messages of %s survived", th.ID)
			}
		}
		if _, err := db.Inquiry(ctx, other.ID); err != nil {
			t.Errorf("another person's thread went too: %v", err)
		}
	})
}
