package store

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/kakunin/kakunin"
	"github.com/kakunin/kakunin/internal/store/storetest"
)

// timelineCodes is migration 00014, which turns the English sentences the
// desk wrote into catalogue codes.
const timelineCodes = 14

func TestMigrationTurnsTheDesksEnglishTimelineIntoCodesAndLeavesTypedTextAlone(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		sqldb, dialect, err := OpenSQL(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer sqldb.Close()
		p, err := migrator(sqldb, dialect)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, timelineCodes-1); err != nil {
			t.Fatal(err)
		}
		q := Queries{q: sqldb}
		now := time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC)
		in := &kakunin.Incident{ID: "inc_1", Title: "t", DiscoveredAt: now, Status: kakunin.IncidentNotifying, CreatedBy: "cli", CreatedAt: now, UpdatedAt: now}
		if err := q.InsertIncident(ctx, in); err != nil {
			t.Fatal(err)
		}
		old := []string{
			"Incident opened.",
			"Status: investigating → identified.",
			"Preliminary report to the PPC made on 2026-11-25 14:05 JST.",
			"Final report to the PPC made on 2026-12-20 09:30 JST.",
			"Affected individuals notified on 2026-11-26 00:00 JST.",
			// Typed by people: kept as they are, even when close to the desk's.
			"Status: investigating → resolved.",
			"Incident opened. Told the CISO.",
			"Preliminary report to the PPC made on Monday.",
			"本人への通知を開始しました。",
		}
		for i, text := range old {
			_, err := sqldb.ExecContext(ctx, `INSERT INTO incident_updates (id, incident_id, at, actor, status, text) VALUES ($1, $2, $3, $4, $5, $6)`,
				"iup_"+string(rune('a'+i)), in.ID, micros(now.Add(time.Duration(-i)*time.Minute)), "cli", "notifying", text)
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := p.UpTo(ctx, timelineCodes); err != nil {
			t.Fatal(err)
		}
		got, err := q.IncidentUpdates(ctx, in.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			code string
			args map[string]string
		}{
			{"incident.timeline.opened", nil},
			{"incident.timeline.status", map[string]string{"From": "investigating", "To": "identified"}},
			{"incident.timeline.preliminary_reported", map[string]string{"At": "2026-11-25T14:05:00+09:00"}},
			{"incident.timeline.final_reported", map[string]string{"At": "2026-12-20T09:30:00+09:00"}},
			{"incident.timeline.individuals_notified", map[string]string{"At": "2026-11-26T00:00:00+09:00"}},
		}
		if len(got) != len(old) {
			t.Fatalf("%d entries after the migration, want %d", len(got), len(old))
		}
		for i, u := range got {
			if i < len(want) {
				if u.Code != want[i].code || !maps.Equal(u.Args, want[i].args) || u.Text != "" {
					t.Errorf("%q became code %q args %v text %q; want %q %v", old[i], u.Code, u.Args, u.Text, want[i].code, want[i].args)
				}
				continue
			}
			if u.Code != "" || u.Args != nil || u.Text != old[i] {
				t.Errorf("typed text %q became code %q args %v text %q", old[i], u.Code, u.Args, u.Text)
			}
		}

		// Down gives the sentences back, as they were.
		if _, err := p.DownTo(ctx, timelineCodes-1); err != nil {
			t.Fatal(err)
		}
		rows, err := sqldb.QueryContext(ctx, `SELECT text FROM incident_updates ORDER BY at DESC, id DESC`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		i := 0
		for rows.Next() {
			var text string
			if err := rows.Scan(&text); err != nil {
				t.Fatal(err)
			}
			if text != old[i] {
				t.Errorf("down: %q, want %q", text, old[i])
			}
			i++
		}
		if err := rows.Err(); err != nil || i != len(old) {
			t.Fatalf("down: %d rows, %v", i, err)
		}
	})
}
