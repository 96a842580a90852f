package incident_test

import (
	"context"
	"slices"
	"testing"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/incident"
	"github.com/kakunin/kakunin/internal/store"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// exposureOf answers MemberExposure for every fixture member.
func exposureOf(t *testing.T, db *store.DB, in *kakunin.Incident) map[string]*incident.Exposure {
	t.Helper()
	out := map[string]*incident.Exposure{}
	for _, ext := range []string{"alpha", "Bravo", "charlie", "_delta", "echo"} {
		m, err := db.MemberByExternalID(context.Background(), ext)
		must(t, err)
		ex, err := incident.MemberExposure(context.Background(), db, in, m.ID)
		must(t, err)
		out[ext] = ex
	}
	return out
}

func affectedOf(ex map[string]*incident.Exposure, readable bool) []string {
	list := []string{}
	for ext, e := range ex {
		for _, d := range e.Documents {
			if !readable || d.Readable {
				list = append(list, ext)
				break
			}
		}
		if e.Affected != (len(e.Documents) > 0) {
			panic("Affected disagrees with Documents")
		}
	}
	slices.Sort(list)
	return list
}

// The per-member answer must agree with the scope's member lists: the
// exposure check and the notification mail tell each member what the
// responder's scope counted.
func TestMemberExposureAgreesWithTheScope(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		fixture(t, db)
		for _, keys := range []bool{false, true} {
			in := &kakunin.Incident{ID: "inc_x", WindowFrom: from, WindowTo: to,
				Held: kakunin.IncidentHeld{Database: true, Blobs: true, Keys: keys}}
			ex := exposureOf(t, db, in)
			q := incident.Query{From: from, To: to, KeysExposed: keys}
			want := members(t, db, q, false)
			slices.Sort(want)
			if got := affectedOf(ex, false); !slices.Equal(got, want) {
				t.Errorf("keys=%v affected: got %v, scope lists %v", keys, got, want)
			}
			wantReadable := members(t, db, q, true)
			slices.Sort(wantReadable)
			if got := affectedOf(ex, true); !slices.Equal(got, wantReadable) {
				t.Errorf("keys=%v readable: got %v, scope lists %v", keys, got, wantReadable)
			}
		}
	})
}

func TestMemberExposureNamesTypeAndMonthInJapanTime(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		fixture(t, db)
		in := &kakunin.Incident{ID: "inc_x", WindowFrom: from, WindowTo: to,
			Held: kakunin.IncidentHeld{Database: true, Blobs: true}}
		ex := exposureOf(t, db, in)
		// alpha: d1 (from-5d), d9 (from-3d), d2 (from+1d), d10 (from+2d), oldest first.
		want := []incident.ExposedDocument{
			{Type: kakunin.DocDriversLicence, Month: "2026-11"},
			{Type: kakunin.DocHealthInsurance, Month: "2026-11"},
			{Type: kakunin.DocPassport, Month: "2026-11"},
			{Type: kakunin.DocMyNumberCard, Month: "2026-11"},
		}
		if !slices.Equal(ex["alpha"].Documents, want) {
			t.Errorf("alpha: got %+v, want %+v", ex["alpha"].Documents, want)
		}
		// Bravo's d3 was received 2026-10-22 (UTC and JST alike).
		if got := ex["Bravo"].Documents; len(got) != 1 || got[0].Month != "2026-10" || got[0].Type != kakunin.DocHealthInsurance {
			t.Errorf("Bravo: %+v", got)
		}
		if ex["echo"].Affected {
			t.Errorf("echo had nothing in the window: %+v", ex["echo"])
		}
	})
}

// An intruder with only a staff account saw exactly the images that
// account (or any staff account) opened in the window, readable; one
// without the blob store or a staff account reached no image.
func TestMemberExposureThroughAStaffAccountIsTheReadsOnly(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		fixture(t, db)
		in := &kakunin.Incident{ID: "inc_x", WindowFrom: from, WindowTo: to,
			Held: kakunin.IncidentHeld{StaffAccount: true}}
		ex := exposureOf(t, db, in)
		if got := affectedOf(ex, true); !slices.Equal(got, []string{"alpha", "charlie"}) {
			t.Errorf("readable through staff reads: %v, want alpha (d2, d9) and charlie (d4)", got)
		}
		var alpha []kakunin.DocumentType
		for _, d := range ex["alpha"].Documents {
			alpha = append(alpha, d.Type)
		}
		if !slices.Equal(alpha, []kakunin.DocumentType{kakunin.DocHealthInsurance, kakunin.DocPassport}) {
			t.Errorf("alpha through reads: %v, want d9 and d2", alpha)
		}

		dbOnly := &kakunin.Incident{ID: "inc_y", WindowFrom: from, WindowTo: to, Held: kakunin.IncidentHeld{Database: true, Keys: true}}
		if got := affectedOf(exposureOf(t, db, dbOnly), false); len(got) != 0 {
			t.Errorf("database and keys without the blob store reached images of %v", got)
		}
	})
}

func TestMemberExposureNeedsAWindow(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		db := openDB(t, dsn)
		_, err := incident.MemberExposure(context.Background(), db, &kakunin.Incident{ID: "inc_z"}, "mem_x")
		if kakunin.ErrorCode(err) != kakunin.ECONFLICT {
			t.Errorf("no window: %v, want a conflict", err)
		}
	})
}
