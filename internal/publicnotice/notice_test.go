package publicnotice_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/publicnotice"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func newService(t *testing.T, dsn string, now *time.Time) *publicnotice.Service {
	t.Helper()
	db, err := store.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := func() time.Time { return *now }
	return &publicnotice.Service{DB: db, Audit: &audit.Log{DB: db, Now: clock}, Now: clock}
}

var text = publicnotice.Text{TitleJA: "不正アクセスについて", TitleEN: "About unauthorised access",
	BodyJA: "第一段落。\n\n第二段落。", BodyEN: "First paragraph.\n\nSecond paragraph."}

func TestADraftIsPublishedOnceAndEditsMoveItsUpdatedTime(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		s := newService(t, dsn, &now)
		ctx := audit.WithActor(t.Context(), audit.StaffActor("stf_resp"))

		n, err := s.Create(ctx, text)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(n.ID, "ntc_") || n.PublishedAt != nil || n.CreatedBy != "staff:stf_resp" {
			t.Fatalf("created %+v", n)
		}
		if pub, err := s.Published(ctx); err != nil || len(pub) != 0 {
			t.Fatalf("a draft is published: %v %v", pub, err)
		}
		if _, err := s.GetPublished(ctx, n.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("draft by ID: %v", err)
		}

		now = now.Add(time.Hour)
		published := now
		if n, err = s.Publish(ctx, n.ID); err != nil || n.PublishedAt == nil || !n.PublishedAt.Equal(published) {
			t.Fatalf("publish: %+v %v", n, err)
		}
		now = now.Add(time.Hour)
		if _, err := s.Publish(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		edited := text
		edited.TitleEN = "About unauthorised access (updated)"
		if _, err := s.Update(ctx, n.ID, edited); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetPublished(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.PublishedAt.Equal(published) || !got.UpdatedAt.Equal(now) || got.TitleEN != edited.TitleEN {
			t.Fatalf("after the edit: %+v", got)
		}

		// A second, older-updated notice comes after the edited one.
		now = now.Add(time.Hour)
		second, _ := s.Create(ctx, text)
		s.Publish(ctx, second.ID)
		now = now.Add(time.Hour)
		s.Update(ctx, n.ID, text)
		pub, err := s.Published(ctx)
		if err != nil || len(pub) != 2 || pub[0].ID != n.ID || pub[1].ID != second.ID {
			t.Fatalf("published order: %v", err)
		}
		if all, err := s.List(ctx); err != nil || len(all) != 2 {
			t.Fatalf("list: %d %v", len(all), err)
		}

		for action, want := range map[string]int{audit.NoticeCreated: 2, audit.NoticeUpdated: 2, audit.NoticePublished: 2} {
			evs, err := s.Audit.List(ctx, audit.Filter{Action: action})
			if err != nil || len(evs) != want {
				t.Fatalf("%s: %d events, want %d (%v)", action, len(evs), want, err)
			}
			for _, ev := range evs {
				if ev.Actor != "staff:stf_resp" || (ev.Subject != n.ID && ev.Subject != second.ID) {
					t.Errorf("%s: %+v", action, ev)
				}
			}
		}
	})
}

func TestInvalidTextIsRefused(t *testing.T) {
	long := strings.Repeat("あ", publicnotice.MaxTitle+1)
	for name, change := range map[string]func(*publicnotice.Text){
		"empty title":      func(t *publicnotice.Text) { t.TitleJA = "" },
		"blank title":      func(t *publicnotice.Text) { t.TitleEN = "  " },
		"long title":       func(t *publicnotice.Text) { t.TitleJA = long },
		"empty body":       func(t *publicnotice.Text) { t.BodyEN = "" },
		"long body":        func(t *publicnotice.Text) { t.BodyJA = strings.Repeat("x", publicnotice.MaxBody+1) },
		"invalid UTF-8":    func(t *publicnotice.Text) { t.BodyJA = "a\xffb" },
		"control in body":  func(t *publicnotice.Text) { t.BodyEN = "bell\x07" },
		"newline in title": func(t *publicnotice.Text) { t.TitleEN = "two\nlines" },
		"escape in title":  func(t *publicnotice.Text) { t.TitleJA = "\x1b[31m" },
	} {
		tx := text
		change(&tx)
		if err := publicnotice.Validate(tx); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	ok := text
	ok.TitleJA = strings.Repeat("あ", publicnotice.MaxTitle)
	ok.BodyEN = "tab\tand\nnewline"
	if err := publicnotice.Validate(ok); err != nil {
		t.Errorf("valid text refused: %v", err)
	}
}

func TestUnknownNoticesAreNotFound(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		s := newService(t, dsn, &now)
		if _, err := s.Update(t.Context(), "ntc_nope", text); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("update: %v", err)
		}
		if _, err := s.Publish(t.Context(), "ntc_nope"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("publish: %v", err)
		}
	})
}
