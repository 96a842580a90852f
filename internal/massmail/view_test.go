package massmail_test

import (
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/audit"
	"github.com/kakunin/kakunin/internal/massmail"
	"github.com/kakunin/kakunin/internal/massmail/massmailtest"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

func TestTheViewSaysWhereACampaignStandsAndWhyItCannotStart(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		s := newSetup(t, dsn, members(2))
		ctx := audit.WithActor(t.Context(), "staff:stf_test")
		view := func() *massmail.View {
			t.Helper()
			v, err := s.svc.View(ctx, s.inc.ID)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		type want struct {
			previewed, started, live bool
			refusal                  massmail.Refusal
		}
		check := func(step string, v *massmail.View, w want) {
			t.Helper()
			got := want{previewed: v.Previewed, started: v.Progress != nil, live: v.Live, refusal: v.StartRefusal()}
			if got != w || !v.WindowKnown || v.Incident.ID != s.inc.ID {
				t.Errorf("%s: %+v (window known %v), want %+v", step, got, v.WindowKnown, w)
			}
		}

		v := view()
		if v.Campaign != nil || v.Text != massmail.DefaultText() {
			t.Errorf("no campaign yet: %+v, text %+v; want none and the default letter", v.Campaign, v.Text)
		}
		// The default letter waits for facts and words: it cannot start.
		check("no letter", v, want{refusal: massmail.RefusedPlaceholder})

		edited := massmailtest.Letter()
		edited.SubjectEN = "Changed"
		if _, err := s.svc.Save(ctx, s.inc.ID, edited); err != nil {
			t.Fatal(err)
		}
		if v := view(); v.Text != edited {
			t.Errorf("saved letter shown as %+v", v.Text)
		}
		check("saved", view(), want{refusal: massmail.RefusedNotPreviewed})
		if _, err := s.svc.Preview(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		check("previewed", view(), want{previewed: true})
		s.env.Clock.Add(time.Second)
		if _, err := s.svc.Save(ctx, s.inc.ID, massmailtest.Letter()); err != nil {
			t.Fatal(err)
		}
		check("edited after the preview", view(), want{refusal: massmail.RefusedNotPreviewed})

		if _, err := s.svc.Preview(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.svc.Start(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		check("started", view(), want{previewed: true, started: true, live: true, refusal: massmail.RefusedStarted})
		if err := s.svc.Pause(ctx, s.inc.ID); err != nil {
			t.Fatal(err)
		}
		check("paused, its rows still to be written", view(), want{previewed: true, started: true, live: true, refusal: massmail.RefusedStarted})
		if _, err := s.sender.EnqueueOnce(ctx); err != nil {
			t.Fatal(err)
		}
		check("paused, its rows written", view(), want{previewed: true, started: true, refusal: massmail.RefusedStarted})
	})
}

func TestAnIncidentWithoutAWindowCannotStartItsCampaign(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		s := newSetup(t, dsn, members(1))
		ctx := t.Context()
		in := *s.inc
		in.ID, in.WindowFrom, in.WindowTo, in.Status = kakunin.NewID("inc"), time.Time{}, time.Time{}, kakunin.IncidentInvestigating
		if err := s.env.DB.InsertIncident(ctx, &in); err != nil {
			t.Fatal(err)
		}
		v, err := s.svc.View(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.WindowKnown || v.StartRefusal() != massmail.RefusedNoWindow {
			t.Errorf("window known %v, refusal %q; want %q", v.WindowKnown, v.StartRefusal(), massmail.RefusedNoWindow)
		}
		if _, err := s.svc.View(ctx, "inc_nope"); kakunin.ErrorCode(err) != kakunin.ENOTFOUND {
			t.Errorf("view of an unknown incident: %v", err)
		}
	})
}
