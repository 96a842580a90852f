package publicnotice_test

import (
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestAnUnpublishedNoticeIsADraftAgainAndOnlyDraftsAreDeleted(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		s := newService(t, dsn, &now)
		ctx := audit.WithActor(t.Context(), audit.StaffActor("stf_resp"))

		n, err := s.Create(ctx, text)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		// A published notice cannot be deleted.
		if err := s.Delete(ctx, n.ID); kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Fatalf("delete a published notice: %v", err)
		}
		if _, err := s.GetPublished(ctx, n.ID); err != nil {
			t.Fatalf("the refused delete changed the notice: %v", err)
		}

		now = now.Add(time.Hour)
		if n, err = s.Unpublish(ctx, n.ID); err != nil || n.PublishedAt != nil {
			t.Fatalf("unpublish: %+v %v", n, err)
		}
		if _, err := s.GetPublished(ctx, n.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("an unpublished notice is still public: %v", err)
		}
		if pub, _ := s.Published(ctx); len(pub) != 0 {
			t.Fatalf("%d published", len(pub))
		}
		// Unpublishing a draft changes nothing and is not audited.
		if _, err := s.Unpublish(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, n.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, n.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("a deleted draft is still there: %v", err)
		}
		if err := s.Delete(ctx, n.ID); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Fatalf("delete twice: %v", err)
		}
		for action, want := range map[string]int{audit.NoticeUnpublished: 1, audit.NoticeDeleted: 1} {
			evs, err := s.Audit.List(ctx, audit.Filter{Action: action})
			if err != nil || len(evs) != want || evs[0].Subject != n.ID || evs[0].Actor != "staff:stf_resp" {
				t.Fatalf("%s: %+v %v", action, evs, err)
			}
		}
	})
}

func TestANoticeIsLinkedOnlyToAnIncidentThatExists(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		s := newService(t, dsn, &now)
		ctx := t.Context()

		bad := text
		bad.IncidentID = "inc_nope"
		if _, err := s.Create(ctx, bad); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Fatalf("unknown incident: %v", err)
		}
		in := &kakunin.Incident{ID: kakunin.NewID("inc"), Title: "t", DiscoveredAt: now, Status: kakunin.IncidentInvestigating,
			CreatedBy: "cli", CreatedAt: now, UpdatedAt: now}
		if err := s.DB.WithTx(ctx, func(tx *store.Tx) error { return tx.InsertIncident(ctx, in) }); err != nil {
			t.Fatal(err)
		}
		good := text
		good.IncidentID = in.ID
		n, err := s.Create(ctx, good)
		if err != nil || n.IncidentID != in.ID {
			t.Fatalf("linked: %+v %v", n, err)
		}
		// Editing keeps or changes the link; an unknown one is refused and changes nothing.
		if _, err := s.Update(ctx, n.ID, bad); kakunin.ErrorCode(err) != kakunin.EINVALID {
			t.Fatalf("relink to an unknown incident: %v", err)
		}
		of, err := s.OfIncident(ctx, in.ID)
		if err != nil || len(of) != 1 || of[0].ID != n.ID {
			t.Fatalf("notices of the incident: %v %v", of, err)
		}
		if _, err := s.Update(ctx, n.ID, text); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, n.ID); got.IncidentID != "" {
			t.Fatalf("unlinking kept %q", got.IncidentID)
		}
	})
}
